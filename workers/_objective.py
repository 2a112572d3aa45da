"""Objectives named on the command line ("path/to/file.py:function" or "module:function")
or passed as functions, loaded again inside each worker process."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpo.errors import InvalidArgumentError


@dataclass(frozen=True)
class ObjectiveRef:
    """Where an objective lives: a Python file or an importable module, and a name in it.

    Workers load it themselves, so the objective's module-level setup (imports, data
    loading) runs once per worker process, not once per trial.
    """

    target: str
    name: str

    @classmethod
    def parse(cls, spec: str) -> ObjectiveRef:
        """``"examples/digits_sgd.py:objective"`` or ``"mypackage.train:objective"``."""
        target, sep, name = spec.rpartition(":")
        if not sep or not target or not name.isidentifier():
            raise InvalidArgumentError.for_field(
                "objective", f"{spec!r} is not FILE.py:FUNCTION or MODULE:FUNCTION"
            )
        if target.endswith(".py"):
            path = Path(target).expanduser().resolve()
            if not path.is_file():
                raise InvalidArgumentError.for_field("objective", f"no file {target!r}")
            target = str(path)
        return cls(target, name)

    def load(self) -> Callable[..., Any]:
        if self.target.endswith(".py"):
            module_name = f"hpo_objective_{Path(self.target).stem}"
            module = sys.modules.get(module_name)
            if module is None:
                spec = importlib.util.spec_from_file_location(module_name, self.target)
                assert spec is not None and spec.loader is not None
                module = importlib.util.module_from_spec(spec)
                sys.modules[module_name] = module
                # Let the objective import its neighbours, as `python file.py` would.
                sys.path.insert(0, str(Path(self.target).parent))
                spec.loader.exec_module(module)
        else:
            module = importlib.import_module(self.target)
        function = getattr(module, self.name, None)
        if not callable(function):
            raise InvalidArgumentError.for_field(
                "objective", f"{self.target} has no function {self.name!r}"
            )
        return function

    def __str__(self) -> str:
        return f"{self.target}:{self.name}"


def objective_loader(objective: str | Callable[..., Any]) -> ObjectiveRef | Callable[..., Any]:
    """What to ship to workers: a reference for a string, the function itself otherwise
    (Ray pickles it by value when it was defined in a notebook or script)."""
    if isinstance(objective, str):
        return ObjectiveRef.parse(objective)
    if not callable(objective):
        raise InvalidArgumentError.for_field("objective", "must be a function or FILE.py:FUNCTION")
    return objective
