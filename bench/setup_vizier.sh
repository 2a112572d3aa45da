#!/usr/bin/env bash
# Build the virtual environment that bench_coordinator.py runs OSS Vizier from.
#
#     bash bench/setup_vizier.sh [VENV]      # default: .bench-venvs/vizier in the repo
#     PYTHON=python3.11 bash bench/setup_vizier.sh
#
# google-vizier 0.1.24 imports only with the JAX stack of its day, so that stack is pinned here and
# kept in its own venv, out of hpo's dependencies. Its [jax] extra pins equinox==0.11.7, which
# conflicts with the equinox 0.11.10 that stack was run with, so the extra's packages are listed
# one by one instead of naming the extra. Idempotent: a venv whose stamp matches these
# requirements and that imports Vizier's client and server is left as it is.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${1:-$repo/.bench-venvs/vizier}"
python="${PYTHON:-python3}"

requirements=(
    "google-vizier==0.1.24"
    # The JAX stack google-vizier 0.1.24 imports with.
    "jax==0.4.38"
    "jaxlib==0.4.38"
    "flax==0.10.2"
    "chex==0.1.88"
    "optax==0.2.4"
    "equinox==0.11.10"
    "jaxtyping==0.2.36"
    "orbax-checkpoint<0.11"
    # The rest of google-vizier's [jax] extra, at versions of the same month (February 2025).
    "jaxopt==0.8.3"
    "tfp-nightly[jax]==0.26.0.dev20250201"
    "typeguard<=2.13.3"
)
stamp="$venv/.bench-requirements"
wanted="$(printf '%s\n' "${requirements[@]}")"

imports_vizier() {
    "$venv/bin/python" -c "import vizier.service.clients, vizier.service.servers" 2>/dev/null
}

if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]] && imports_vizier; then
    echo "Vizier venv up to date: $venv"
    exit 0
fi

[[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "${requirements[@]}"
if ! imports_vizier; then
    "$venv/bin/python" -c "import vizier.service.clients, vizier.service.servers"
    exit 1
fi
printf '%s\n' "$wanted" > "$stamp"
echo "Vizier venv ready: $venv ($("$venv/bin/python" -c 'import vizier; print(vizier.__version__)'))"
