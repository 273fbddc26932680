"""Reading and listing git objects.

Readers: ``CatFile`` (a persistent ``git cat-file --batch`` asked one id at a
time), ``batch_stream`` (one ``cat-file --batch --buffer`` fed a whole id list,
for bulk reads), ``BatchReader`` (parses a ``--batch`` stream object by object)
and ``all_objects`` (every object of the store as ``(id, type, chunks)``).

Listing: ``list_objects`` (every object with type and size, pack order),
``sizes`` (type and size of given ids), ``stash_commits`` (the stash reflog),
``reflog_commits`` (every reflog's commits) and ``unreachable`` (what no ref
reaches, from ``git fsck``).

Only the standard library is imported (``CatFile`` is on the pre-commit path).
"""

from __future__ import annotations

from pathlib import Path

from keyguard.errors import GitError
from keyguard.git.run import first_line, git_env, output, popen, run, set_pipe_size

TYPE_CHECKING = False  # typing is not imported on the pre-commit path
if TYPE_CHECKING:
    import subprocess
    from typing import IO, Iterator, Sequence

CHUNK = 1 << 20
"""Bytes read from the pipe at a time when an object is read in pieces (callers may ask for more)."""

Entry = tuple  # (oid: str, type: str, size: int)


class BatchReader:
    """Parses ``git cat-file --batch`` output from a binary stream, object by object."""

    def __init__(self, stream: IO[bytes]):
        self.stream = stream

    def header(self) -> tuple[str, str, int] | None:
        """The next ``(id, type, size)``; type ``missing`` (size -1) for unknown ids; None at EOF."""
        line = self.stream.readline()
        if not line:
            return None
        parts = line.split()
        if len(parts) == 2 and parts[1] in (b"missing", b"ambiguous"):
            return parts[0].decode("ascii", "replace"), parts[1].decode(), -1
        if len(parts) != 3:
            raise GitError(f"git cat-file: unexpected output {line[:60]!r}")
        return parts[0].decode("ascii"), parts[1].decode("ascii"), int(parts[2])

    def body(self, size: int) -> bytes:
        """The whole content of the current object (and its trailing newline)."""
        data = self.stream.read(size + 1)
        if len(data) != size + 1:
            raise GitError("git cat-file: output ended early")
        return data[:size]

    def chunks(self, size: int, chunk: int = CHUNK) -> Iterator[bytes]:
        """The content of the current object in pieces of at most ``chunk`` bytes.

        The caller must consume the iterator fully before reading the next header.
        """
        left = size
        while left > 0:
            data = self.stream.read(min(chunk, left))
            if not data:
                raise GitError("git cat-file: output ended early")
            left -= len(data)
            yield data
        self.stream.read(1)

    def skip(self, size: int) -> None:
        """Discard the content of the current object."""
        for _ in self.chunks(size):
            pass


