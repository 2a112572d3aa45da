"""The distribution lists every package of the source tree (they are listed by hand)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "hpo").rglob("__init__.py")
    }
    found |= {
        "hpo.workers." + ".".join(p.parent.relative_to(ROOT / "workers").parts)
        for p in (ROOT / "workers").rglob("__init__.py")
    }
    found = {name.rstrip(".") for name in found}
    assert listed == found
    assert config["package-dir"] == {"hpo.workers": "workers"}
