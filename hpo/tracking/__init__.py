"""Client-side lineage capture: code version, environment and content hashes of data.

The SDK records code version and environment with every trial it asks for;
``trial.log_data`` hashes what a trial read with :func:`hash_data`.
"""

from __future__ import annotations

from hpo.tracking._capture import KEY_PACKAGES, code_version, environment
from hpo.tracking._hashing import (
    DEFAULT_CACHE,
    ContentDigest,
    DigestCache,
    hash_array,
    hash_data,
    hash_dataframe,
    hash_file,
    hash_path,
)

__all__ = [
    "DEFAULT_CACHE",
    "KEY_PACKAGES",
    "ContentDigest",
    "DigestCache",
    "code_version",
    "environment",
    "hash_array",
    "hash_data",
    "hash_dataframe",
    "hash_file",
    "hash_path",
]
