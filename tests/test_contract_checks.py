"""buf lint and buf breaking guard the wire contract (and really catch a break)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

PROTOS = Path(__file__).resolve().parent.parent / "protos"
RELEASE = PROTOS / "release" / "hpo-v1.binpb"


def buf(trainer: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(trainer / "node_modules" / ".bin" / "buf"), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_contract_is_lint_clean_and_compatible_with_the_release(node_trainer) -> None:
    lint = buf(node_trainer, "lint", str(PROTOS))
    assert lint.returncode == 0, lint.stdout + lint.stderr
    breaking = buf(node_trainer, "breaking", str(PROTOS), "--against", str(RELEASE))
    assert breaking.returncode == 0, breaking.stdout + breaking.stderr


def test_breaking_change_is_caught(node_trainer, tmp_path) -> None:
    changed = tmp_path / "protos"
    shutil.copytree(PROTOS, changed, ignore=shutil.ignore_patterns("release"))
    study = changed / "hpo" / "v1" / "study.proto"
    text = study.read_text()
    assert "  string fail_reason = 12;\n" in text
    study.write_text(text.replace("  string fail_reason = 12;\n", ""))  # a field removed
    result = buf(node_trainer, "breaking", str(changed), "--against", str(RELEASE))
    assert result.returncode != 0
    assert "fail_reason" in result.stdout + result.stderr
