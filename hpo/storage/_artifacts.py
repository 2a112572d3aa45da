"""The artifact store: content-addressed files in a local folder or any fsspec URL.

An upload is written to ``tmp/`` while it is hashed and moved to ``objects/<ab>/<digest>``
only once complete and verified, so an interrupted upload leaves no object behind: its
temporary file is removed on every failure (too large, wrong digest, stream broken). A
temporary file is named after the host and process writing it; a store opened again sweeps
the ones whose process is gone (a SIGKILLed coordinator) and any older than a day.

On a local folder, files are readable by their owner only (0600, folders 0700).
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import uuid
from collections.abc import Iterable, Iterator

import blake3
import fsspec

CHUNK = 1024 * 1024
#: A temporary file untouched this long belongs to no live upload, whoever wrote it.
STALE_UPLOAD_SECONDS = 24 * 3600
_FILE_MODE, _FOLDER_MODE = 0o600, 0o700


class DigestMismatchError(Exception):
    """The bytes received do not hash to the digest the client announced."""


class ArtifactTooLargeError(Exception):
    """The upload went past the store's size limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"larger than {limit:,} bytes, the most this coordinator accepts")
        self.limit = limit


class ArtifactStore:
    def __init__(self, url: str) -> None:
        self.url = url
        self._fs, self._root = fsspec.core.url_to_fs(url)
        for folder in (self._root, f"{self._root}/tmp", f"{self._root}/objects"):
            self._fs.makedirs(folder, exist_ok=True)
            self._private(folder, _FOLDER_MODE)
        self.swept = self.sweep_stale_uploads()

    def _object(self, digest: str) -> str:
        return f"{self._root}/objects/{digest[:2]}/{digest}"

    def put(
        self, chunks: Iterable[bytes], expected_digest: str = "", max_bytes: int | None = None
    ) -> tuple[str, int]:
        """Store the bytes; return (digest, size). Nothing is stored unless all bytes arrived,
        were at most ``max_bytes`` and, when ``expected_digest`` is given, match it."""
        temporary = f"{self._root}/tmp/{_upload_prefix()}{uuid.uuid4().hex}"
        hasher = blake3.blake3()
        size = 0
        try:
            with self._fs.open(temporary, "wb") as out:
                self._private(temporary, _FILE_MODE)
                for chunk in chunks:
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise ArtifactTooLargeError(max_bytes)
                    hasher.update(chunk)
                    out.write(chunk)
            digest = hasher.hexdigest()
            if expected_digest and expected_digest != digest:
                raise DigestMismatchError(f"received bytes hash to {digest}")
            final = self._object(digest)
            if self._fs.exists(final):
                return digest, size
            folder = final.rsplit("/", 1)[0]
            self._fs.makedirs(folder, exist_ok=True)
            self._private(folder, _FOLDER_MODE)
            self._fs.mv(temporary, final)
            return digest, size
        finally:
            if self._fs.exists(temporary):
                self._fs.rm(temporary)

    def exists(self, digest: str) -> bool:
        return len(digest) == 64 and self._fs.exists(self._object(digest))

    def read(self, digest: str) -> Iterator[bytes]:
        with self._fs.open(self._object(digest), "rb") as f:
            while chunk := f.read(CHUNK):
                yield chunk

    def sweep_stale_uploads(self) -> int:
        """Remove temporary files no live upload writes; return how many."""
        removed = 0
        for path in self._fs.ls(f"{self._root}/tmp", detail=False):
            if self._stale(path):
                with contextlib.suppress(FileNotFoundError):
                    self._fs.rm(path)
                    removed += 1
        return removed

    def _stale(self, path: str) -> bool:
        host, _, rest = path.rsplit("/", 1)[-1].partition("@")
        pid = rest.split("-", 1)[0]
        if rest and host == socket.gethostname() and pid.isdigit() and not _alive(int(pid)):
            return True
        try:
            modified = self._fs.modified(path).timestamp()
        except (NotImplementedError, FileNotFoundError, OSError):
            return False
        return time.time() - modified > STALE_UPLOAD_SECONDS

    def _private(self, path: str, mode: int) -> None:
        """Owner-only permissions, where the file system has permissions (a local folder)."""
        chmod = getattr(self._fs, "chmod", None)
        if chmod is not None:
            chmod(path, mode)


def _upload_prefix() -> str:
    """``host@pid-``: lets a store opened later tell whether the writer is still alive."""
    return f"{socket.gethostname()}@{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
