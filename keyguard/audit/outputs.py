"""Where ``keyguard audit`` writes its reports when not told: a folder that ignores itself.

The defaults are ``keyguard-audit/audit.sarif``, ``audit.json`` and
``audit.md`` under the current directory. When keyguard creates that folder it
puts a ``.gitignore`` holding ``*`` in it (as pytest does for its cache), so
``git add -A`` does not commit the reports and keyguard's own work-tree scan,
which lists files through git, does not read them again. A report written
elsewhere inside a repository is recognised by its content instead
(``keyguard.sources.own_reports``).
"""

from __future__ import annotations

from pathlib import Path

DIR = "keyguard-audit"
"""The default folder of the audit's reports."""
SARIF = f"{DIR}/audit.sarif"
JSON = f"{DIR}/audit.json"
MARKDOWN = f"{DIR}/audit.md"
IGNORE_ALL = "# written by keyguard audit: its reports are not part of the repository\n*\n"


def prepare(path: str) -> None:
    """Create the default report folder (self-ignoring) when ``path`` is in it and it does not exist."""
    folder = Path(path).parent
    if folder.name != DIR or folder.exists():
        return
    from keyguard.atomic import write_atomic

    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / ".gitignore", IGNORE_ALL)
