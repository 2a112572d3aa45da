"""Objectives named on the command line ("path/to/file.py:function" or "module:function")
or passed as functions, loaded again inside each worker process."""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
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
    #: Where a module target is looked for first: the folder `hpo sweep` ran in, as
    #: `python -m` would (a console script's sys.path does not hold it).
    folder: str = ""

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
                raise InvalidArgumentError.for_field("objective", f"there is no file {target!r}")
            target = str(path)
            return cls(target, name)
        return cls(target, name, os.getcwd())

    def load(self) -> Callable[..., Any]:
        """Import the module and return the function. Whatever goes wrong is one line:
        ``file.py, line 12: SyntaxError: invalid syntax``, ``... has no function 'objectiv'``."""
        module = self._import()
        function = getattr(module, self.name, None)
        if function is None:
            close = difflib.get_close_matches(self.name, [n for n in dir(module) if n[0] != "_"])
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise InvalidArgumentError.for_field(
                "objective", f"{_shown(self.target)} has no function {self.name!r}{hint}"
            )
        if not callable(function):
            raise InvalidArgumentError.for_field(
                "objective", f"{self.name!r} in {_shown(self.target)} is not a function"
            )
        return function

    def _import(self) -> ModuleType:
        if not self.target.endswith(".py"):
            if self.folder and self.folder not in sys.path:
                sys.path.insert(0, self.folder)
            try:
                return importlib.import_module(self.target)
            except ModuleNotFoundError as e:
                if e.name and (self.target + ".").startswith(e.name + "."):
                    raise InvalidArgumentError.for_field(
                        "objective",
                        f"there is no module {self.target!r} (looked in {self.folder} "
                        "and the installed packages)",
                    ) from None
                raise _import_error(self.target, e) from None
            except Exception as e:
                raise _import_error(self.target, e) from None
        module_name = f"hpo_objective_{Path(self.target).stem}"
        module = sys.modules.get(module_name)
        if module is not None:
            return module
        spec = importlib.util.spec_from_file_location(module_name, self.target)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        # Let the objective import its neighbours, as `python file.py` would.
        sys.path.insert(0, str(Path(self.target).parent))
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as e:
            del sys.modules[module_name]
            raise _import_error(self.target, e) from None
        return module

    def __str__(self) -> str:
        return f"{self.target}:{self.name}"


def _import_error(target: str, error: Exception) -> InvalidArgumentError:
    """``file.py, line 12: SyntaxError: invalid syntax``: where importing the objective failed
    (the innermost line of the user's code), what and why, on one line."""
    if isinstance(error, SyntaxError) and error.filename:
        where = f"{_shown(error.filename)}, line {error.lineno}"
        return InvalidArgumentError(f"{where}: {type(error).__name__}: {error.msg}")
    frames = [
        f
        for f in traceback.extract_tb(error.__traceback__)
        if not f.filename.startswith("<") and "importlib" not in f.filename
    ]
    where = (
        f"{_shown(frames[-1].filename)}, line {frames[-1].lineno}"
        if frames
        else f"objective {_shown(target)}"
    )
    return InvalidArgumentError(f"{where}: {type(error).__name__}: {error}")


def _shown(path: str) -> str:
    """A path as the user would write it: relative to the working directory when inside it."""
    if not os.path.isabs(path):
        return path
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def objective_loader(objective: str | Callable[..., Any]) -> ObjectiveRef | Callable[..., Any]:
    """What to ship to workers: a reference for a string, the function itself otherwise
    (Ray pickles it by value when it was defined in a notebook or script)."""
    if isinstance(objective, str):
        return ObjectiveRef.parse(objective)
    if not callable(objective):
        raise InvalidArgumentError.for_field("objective", "must be a function or FILE.py:FUNCTION")
    return objective
