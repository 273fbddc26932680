"""Organisation audits: ``keyguard audit --repos FILE [--shard I/N]``.

One job of a CI matrix audits its slice of a list of repositories:

- the list holds one clone URL or local path per line (``#`` comments and
  blank lines allowed); each entry gets a *name* (``host/owner/repo`` for URLs,
  the absolute path for local repositories; credentials, ``.git`` and case of
  the host dropped) that identifies it from night to night;
- ``--shard I/N`` keeps the entries whose name hashes (sha256, first 8 bytes)
  to ``I-1`` modulo ``N``: a repository stays in the same shard as the list
  grows, so each matrix job keeps its mirrors and caches;
- each repository has a folder in ``--mirror-cache`` holding a bare mirror
  (``mirror.git``, fetched incrementally) and its audit cache (``audit/``);
  the folder must not be inside a git work tree (content someone can commit
  must never be able to forge a cache, issue 14.3);
- each repository is audited like ``keyguard audit`` does (history, verify,
  reports), with the policy of *this* audit (``--config``, ``--rules``,
  ``--baseline``, ``--fail-on``), never a ``.keyguard.toml``/``pyproject.toml``
  of the audited repository;
- reports go to ``--out DIR``: ``<slug>.json`` (with a ``repository`` object:
  name, status, error, fetch counts), ``<slug>.sarif`` and ``<slug>.md``;
  ``keyguard report merge`` combines the JSON files of all shards;
- a repository that cannot be audited (unreachable, corrupt, empty) gets a JSON
  report saying so, and the others still run.

Exit codes (``keyguard.errors``): 3 a live key left unrevoked; 4 incomplete: one
or more repositories could not be audited, or a step asked for (verification)
could not be done in one (status ``incomplete``); 1 findings at ``--fail-on``; 0 clean.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from keyguard.errors import EXIT_CLEAN, EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_LIVE, KeyguardError, UsageError

from keyguard.report.merge import FAILED as STATUS_FAILED  # statuses of repositories not audited


@dataclass(frozen=True)
class RepoEntry:
    """One line of the repository list."""

    url: str
    """What git clones: the URL or the absolute local path."""
    name: str
    """Stable identity (``host/owner/repo`` or the absolute path)."""

    @property
    def slug(self) -> str:
        """A file-name-safe, unique form of the name (folder and report names)."""
        readable = re.sub(r"[^A-Za-z0-9._-]+", "-", self.name).strip("-.")[-60:] or "repo"
        return f"{readable}-{hashlib.sha256(self.name.encode()).hexdigest()[:8]}"


def add_org_options(p: argparse.ArgumentParser) -> None:
    """``audit``'s organisation options."""
    org = p.add_argument_group("organisation audit")
    org.add_argument("--repos", metavar="FILE",
                     help="audit every repository listed in FILE (one clone URL or path per line)")
    org.add_argument("--shard", metavar="I/N", type=parse_shard,
                     help="with --repos: audit only slice I of N (1-based; stable by repository name)")
    org.add_argument("--mirror-cache", metavar="DIR",
                     help="with --repos: folder for the mirrors and audit caches "
                          "(default: $XDG_CACHE_HOME/keyguard/mirrors; never inside a git work tree)")
    org.add_argument("--out", metavar="DIR", default="keyguard-reports",
                     help="with --repos: folder for the per-repository reports (default: keyguard-reports)")


def parse_shard(text: str) -> tuple[int, int]:
    """argparse type for ``I/N`` with 1 <= I <= N."""
    m = re.fullmatch(r"\s*(\d{1,6})\s*/\s*(\d{1,6})\s*", text or "")
    if not m or not (1 <= int(m.group(1)) <= int(m.group(2))):
        raise argparse.ArgumentTypeError(f"{text!r}: expected I/N with 1 <= I <= N, e.g. 2/4")
    return int(m.group(1)), int(m.group(2))


