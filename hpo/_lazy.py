"""Names a package imports when first used (PEP 562 ``__getattr__``), one import at a time.

``import hpo`` stays light (no Optuna, gRPC or SQLAlchemy) because the SDK's names load on
first use. Those first uses may come from several threads at once, and Optuna cannot be
imported by two threads together (one of them meets a partially initialized ``optuna``
module), so every lazy import of every hpo package goes through one lock.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Mapping
from typing import Any

_lock = threading.RLock()


def lazy_attribute(namespace: dict[str, Any], modules: Mapping[str, str], name: str) -> Any:
    """The attribute ``name`` of the package whose globals are ``namespace``: taken from the
    module ``modules[name]`` names, or, for a name not in ``modules``, the submodule
    ``package.name`` (``hpo.client`` after ``import hpo``); kept in ``namespace``, so that
    only the first use comes here. AttributeError when it is neither."""
    package = namespace["__name__"]
    if name.startswith("__"):  # probes such as __path__ or __wrapped__: never a submodule
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    with _lock:
        module = modules.get(name)
        if module is not None:
            value = namespace[name] = getattr(importlib.import_module(module), name)
            return value
        try:
            return importlib.import_module(f"{package}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{package}.{name}":  # a dependency of that submodule is missing
                raise
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
