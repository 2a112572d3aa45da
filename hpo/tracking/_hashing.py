"""Content hashes of the data a trial read: files, directories, arrays, data frames.

BLAKE3 (multi-threaded for large files), streamed in 8 MiB blocks; a directory hashes as the
tree of its sorted relative paths and their files' digests. A per-process cache keyed by
(path, size, mtime_ns, inode) skips files that have not changed since they were hashed.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
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
# Files up to this size are read in one call and hashed in one update.
SMALL = 1024 * 1024


class DigestCache:
    """Digests of files by (path, size, mtime_ns, inode); thread-safe."""

    def __init__(self) -> None:
        self._digests: dict[_FileKey, str] = {}
        self._lock = threading.Lock()

    def file_digest(self, path: str, stat: os.stat_result) -> str:
        key = (path, stat.st_size, stat.st_mtime_ns, stat.st_ino)
        cached = self._digests.get(key)  # dict reads are atomic under the GIL
        if cached is not None:
            return cached
        digest = _hash_file(path, stat.st_size)
        with self._lock:
            self._digests[key] = digest
        return digest

    def __len__(self) -> int:
        return len(self._digests)

    def clear(self) -> None:
        with self._lock:
            self._digests.clear()


DEFAULT_CACHE = DigestCache()


def hash_file(path: str | os.PathLike[str]) -> str:
    """The BLAKE3 digest (hex) of one file's bytes: the one way hpo hashes a file, for data,
    artifacts and the registry's download check alike."""
    return _hash_file(os.fspath(path), os.stat(path).st_size)


def _hash_file(path: str, size: int) -> str:
    if size <= SMALL:
        with open(path, "rb") as f:
            return blake3.blake3(f.read()).hexdigest()
    if size >= PARALLEL_THRESHOLD:
        hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
        hasher.update_mmap(path)
        return hasher.hexdigest()
    hasher = blake3.blake3()
    with open(path, "rb") as f:
        while block := f.read(BLOCK):
            hasher.update(block)
    return hasher.hexdigest()


def hash_path(path: str | os.PathLike[str], cache: DigestCache = DEFAULT_CACHE) -> ContentDigest:
    """The digest of a file, or of a directory as a tree (symbolic links are followed)."""
    root = os.path.realpath(os.path.expanduser(os.fspath(path)))
    if os.path.isfile(root):
        stat = os.stat(root)
        return ContentDigest(cache.file_digest(root, stat), "file", stat.st_size, root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"no file or directory {os.fspath(path)!r}")
    files = sorted(_scan(root, ""))
    digests = [cache.file_digest(absolute, stat) for _, absolute, stat in files]
    tree = blake3.blake3()
    tree.update(
        "".join(
            f"{rel}\0{digest}\n" for (rel, _, _), digest in zip(files, digests, strict=True)
        ).encode()
    )
    total = sum(stat.st_size for _, _, stat in files)
    return ContentDigest(tree.hexdigest(), "directory", total, root)


def _scan(directory: str, prefix: str) -> list[tuple[str, str, os.stat_result]]:
    """(relative path, absolute path, stat) of every file below ``directory``."""
    found = []
    with os.scandir(directory) as entries:
        for entry in entries:
            relative = f"{prefix}{entry.name}"
            if entry.is_dir():
                found.extend(_scan(entry.path, f"{relative}/"))
            elif entry.is_file():
                found.append((relative, entry.path, entry.stat()))
    return found


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
