"""Commit and tag objects: header parsing, and the one ``git log --raw`` walk of history.

``parse_commit`` / ``parse_tag`` read raw objects (as ``cat-file`` gives them);
``message_start`` says where an object's message begins; ``searched_text`` is
what a scan reads of one (message, trailers, author/committer/tagger names and
e-mails) and ``header_of_line`` which identity header a hit line fell in. ``Log`` is one
``git log -c --raw -z`` pass: commits, their parents, and for each blob the
earliest commit that brought it to each path (merge resolutions included, via
the combined diff).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from pathlib import Path

from keyguard.git.run import decode_path, is_null_id, output

_GITLINK = b"160000"


def _iso(ts: bytes, tz: bytes) -> str:
    try:
        sign = -1 if tz.startswith(b"-") else 1
        off = _dt.timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5])) * sign
        return _dt.datetime.fromtimestamp(int(ts), _dt.timezone(off)).isoformat()
    except (ValueError, OverflowError, OSError):
        return ""


def person(value: bytes) -> tuple[str, str]:
    """``Name <email>`` and ISO date from an ``author``/``committer``/``tagger`` header value."""
    head, _, rest = value.rpartition(b">")
    parts = rest.split()
    who = (head + b">").decode("utf-8", "replace").strip() if head else value.decode("utf-8", "replace")
    return who, _iso(parts[0], parts[1]) if len(parts) >= 2 else ""


def headers(raw: bytes) -> dict[bytes, bytes]:
    """The first value of each header of a commit or tag object."""
    out: dict[bytes, bytes] = {}
    for line in raw.split(b"\n"):
        if not line:
            break
        if line[:1] != b" ":
            k, _, v = line.partition(b" ")
            out.setdefault(k, v)
    return out


def message_start(raw: bytes) -> int:
    """Offset of the message in a commit or tag object (``len(raw)`` when there is none)."""
    cut = raw.find(b"\n\n")
    return cut + 2 if cut >= 0 else len(raw)


def message(kind: str, raw: bytes) -> bytes:
    """The message of a commit or tag object (a tag's signature left out)."""
    body = raw[message_start(raw):]
    if kind == "tag":
        sig = body.find(b"-----BEGIN PGP SIGNATURE-----")
        body = body[:sig] if sig >= 0 else body
    return body


IDENTITY_HEADERS = {"commit": (b"author", b"committer"), "tag": (b"tagger",)}
"""The headers naming people (name and e-mail) that are searched with the message."""


def searched_text(kind: str, raw: bytes) -> bytes:
    """What is searched in a commit or tag object: its message (trailers such as
    ``Signed-off-by:`` are its last lines), then one line per identity header
    (``author``/``committer``, ``tagger``: the ``Name <email>`` part)."""
    body = message(kind, raw)
    idents = identity_lines(kind, raw)
    if not idents:
        return body
    if body and not body.endswith(b"\n"):
        body += b"\n"
    return body + b"\n".join(v for _, v in idents) + b"\n"


def identity_lines(kind: str, raw: bytes) -> list[tuple[str, bytes]]:
    """``(header, "Name <email>")`` of the identity headers of a commit or tag object, in order."""
    h = headers(raw)
    out = []
    for name in IDENTITY_HEADERS.get(kind, ()):
        value = h.get(name)
        if value is not None:
            out.append((name.decode(), value.rpartition(b">")[0] + b">" if b">" in value else value))
    return out


def header_of_line(kind: str, raw: bytes, line: int) -> str | None:
    """The identity header (``author``, ``committer``, ``tagger``) line ``line`` of
    ``searched_text`` falls in, or None when it is in the message."""
    body = message(kind, raw)
    n = body.count(b"\n") + (1 if body and not body.endswith(b"\n") else 0)
    idents = identity_lines(kind, raw)
    k = line - n - 1
    return idents[k][0] if 0 <= k < len(idents) else None


def parse_commit(raw: bytes) -> tuple[str, str]:
    """Author ``Name <email>`` and ISO author date of a raw commit object."""
    author = headers(raw).get(b"author")
    return person(author) if author else ("", "")


def parse_tag(raw: bytes) -> tuple[str, str, str, str]:
    """Target id, tag name, tagger and ISO date of a raw tag object."""
    h = headers(raw)
    who, date = person(h[b"tagger"]) if b"tagger" in h else ("", "")
    return (h.get(b"object", b"").decode("ascii", "replace"), h.get(b"tag", b"").decode("utf-8", "replace"),
            who, date)


@dataclasses.dataclass
class Intro:
    """The earliest commit seen introducing a blob at a path."""

    time: int
    commit: str
    old: tuple[str, ...]
    """The blob ids the parents had at that path (empty when added)."""


class Log:
    """One ``git log -c --raw`` pass: commits, their parents, and where blobs were introduced.

    ``revs`` select the commits (``--all``, ranges, plain ids); ``targets`` the
    blob ids to attribute (None: every introduced blob, as range scans need).
    """

    def __init__(self, revs: list[str], targets: set[str] | None, names: set[str] | None = None):
        self.revs = revs
        self.targets = targets
        self.names = [n.encode() for n in names or ()]
        """Values to look for in paths: each path holding one is recorded in ``named``."""
        self.named: dict[str, Intro] = {}
        """Path -> the earliest commit that added a file at that path (paths holding one of ``names``)."""
        self.commits: set[str] = set()
        self.parents: dict[str, tuple[str, ...]] = {}
        self.intros: dict[str, dict[str, Intro]] = {}
        self.removals: dict[tuple[str, str], list[str]] = {}
        """(blob, path) -> commits that replaced or deleted that blob at that path by one without it
        (only for ``targets``)."""

    def run(self, cwd: str | Path, stdin: list[str] | None = None) -> "Log":
        """Walk the history once and record it (``stdin``: more commits to walk from)."""
        args = ["log", *self.revs, "-c", "--raw", "-z", "--no-abbrev", "--no-renames", "--root",
                "--no-ext-diff", "--no-textconv", "--no-show-signature", "--format=%x01%H %ct %P"]
        if stdin is not None:
            args.append("--stdin")
        args.append("--")
        out = output(args, cwd, input=("".join(f"{c}\n" for c in stdin).encode() if stdin is not None else None))
        targets = self.targets
        commit, ctime = "", 0
        toks = out.split(b"\0")
        i, n = 0, len(toks)
        while i < n:
            tok = toks[i]
            i += 1
            if tok[:1] == b"\n":
                tok = tok.lstrip(b"\n")
            if not tok:
                continue
            if tok[0] == 1:  # \x01 commit header
                fields = tok[1:].decode().split(" ")
                commit, ctime = fields[0], int(fields[1] or 0)
                self.commits.add(commit)
                self.parents[commit] = tuple(fields[2:])
                continue
            if tok[0] != 58:  # ':'
                continue
            path = toks[i]
            i += 1
            colons = len(tok) - len(tok.lstrip(b":"))
            meta = tok[colons:].split(b" ")
            modes = meta[:colons + 1]
            oids = meta[colons + 1:2 * colons + 2]
            new = oids[-1].decode()
            if self.names and any(n in path for n in self.names) and not is_null_id(new):
                spath = decode_path(path)
                prev = self.named.get(spath)
                if prev is None or ctime < prev.time:
                    self.named[spath] = Intro(ctime, commit, (new,))
            if targets is not None and new not in targets:
                if colons == 1 and targets:  # a target replaced or deleted (merges: not a removal)
                    old = oids[0].decode()
                    if old in targets:
                        self.removals.setdefault((old, decode_path(path)), []).append(commit)
                continue
            if is_null_id(new) or modes[-1] == _GITLINK or modes[-1] == b"000000":
                continue
            spath = decode_path(path)
            per_path = self.intros.setdefault(new, {})
            prev = per_path.get(spath)
            if prev is None or ctime < prev.time:
                old = tuple(o.decode() for o in oids[:-1] if not is_null_id(o))
                per_path[spath] = Intro(ctime, commit, old)
        return self

    def range_objects(self) -> list[str]:
        """Every commit and introduced blob of the walk (range scans)."""
        return [*self.commits, *self.intros]

    def range_paths(self) -> dict[str, tuple[Intro, str]]:
        """Every path a file was added or changed at in the walk: ``path -> (earliest intro, blob)``
        (range scans look for keys in file and folder names through these)."""
        out: dict[str, tuple[Intro, str]] = {}
        for blob_id, per_path in self.intros.items():
            for path, intro in per_path.items():
                prev = out.get(path)
                if prev is None or intro.time < prev[0].time:
                    out[path] = (intro, blob_id)
        return out


def tree_entries(raw: bytes, id_len: int) -> list[tuple[bytes, bytes, bytes]]:
    """``(name, mode, raw id)`` of each entry of a raw tree object (ids are ``id_len`` bytes:
    20 for SHA-1, 32 for SHA-256)."""
    out, pos, n = [], 0, len(raw)
    while pos < n:
        nul = raw.find(b"\0", pos)
        if nul < 0:
            break
        mode, _, name = raw[pos:nul].partition(b" ")
        out.append((name, mode, raw[nul + 1:nul + 1 + id_len]))
        pos = nul + 1 + id_len
    return out