class CatFile:
    """A persistent ``git cat-file --batch`` process for reading objects by id, one at a time."""

    def __init__(self, cwd: str | Path, env: dict[str, str] | None = None):
        import subprocess  # here: a clean pre-commit run never starts cat-file nor imports subprocess

        self.proc = popen(["cat-file", "--batch"], cwd, stdin=subprocess.PIPE, env=env or git_env())
        self.reader = BatchReader(self.proc.stdout)

    def _ask(self, oid: str) -> tuple[str, int]:
        if not oid or any(c in oid for c in " \n"):
            raise GitError(f"not an object id: {oid!r}")
        try:
            self.proc.stdin.write(oid.encode("ascii") + b"\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise GitError("git cat-file stopped unexpectedly") from None
        head = self.reader.header()
        if head is None:
            raise GitError("git cat-file stopped unexpectedly")
        return head[1], head[2]

    def read(self, oid: str) -> tuple[str, bytes] | None:
        """``(type, content)`` of the object ``oid``, or None if it does not exist."""
        kind, size = self._ask(oid)
        if size < 0:
            return None
        return kind, self.reader.body(size)

    def open(self, oid: str) -> tuple[str, int] | None:
        """Start reading ``oid``: ``(type, size)``; then call ``reader.body``/``chunks``/``skip``."""
        kind, size = self._ask(oid)
        return None if size < 0 else (kind, size)

    def close(self) -> None:
        """Stop the git process."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            self.proc.wait()
        self.proc.stdout.close()

    def __enter__(self) -> "CatFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def batch_stream(cwd: str | Path, oids: Sequence[str]) -> subprocess.Popen:
    """A ``git cat-file --batch --buffer`` reading ``oids`` (in that order) from a temp file.

    The caller reads ``proc.stdout`` (pipe grown to 1 MiB), then closes it and waits.
    """
    import tempfile  # not at the top: the pre-commit path never needs it

    with tempfile.TemporaryFile() as ids:
        ids.write("".join(f"{o}\n" for o in oids).encode())
        ids.seek(0)
        proc = popen(["cat-file", "--batch", "--buffer"], cwd, stdin=ids, bufsize=1 << 16)
    set_pipe_size(proc.stdout.fileno())
    return proc


_TYPES = {k: k.decode() for k in (b"blob", b"commit", b"tag", b"tree")}


def list_objects(cwd: str | Path, types: tuple[str, ...] = ("blob", "commit", "tag")) -> list[Entry]:
    """``(id, type, size)`` of every object of the store of the given types, in pack order.

    A ``GitError`` when the store holds objects git cannot read: ``cat-file`` lists
    them as ``<id> missing`` and still exits 0, and a corrupt repository must never
    be reported clean.
    """
    out = output(["cat-file", "--batch-all-objects", "--unordered",
                  "--batch-check=%(objectname) %(objecttype) %(objectsize)"], cwd)
    bad = count_missing(out)
    if bad:
        raise GitError(f"{bad} objects of the repository cannot be read (corrupt? see git fsck)")
    toks = iter(out.split())  # one C call; per-line splitting cost 0.3 s on 280k objects
    del out
    kinds = {k: v for k, v in _TYPES.items() if v in types}
    return [(oid.decode(), kinds[kind], int(size)) for oid, kind, size in zip(toks, toks, toks)
            if kind in kinds]


def count_missing(batch_check: bytes) -> int:
    """How many lines of ``cat-file --batch-check`` output name an object git cannot read."""
    if b" missing\n" not in batch_check:
        return 0
    return sum(1 for line in batch_check.splitlines() if line.endswith(b" missing"))


def sizes(cwd: str | Path, oids: Sequence[str], types: tuple[str, ...] = ("blob", "commit", "tag")) -> list[Entry]:
    """``(id, type, size)`` of the given objects of the given types (missing ones left out)."""
    if not oids:
        return []
    out = output(["cat-file", "--batch-check=%(objectname) %(objecttype) %(objectsize)"], cwd,
                 input="\n".join(oids).encode() + b"\n")
    entries = []
    for line in out.splitlines():
        parts = line.split(b" ")
        if len(parts) == 3 and _TYPES.get(parts[1]) in types:
            entries.append((parts[0].decode(), _TYPES[parts[1]], int(parts[2])))
    return entries


def annotated_tags(cwd: str | Path, revs: Sequence[str]) -> list[str]:
    """The annotated tag objects among ``revs``, and the tags those point at (nested tags)."""
    todo = [e[0] for e in sizes(cwd, revs, ("tag",))]
    seen: list[str] = []
    if not todo:
        return seen
    with CatFile(cwd) as cat:
        while todo:
            oid = todo.pop()
            if oid in seen:
                continue
            seen.append(oid)
            got = cat.read(oid)
            head = got[1].split(b"\n\n", 1)[0] if got else b""
            fields = dict(line.split(b" ", 1) for line in head.split(b"\n") if b" " in line)
            if fields.get(b"type") == b"tag":
                todo.append(fields[b"object"].decode("ascii"))
    return seen


def all_objects(cwd: str | Path, stats: dict[str, int] | None = None,
                chunk: int = CHUNK) -> Iterator[tuple[str, str, Iterator[bytes]]]:
    """Every object of the store, reachable or not: ``(oid, type, chunks)``.

    ``chunks`` yields the contents in pieces of at most ``chunk`` bytes (bounded
    memory for big blobs); what the caller does not read is skipped. Closing the
    generator stops git.
    """
    import subprocess

    proc = popen(["cat-file", "--batch-all-objects", "--batch", "--unordered"], cwd, stderr=subprocess.PIPE)
    reader = BatchReader(proc.stdout)
    n_obj = n_bytes = 0
    try:
        while True:
            head = reader.header()
            if head is None:
                break
            oid, otype, size = head
            n_obj += 1
            n_bytes += size
            pieces = reader.chunks(size, chunk)
            yield oid, otype, pieces
            for _ in pieces:  # skip what the caller did not read
                pass
    finally:
        proc.stdout.close()
        err = proc.stderr.read() if proc.stderr else b""
        if proc.stderr:
            proc.stderr.close()
        rc = proc.wait()
        if stats is not None:
            stats["objects"] = n_obj
            stats["object_bytes"] = n_bytes
    if rc != 0:
        raise GitError(f"git cat-file failed: {first_line(err)}")


def stash_commits(cwd: str | Path) -> list[str]:
    """The commits of every stash entry, ``stash@{0}`` first."""
    proc = run(["log", "-g", "--no-show-signature", "--format=%H", "refs/stash", "--"], cwd, check=False)
    return proc.stdout.decode().split() if proc.returncode == 0 else []


def reflog_commits(cwd: str | Path) -> list[str]:
    """Every commit some reflog (HEAD's, each branch's, the stash's) names."""
    out = output(["rev-list", "--no-walk", "--reflog"], cwd, ok=(0, 128), check=False)
    return list(dict.fromkeys(out.decode().split()))


def unreachable(cwd: str | Path) -> dict[str, list[str]]:
    """Objects no ref reaches (reflogs not counted as reaching), by type (``git fsck --unreachable``).

    ``--connectivity-only``: the same list without inflating every blob to check it (sqlalchemy:
    1.8 s instead of 25 s); a store git cannot read is caught by ``list_objects``."""
    out = output(["fsck", "--connectivity-only", "--unreachable", "--no-reflogs", "--no-progress"], cwd,
                 ok=(0, 1, 2))
    found: dict[str, list[str]] = {}
    for line in out.decode("utf-8", "replace").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "unreachable":
            found.setdefault(parts[1], []).append(parts[2])
    return found


STASH_PARTS = ("working-tree changes", "staged changes", "untracked files")
"""What a stash entry's commit and its 2nd and 3rd parents hold."""


def stash_parts(cwd: str | Path) -> dict[str, tuple[int, str]]:
    """commit -> (stash entry number, part) for every stash entry's commits (``STASH_PARTS``)."""
    entries = stash_commits(cwd)
    if not entries:
        return {}
    out = output(["rev-list", "--no-walk=unsorted", "--parents", "--stdin"], cwd,
                 input="".join(f"{c}\n" for c in entries).encode())
    parents = {ids[0]: ids[1:] for ids in (line.split() for line in out.decode().splitlines()) if ids}
    parts: dict[str, tuple[int, str]] = {}
    for n, w in enumerate(entries):
        parts.setdefault(w, (n, STASH_PARTS[0]))
        for k, p in enumerate(parents.get(w, [])[1:3], start=1):
            parts.setdefault(p, (n, STASH_PARTS[k]))
    return parts


def staged_blobs(cwd: str | Path, has_head: bool) -> dict[str, list[str]]:
    """blob -> paths of index entries that differ from HEAD (every entry when there is no HEAD)."""
    res: dict[str, list[str]] = {}
    if has_head:
        out = output(["diff", "--cached", "--raw", "-z", "--no-renames", "--no-abbrev", "--no-ext-diff",
                      "--no-textconv"], cwd)
        toks = out.split(b"\0")
        for i in range(0, len(toks) - 1, 2):
            meta = toks[i].lstrip(b"\n").decode().lstrip(":").split()
            if len(meta) >= 5 and meta[3].strip("0"):
                res.setdefault(meta[3], []).append(toks[i + 1].decode("utf-8", "surrogateescape"))
        return res
    for rec in output(["ls-files", "-s", "-z"], cwd).split(b"\0"):
        meta, _, path = rec.partition(b"\t")
        parts = meta.split()
        if len(parts) >= 2:
            res.setdefault(parts[1].decode(), []).append(path.decode("utf-8", "surrogateescape"))
    return res
