"""The artifact store: content-addressed files in a local folder or any fsspec URL.

An upload is written to ``tmp/`` while it is hashed and moved to ``objects/<ab>/<digest>``
only once complete and verified, so an interrupted upload leaves no object behind (its
temporary file is removed; a crashed process's leftovers in ``tmp/`` are never read).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator

import blake3
import fsspec

CHUNK = 1024 * 1024


class DigestMismatchError(Exception):
    """The bytes received do not hash to the digest the client announced."""


class ArtifactStore:
    def __init__(self, url: str) -> None:
        self.url = url
        self._fs, self._root = fsspec.core.url_to_fs(url)
        self._fs.makedirs(f"{self._root}/tmp", exist_ok=True)
        self._fs.makedirs(f"{self._root}/objects", exist_ok=True)

    def _object(self, digest: str) -> str:
        return f"{self._root}/objects/{digest[:2]}/{digest}"

    def put(self, chunks: Iterable[bytes], expected_digest: str = "") -> tuple[str, int]:
        """Store the bytes; return (digest, size). Nothing is stored unless all bytes arrived
        and, when ``expected_digest`` is given, match it."""
        temporary = f"{self._root}/tmp/{uuid.uuid4().hex}"
        hasher = blake3.blake3()
        size = 0
        try:
            with self._fs.open(temporary, "wb") as out:
                for chunk in chunks:
                    hasher.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
            digest = hasher.hexdigest()
            if expected_digest and expected_digest != digest:
                raise DigestMismatchError(f"received bytes hash to {digest}")
            final = self._object(digest)
            if self._fs.exists(final):
                return digest, size
            self._fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
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
