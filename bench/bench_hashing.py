"""Data hashing for lineage against coreutils' sha256sum, on the same data in the same run.

    python bench/bench_hashing.py [--repeats 3] [--gib 1] [--files 10000]

Data: one file of --gib GiB of random bytes, and a directory of --files small files (1-8 KiB).
hpo first pass: BLAKE3 (threads for large files) with an empty cache; cached pass: the same
call again, answered from the (path, size, mtime_ns, inode) cache. sha256sum: one process over
the big file; `find -type f | sort | xargs sha256sum` for the directory. The page cache is warm
for both (each is run once before timing). Medians of --repeats.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from hpo.tracking import DigestCache, hash_path  # noqa: E402


def make_data(root: Path, gib: float, files: int) -> tuple[Path, Path]:
    big = root / "big.bin"
    with open(big, "wb") as f:
        block = os.urandom(64 * 1024 * 1024)
        for _ in range(max(1, round(gib * 16))):
            f.write(block)
    small = root / "many"
    for i in range(files):
        folder = small / f"{i % 100:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i}.dat").write_bytes(os.urandom(1024 + (i * 7919) % 7168))
    return big, small


def timed(fn, *args: object) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def sha256sum(path: Path) -> None:
    if path.is_file():
        subprocess.run(["sha256sum", str(path)], check=True, stdout=subprocess.DEVNULL)
    else:
        subprocess.run(
            f"find {path} -type f -print0 | sort -z | xargs -0 sha256sum > /dev/null",
            shell=True,
            check=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--files", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        big, small = make_data(Path(tmp), args.gib, args.files)
        print(
            f"# {args.gib:g} GiB file and {args.files} small files; {os.cpu_count()} cores; "
            f"median of {args.repeats}"
        )
        print(
            f"{'data':<12} {'sha256sum':>10} {'hpo first':>10} {'hpo cached':>11} "
            f"{'first speedup':>14} {'cached speedup':>15}"
        )
        for label, path in (("1 big file", big), ("small files", small)):
            sha256sum(path)  # warm the page cache for both sides
            hash_path(path, DigestCache())
            theirs, first, cached = [], [], []
            for _ in range(args.repeats):
                theirs.append(timed(sha256sum, path))
                cache = DigestCache()
                first.append(timed(hash_path, path, cache))
                cached.append(timed(hash_path, path, cache))
            t, f, c = (statistics.median(x) for x in (theirs, first, cached))
            print(
                f"{label:<12} {t:>9.3f}s {f:>9.3f}s {c:>10.4f}s {t / f:>13.1f}x {t / c:>14.0f}x",
                flush=True,
            )


if __name__ == "__main__":
    main()
