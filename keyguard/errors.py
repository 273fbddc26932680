"""Exit codes, the one rule that picks a run's exit code, and the error types.

Anything that should stop keyguard with a clear message raises a subclass of
``KeyguardError``; ``keyguard.cli`` prints ``keyguard: <message>`` on stderr and
exits with ``exit_code``. No secret may ever be put into a message (values a
user typed go through ``keyguard.redact.shown_value`` first).
"""

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_LIVE = 3  # a finding was verified live against the FluxLoop API and is not revoked
EXIT_INCOMPLETE = 4  # a step the run was asked for could not be done (credential rejected, 403, API down; audit --repos: a repository could not be audited)
EXIT_PARTIAL = 5  # an action was taken (a key revoked), then something failed: partly done
EXIT_INTERRUPTED = 130  # SIGINT (Ctrl-C)
EXIT_TERMINATED = 143  # SIGTERM


def exit_code(findings=(), fail_on=None, *, hygiene=(), fail_on_hygiene=None, incomplete: bool = False) -> int:
    """The one rule for scan and audit: the most urgent of, in order,

    3 a found key is verified live and was not switched off; 4 a step that was
    asked for could not be done (``incomplete``); 1 a finding at or above
    ``fail_on`` or a hygiene finding at or above ``fail_on_hygiene`` (None: hygiene
    never fails); else 0. ``fail_on``/``fail_on_hygiene`` are ``Severity`` values.
    """
    if any(f.verification is not None and f.verification.status == "live" and
           not (f.revocation is not None and f.revocation.off) for f in findings):
        return EXIT_LIVE
    if incomplete:
        return EXIT_INCOMPLETE
    if fail_on is not None and any(f.severity.rank >= fail_on.rank for f in findings):
        return EXIT_FINDINGS
    if fail_on_hygiene is not None and any(h.severity.rank >= fail_on_hygiene.rank for h in hygiene):
        return EXIT_FINDINGS
    return EXIT_CLEAN


class KeyguardError(Exception):
    """Base of all expected failures: its text is shown to the user as is."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(KeyguardError):
    """The command line asks for something impossible."""


class ConfigError(KeyguardError):
    """A config file is malformed; the message names the file and the key."""


class RuleError(KeyguardError):
    """A rule file is malformed or a regex does not compile; names file and rule."""


class GitError(KeyguardError):
    """A git command failed or the directory is not what was expected."""


class ApiError(KeyguardError):
    """The FluxLoop API could not be used (credential, permission, network)."""


class CredentialError(ApiError):
    """The operator credential is missing, unreadable or rejected."""


class PartlyDone(KeyguardError):
    """An action was taken (say, a key revoked) and then the run failed; the message says what was done."""

    exit_code = EXIT_PARTIAL
    findings: list = []
    """The findings as they stand after the action (for reports written despite the failure)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: unwinds like Ctrl-C (children stopped, temp files removed), exit 143."""