def normalise_name(entry: str, base: Path) -> tuple[str, str]:
    """``(url to clone, stable name)`` of one list entry."""
    text = entry.strip()
    m = re.fullmatch(r"([a-zA-Z][a-zA-Z0-9+.-]*)://(?:[^/@]*@)?([^/]+)(/.*)?", text)
    if m and m.group(1).lower() != "file":
        host, path = m.group(2).lower(), (m.group(3) or "/")
        return text, _trim(f"{host}{path}")
    m = re.fullmatch(r"(?:[^@/:\s]+@)?([^/:\s]+):(?!/)(.+)", text)  # scp-like: git@host:org/repo.git
    if m and not os.path.exists(text):
        return text, _trim(f"{m.group(1).lower()}/{m.group(2)}")
    if text.startswith("file://"):
        text = text[len("file://"):]
    path = Path(text).expanduser()
    path = path if path.is_absolute() else base / path
    resolved = os.path.normpath(str(path))
    return resolved, _trim(resolved)


def _trim(name: str) -> str:
    name = name.rstrip("/")
    return name[:-4] if name.endswith(".git") else name


def read_repo_list(path: str | Path) -> list[RepoEntry]:
    """The entries of the list file, in order, without duplicates; ``UsageError`` if unreadable."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--repos {path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"--repos {path}: not UTF-8 text") from None
    entries, seen = [], set()
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        url, name = normalise_name(line, p.resolve().parent)
        if name not in seen:
            seen.add(name)
            entries.append(RepoEntry(url=url, name=name))
    return entries


def in_shard(name: str, shard: tuple[int, int] | None) -> bool:
    """Whether the repository ``name`` belongs to ``shard`` (I, N); all do without a shard."""
    if shard is None:
        return True
    index, count = shard
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % count == index - 1


def mirror_cache_dir(args) -> Path:
    """The mirror cache folder; a ``UsageError`` when it is a symlink or inside a git work tree."""
    from keyguard.git import repo as grepo

    if args.mirror_cache:
        d = Path(args.mirror_cache)
    else:
        d = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "keyguard" / "mirrors"
    if d.is_symlink():
        raise UsageError(f"--mirror-cache {d}: is a symlink; give the real folder")
    probe = d.absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if probe.is_dir() and grepo.find_root(probe) is not None:
        raise UsageError(f"--mirror-cache {d}: inside a git work tree; keep caches outside any checkout "
                         f"(e.g. $RUNNER_TEMP or ~/.cache)")
    d.mkdir(parents=True, exist_ok=True)
    return d.resolve()


def run_org(args: argparse.Namespace, audit_one) -> int:
    """Audit the listed repositories of this shard; write their reports; return the exit code.

    ``audit_one(namespace) -> exit code`` audits one repository (``keyguard audit``'s own
    run, handed in by the command so this library module imports no command).
    """
    from keyguard.errors import GitError

    if not args.repos:
        raise UsageError("--shard goes with --repos")
    if args.repo:
        raise UsageError("--repos and --repo do not go together")
    entries = [e for e in read_repo_list(args.repos) if in_shard(e.name, args.shard)]
    cache = mirror_cache_dir(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = str(Path(args.config).resolve()) if args.config else None  # this audit's policy only
    if config is not None and not Path(config).is_file():
        raise UsageError(f"--config {args.config}: file not found")
    baseline = str(Path(args.baseline).resolve()) if args.baseline else None

    codes = []
    for entry in entries:
        home = cache / entry.slug
        paths = {fmt: out / f"{entry.slug}.{ext}" for fmt, ext in
                 (("json", "json"), ("sarif", "sarif"), ("markdown", "md"))}
        info = {"name": entry.name, "status": "ok", "error": "", "fetch": {}}
        try:
            from keyguard.git.mirror import refs_state, update_mirror
            mirror = home / "mirror.git"
            info["fetch"] = update_mirror(entry.url, mirror)
            if info["fetch"].get("replaced"):
                import shutil
                shutil.rmtree(home / "audit", ignore_errors=True)  # its cache belonged to the broken mirror
            if not refs_state(mirror):
                info.update(status="empty", error="the repository has no branches or tags")
        except GitError as exc:
            info.update(status="unreachable", error=str(exc))
        if info["status"] == "ok":
            ns = argparse.Namespace(**vars(args))
            ns.repo, ns.repos, ns.shard = str(mirror), None, None
            ns.cache, ns.no_cache = str(home / "audit"), False
            ns.json, ns.sarif, ns.markdown = (str(paths[k]) for k in ("json", "sarif", "markdown"))
            ns.baseline, ns.no_baseline = baseline, baseline is None
            ns.no_hygiene, ns.quiet = True, True
            # the policy of this audit, never the audited repository's own config or baseline (issue 14.3)
            ns.config, ns.no_repo_config = config, True
            ns.step_summary, ns.print_text = False, False
            try:
                code = audit_one(ns)
                info["status"] = {EXIT_CLEAN: "clean", EXIT_FINDINGS: "findings", EXIT_LIVE: "live",
                                  EXIT_INCOMPLETE: "incomplete"}.get(code, "findings")
            except KeyguardError as exc:
                info.update(status="failed", error=str(exc))
                from keyguard.git.mirror import mirror_readable
                if not mirror_readable(mirror):  # corrupt: the next night clones afresh
                    import shutil
                    shutil.rmtree(home, ignore_errors=True)
                    info["error"] += " (the cached mirror was corrupt and is dropped)"
            except Exception as exc:  # noqa: BLE001 - one repository must not stop the others
                info.update(status="failed", error=f"internal error: {type(exc).__name__}")
        _finish_report(paths, info, entry)
        codes.append(info["status"])
        if not args.quiet:
            print(_line(entry, info, paths["json"]), file=sys.stderr)
    if not args.quiet:
        failed = sum(1 for s in codes if s in STATUS_FAILED)
        print(f"keyguard audit: {len(codes)} repositories audited"
              f"{f' (shard {args.shard[0]}/{args.shard[1]})' if args.shard else ''}, "
              f"{failed} could not be audited; reports in {out}", file=sys.stderr)
    if "live" in codes:
        return EXIT_LIVE
    if any(s in STATUS_FAILED or s == "incomplete" for s in codes):
        return EXIT_INCOMPLETE
    if "findings" in codes:
        return EXIT_FINDINGS
    return EXIT_CLEAN


def _finish_report(paths: dict[str, Path], info: dict, entry: RepoEntry) -> None:
    """Add the ``repository`` object to the JSON report (write one for a failed repository)."""
    from keyguard.atomic import write_atomic
    from keyguard.model import ScanReport
    from keyguard.report import json as json_report

    warnings = [f"{entry.name}: {info['fetch']['replaced']}"] if info["fetch"].get("replaced") else []
    if info["status"] in STATUS_FAILED:
        for p in paths.values():
            p.unlink(missing_ok=True)  # never leave last night's reports looking current
        report = ScanReport(kind="audit", warnings=[f"{entry.name}: not audited: {info['error']}"])
        doc = json_report.to_dict(report)
    else:
        doc = json.loads(paths["json"].read_text(encoding="utf-8"))
    doc["warnings"] = warnings + doc.get("warnings", [])
    doc["repository"] = info
    write_atomic(paths["json"], json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def _line(entry: RepoEntry, info: dict, json_path: Path) -> str:
    if info["status"] in STATUS_FAILED:
        return f"keyguard audit: {entry.name}: {info['status']}: {info['error']}"
    doc = json.loads(json_path.read_text(encoding="utf-8"))
    stats = doc.get("stats", {})
    fetch = info["fetch"]
    how = "cloned" if fetch.get("cloned") else f"{fetch.get('refs_updated', 0)} refs updated"
    return (f"keyguard audit: {entry.name}: {doc['summary']['findings']} findings; "
            f"{stats.get('blobs', 0)} blobs scanned, {stats.get('cached', 0)} known clean; {how}")
