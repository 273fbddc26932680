"""The history floor: two parallel ``git cat-file --batch`` readers, list and split included.

usage: python bench/floor_readers.py REPO [READERS]

What any history scanner on this machine must at least do, done by git alone:
list every object (``git cat-file --batch-all-objects --batch-check --unordered``),
drop trees (no text), cut the pack-ordered list into READERS (default 2) contiguous
slices of about equal bytes, and stream each slice through its own
``git cat-file --batch`` at the same time, output discarded. keyguard's history scan
does exactly this plus reading the output and looking for keys in it, so
``bench/history.sh`` states its time as a ratio of this one.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile


def main(repo: str, readers: int = 2) -> None:
    out = subprocess.run(["git", "-C", repo, "cat-file", "--batch-all-objects", "--unordered",
                          "--batch-check=%(objectname) %(objecttype) %(objectsize)"],
                         capture_output=True, check=True).stdout
    toks = iter(out.split())
    entries = [(oid, int(size)) for oid, kind, size in zip(toks, toks, toks) if kind != b"tree"]
    total = sum(s for _, s in entries) or 1
    slices, start, acc = [], 0, 0
    for i, (_, size) in enumerate(entries):
        acc += size
        if acc >= total * (len(slices) + 1) / readers and len(slices) < readers - 1:
            slices.append(entries[start:i + 1])
            start = i + 1
    slices.append(entries[start:])
    procs = []
    for part in slices:
        ids = tempfile.TemporaryFile()
        ids.write(b"".join(oid + b"\n" for oid, _ in part))
        ids.seek(0)
        procs.append(subprocess.Popen(["git", "-C", repo, "cat-file", "--batch", "--buffer"], stdin=ids,
                                      stdout=subprocess.DEVNULL))
        ids.close()
    if any(p.wait() for p in procs):
        sys.exit("floor: git cat-file failed")
    import resource
    print(f"  floor: largest git process {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss} KB",
          file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 2)
