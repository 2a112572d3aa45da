#!/usr/bin/env bash
# The one list of steps that installs hpo from its own pyproject.toml, into the Python that
# `python` runs (activate a virtualenv first). CI (.ci/run) and the container image
# (Dockerfile) both call it.
#
#   scripts/install.sh [--editable] [--ray-version X.Y.Z] [EXTRAS]
#
#   EXTRAS         comma-separated extras of pyproject.toml, e.g. dev,gp (none by default)
#   --editable     install the working tree in place (development, CI)
#   --ray-version  pin Ray, with the parts a KubeRay head and worker need (image)
set -euo pipefail
cd "$(dirname "$0")/.."

editable=()
pins=()
extras=""
while [ $# -gt 0 ]; do
  case "$1" in
    --editable) editable=(-e) ;;
    --ray-version) pins+=("ray[default,tune]==${2:?--ray-version needs a version}"); shift ;;
    -*) echo "install.sh: unknown option $1" >&2; exit 2 ;;
    *) extras="$1" ;;
  esac
  shift
done

python -m pip install -q --upgrade pip
case ",$extras," in
  # torch pinned first: the gp sampler's extra would otherwise pull a multi-GB CUDA build.
  *,gp,*) pins+=("torch==2.13.0") ;;
esac
python -m pip install -q "${pins[@]}" "${editable[@]}" ".${extras:+[$extras]}"
