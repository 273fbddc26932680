"""The policy a run applied, and where each part came from (issue 14, point 3).

A scanned repository can carry its own ``.keyguard.toml``; a committed
``exclude = ["**"]`` would make a CI audit pass with a key in history. So every
report states the policy it applied (config file, excludes, allows, fail-on,
baseline, each with its origin: the command line, which config file, or the
default), a run warns when the excludes cover most of the repository's files,
and ``--no-repo-config`` makes a run ignore the repository's own config and
baseline (the pre-receive hook and organisation audits take policy from the
server or the audit's own ``--config FILE``).

``describe`` builds the statement (a flat ``{name: text}`` mapping kept on
``ScanReport.policy``); ``exclude_warning`` checks the coverage.
"""

from __future__ import annotations

from pathlib import Path

MOST = 0.5
"""Excludes covering more than this share of the tracked files are warned about."""


def _origin(path) -> str:
    return f"from {path}"


def describe(args, config, root, baseline_path: str | None) -> dict[str, str]:
    """What the run applies and where each part came from (``args``: the parsed command line)."""
    src = config.source
    ignored = getattr(args, "no_repo_config", False) and not getattr(args, "config", None)
    if src is not None:
        cfg = f"{src} ({'--config' if getattr(args, 'config', None) else 'found in the repository'})"
    else:
        cfg = "ignored (--no-repo-config)" if ignored else "none"
    out = {"config": cfg}
    out["exclude"] = (f"{', '.join(config.exclude)} ({_origin(src)})" if config.exclude else "none")
    out["allow"] = (f"{len(config.allow)} fingerprint{'s' if len(config.allow) != 1 else ''} ({_origin(src)})"
                    if config.allow else "none")
    cli_fail = getattr(args, "fail_on", None)
    if cli_fail is not None:
        out["fail-on"] = f"{cli_fail.value} (from --fail-on)"
    elif src is not None and config.fail_on != "low":
        out["fail-on"] = f"{config.fail_on} ({_origin(src)})"
    else:
        out["fail-on"] = f"{config.fail_on} (default)"
    if baseline_path is None:
        out["baseline"] = "none"
    else:
        how = ("--baseline" if getattr(args, "baseline", None)
               else _origin(src) if src is not None and config.baseline != ".keyguard-baseline.json"
               else "default")
        out["baseline"] = f"{baseline_path} ({how})"
    from keyguard.redact import scrub_all  # an exclude or path the user typed may be a key
    return {k: scrub_all(v) for k, v in out.items()}


def exclude_warning(root: Path | None, exclude) -> str | None:
    """A warning when ``exclude`` matches most of the files git tracks in ``root`` (None if not)."""
    if not exclude or root is None:
        return None
    from keyguard.errors import GitError
    from keyguard.redact import scrub_all
    from keyguard.scan import path_excluded
    from keyguard.git import run as grun

    try:
        files = grun.zsplit(grun.output(["ls-files", "-z"], root))
    except GitError:  # a bare repository: judge by HEAD's tree
        try:
            files = grun.zsplit(grun.output(["ls-tree", "-r", "-z", "--name-only", "HEAD"], root))
        except GitError:
            return None
    if not files:
        return None
    hidden = sum(1 for f in files if path_excluded(f, exclude))
    if hidden > MOST * len(files):
        return (f"the config's exclude patterns cover {hidden} of {len(files)} tracked files: "
                f"most of the repository is not checked (patterns: {scrub_all(', '.join(exclude))[:200]})")
    return None
