"""Content hashes of the data a trial read: files, directories, arrays, data frames.

BLAKE3 (multi-threaded for large files), streamed in 8 MiB blocks; a directory hashes as the
tree of its sorted relative paths and their files' digests. A per-process cache keyed by
(path, size, mtime_ns, inode) skips files that have not changed since they were hashed.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import blake3

BLOCK = 8 * 1024 * 1024
# Files this large are hashed with several threads (BLAKE3 splits its tree over them).
PARALLEL_THRESHOLD = 64 * 1024 * 1024


@dataclass(frozen=True)
class ContentDigest:
    """What was hashed and its digest."""

    digest: str
    kind: str
    size_bytes: int
    source: str = ""


_FileKey = tuple[str, int, int, int]


class DigestCache:
    """Digests of files by (path, size, mtime_ns, inode); thread-safe."""

    def __init__(self) -> None:
        self._digests: dict[_FileKey, str] = {}
        self._lock = threading.Lock()

    def file_digest(self, path: Path, stat: os.stat_result) -> str:
        key = (str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)
        with self._lock:
            cached = self._digests.get(key)
        if cached is not None:
            return cached
        digest = _hash_file(path, stat.st_size)
        with self._lock:
            self._digests[key] = digest
        return digest

    def clear(self) -> None:
        with self._lock:
            self._digests.clear()


DEFAULT_CACHE = DigestCache()


def _hash_file(path: Path, size: int) -> str:
    threads = blake3.blake3.AUTO if size >= PARALLEL_THRESHOLD else 1
    hasher = blake3.blake3(max_threads=threads)
    if size >= PARALLEL_THRESHOLD:
        hasher.update_mmap(path)
        return hasher.hexdigest()
    with open(path, "rb") as f:
        while block := f.read(BLOCK):
            hasher.update(block)
    return hasher.hexdigest()


def hash_path(path: str | os.PathLike[str], cache: DigestCache = DEFAULT_CACHE) -> ContentDigest:
    """The digest of a file, or of a directory as a tree (symbolic links are followed)."""
    root = Path(path).expanduser().resolve()
    if root.is_file():
        stat = root.stat()
        return ContentDigest(cache.file_digest(root, stat), "file", stat.st_size, str(root))
    if not root.is_dir():
        raise FileNotFoundError(f"no file or directory {str(path)!r}")
    tree = blake3.blake3()
    total = 0
    for file in sorted(_files(root)):
        stat = file.stat()
        total += stat.st_size
        relative = file.relative_to(root).as_posix()
        tree.update(f"{relative}\0{cache.file_digest(file, stat)}\n".encode())
    return ContentDigest(tree.hexdigest(), "directory", total, str(root))


def _files(root: Path) -> list[Path]:
    found: list[Path] = []
    for directory, _, names in os.walk(root, followlinks=True):
        found.extend(Path(directory, name) for name in names)
    return [f for f in found if f.is_file()]


def hash_array(array: Any) -> ContentDigest:
    """A numpy array by dtype, shape and bytes (C order)."""
    import numpy as np

    data = np.ascontiguousarray(array)
    hasher = blake3.blake3(f"ndarray\0{data.dtype.str}\0{data.shape}\n".encode())
    hasher.update(cast(Any, data.reshape(-1).view(np.uint8)))  # the bytes, not a copy
    return ContentDigest(hasher.hexdigest(), "ndarray", data.nbytes)


def hash_dataframe(frame: Any) -> ContentDigest:
    """A pandas DataFrame by its column names, dtypes, index and values."""
    import pandas as pd

    hashes = pd.util.hash_pandas_object(frame, index=True).to_numpy()
    hasher = blake3.blake3(
        f"dataframe\0{list(map(str, frame.columns))}\0{list(map(str, frame.dtypes))}\n".encode()
    )
    hasher.update(memoryview(hashes).cast("B"))
    return ContentDigest(hasher.hexdigest(), "dataframe", int(frame.memory_usage(deep=True).sum()))


def hash_data(data: Any) -> ContentDigest:
    """Dispatch on what ``trial.log_data`` received: a path, a numpy array or a DataFrame."""
    if isinstance(data, (str, os.PathLike)):
        return hash_path(data)
    module = type(data).__module__
    if module.startswith("pandas"):
        return hash_dataframe(data)
    if module.startswith("numpy") or hasattr(data, "__array_interface__"):
        return hash_array(data)
    raise TypeError(
        f"log_data takes a path, a numpy array or a pandas DataFrame, not {type(data).__name__}"
    )
