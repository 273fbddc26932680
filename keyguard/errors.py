"""Error types that carry a user-facing, one-line message and an exit code.

Anything that should stop keyguard with a clear message raises a subclass of
``KeyguardError``; ``keyguard.cli`` prints ``keyguard: <message>`` on stderr and
exits with ``exit_code``. No secret may ever be put into a message.
"""

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_LIVE = 3  # a finding was verified live against the FluxLoop API
EXIT_INCOMPLETE = 4  # the audit could not check everything it was asked to (a repository failed)
EXIT_INTERRUPTED = 130


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
