"""What the SDK records about every trial without being asked: code version and environment.

Captured once per process (git and package metadata do not change under a running
objective, and asking git costs tens of milliseconds).
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path

import blake3

# Packages whose versions matter for reproducing a trial, when installed.
KEY_PACKAGES = (
    "hpo",
    "optuna",
    "numpy",
    "scipy",
    "pandas",
    "scikit-learn",
    "torch",
    "jax",
    "tensorflow",
    "xgboost",
    "lightgbm",
    "ray",
)
_GIT_TIMEOUT = 10.0


@functools.cache
def code_version(directory: str | None = None) -> dict[str, object]:
    """The git state of ``directory`` (default: the working directory), as a dict matching
    the CodeVersion message; ``{"has_git": False}`` outside a work tree or without git."""
    cwd = Path(directory or os.getcwd())
    top = _git(cwd, "rev-parse", "--show-toplevel")
    if top is None:
        return {"has_git": False}
    root = Path(top.strip())
    commit = (_git(root, "rev-parse", "HEAD") or "").strip()
    branch = (_git(root, "symbolic-ref", "--quiet", "--short", "HEAD") or "").strip()
    diff = _git_bytes(root, "diff", "HEAD", "--binary") or b""
    untracked = (_git(root, "ls-files", "--others", "--exclude-standard", "-z") or "").split("\0")
    untracked = sorted(p for p in untracked if p)
    dirty = bool(diff or untracked)
    version: dict[str, object] = {
        "has_git": True,
        "commit": commit,
        "branch": branch,
        "dirty": dirty,
    }
    if dirty:
        hasher = blake3.blake3(diff)
        for name in untracked:
            hasher.update(f"\0untracked\0{name}\0".encode())
            try:
                hasher.update((root / name).read_bytes())
            except OSError:
                hasher.update(b"<unreadable>")
        version["diff_digest"] = hasher.hexdigest()
    return version


def _git_bytes(cwd: Path, *args: str) -> bytes | None:
    try:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=_GIT_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout if result.returncode == 0 else None


def _git(cwd: Path, *args: str) -> str | None:
    out = _git_bytes(cwd, *args)
    return None if out is None else out.decode(errors="replace")


@functools.cache
def environment() -> dict[str, object]:
    """Python, platform, host, key package versions, GPU models and, in a Ray worker, its Ray
    node, as a dict matching the Environment message."""
    packages = {}
    for name in KEY_PACKAGES:
        try:
            packages[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "packages": packages,
        "gpus": _gpu_models(),
        "ray_node_id": ray_node_id(),
    }


def ray_node_id() -> str:
    """The hex id of the Ray node this process runs on when it is a Ray worker (an actor or
    task), else "". Ray is never imported here: a process that has not imported it is not
    one of its workers. A worker stays on its node, so the answer can be cached."""
    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return ""
    context = ray.get_runtime_context()
    if context.worker.mode != ray.WORKER_MODE:  # the driver runs no trial of a sweep
        return ""
    return str(context.get_node_id())


def _gpu_models() -> list[str]:
    """Models of the visible NVIDIA GPUs, from nvidia-smi (no GPU library is imported)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
        return []
    try:
        result = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    if result.returncode != 0:
        return []
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]
