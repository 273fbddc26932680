"""Peak memory of `keyguard scan` on a big tar of small files and on a gzip bomb.

    python bench/archive_rss.py [--tar-mb 1024] [--bomb-mb 100] [--limit-mb 200]

Builds, in a temporary folder, (1) a tar of `--tar-mb` MB of small text files
with one planted key near the end and (2) a gzip bomb of `--bomb-mb` MB
(concatenated gzip members of 64 MiB of zeros each: about 1000:1), then runs
`keyguard scan --format json` on each in a child process and prints its peak
RSS (the child's `ru_maxrss`) against `--limit-mb`. Exit 1 if a run goes over
the limit or the planted key is not found in the tar.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import secrets
import string
import subprocess
import sys
import tarfile
import tempfile
import time


def make_tar(path: str, megabytes: int) -> str:
    key = "flux_prod_" + "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(32))
    line = b"setting_%06d = 'value with some words in it'\n"
    body = b"".join(line % i for i in range(80))  # ~3.5 KB per file
    total, i = megabytes << 20, 0
    with tarfile.open(path, "w") as tar:
        written = 0
        while written < total:
            data = body
            info = tarfile.TarInfo(f"src/pkg{i // 1000}/mod{i}.py")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
            written += len(data) + 1024
            i += 1
        data = f"KEY={key}\n".encode()
        info = tarfile.TarInfo("src/last/settings.env")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return key


def make_bomb(path: str, megabytes: int) -> None:
    member = gzip.compress(b"\0" * (64 << 20), compresslevel=9, mtime=0)
    with open(path, "wb") as fh:
        written = 0
        while written < megabytes << 20:
            fh.write(member)
            written += len(member)


def peak_rss(args: list[str]) -> tuple[float, float, dict]:
    """(peak RSS in MB, seconds, parsed JSON) of one keyguard child."""
    code = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE);"
            "sys.stdout.buffer.write(r.stdout); "
            "sys.stderr.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))")
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", code, sys.executable, "-m", "keyguard", *args],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    took = time.perf_counter() - t
    kb = int(r.stderr.decode().strip().splitlines()[-1])
    return kb / 1024, took, json.loads(r.stdout or b"{}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tar-mb", type=int, default=1024)
    ap.add_argument("--bomb-mb", type=int, default=100)
    ap.add_argument("--limit-mb", type=int, default=200)
    a = ap.parse_args()
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        tar_dir, bomb_dir = os.path.join(tmp, "t"), os.path.join(tmp, "b")
        os.mkdir(tar_dir)
        os.mkdir(bomb_dir)
        make_tar(os.path.join(tar_dir, "files.tar"), a.tar_mb)
        make_bomb(os.path.join(bomb_dir, "bomb.gz"), a.bomb_mb)
        for name, folder in (("tar", tar_dir), ("gzip bomb", bomb_dir)):
            mb, took, out = peak_rss(["scan", "--format", "json", folder])
            found = out.get("findings", [])
            ok = mb <= a.limit_mb and (name != "tar" or found)
            bad += not ok
            size = a.tar_mb if name == "tar" else a.bomb_mb
            print(f"{name:10s} {size:5d} MB  peak RSS {mb:6.1f} MB (limit {a.limit_mb})  {took:6.1f} s"
                  + ("  key found" if found else "") + ("" if ok else "  FAIL"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
