# syntax=docker/dockerfile:1
# One image of hpo for every part of a deployment: the coordinator (`hpo server`), the Ray
# head and Ray workers (KubeRay runs `ray start` in it), and sweeps (`hpo sweep`).
#
#   docker build -t hpo:0.1.0 .                          # coordinator, Ray, sweeps
#   docker build --build-arg HPO_EXTRAS=sweep,gp -t hpo:0.1.0-gp .
#
# The install step is scripts/install.sh, the same script CI (.ci/run) runs.

ARG PYTHON_VERSION=3.11
# Ray in the image: must equal ray.version in helm/hpo/values.yaml, the Ray the RayCluster
# declares (tests/test_helm_chart.py checks it).
ARG RAY_VERSION=2.60.0

FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ARG RAY_VERSION
# Extras of pyproject.toml to install, comma-separated: sweep (Ray's worker pool and
# scikit-learn, which the examples use) by default; add gp for GPSampler (torch).
ARG HPO_EXTRAS="sweep"
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/hpo/venv
ENV PATH=/opt/hpo/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY scripts/install.sh scripts/install.sh
COPY hpo hpo
COPY workers workers
RUN scripts/install.sh --ray-version "${RAY_VERSION}" "${HPO_EXTRAS}"

FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
# wget: KubeRay's health probes of Ray pods call it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends wget \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --gid 10001 hpo \
    && useradd --uid 10001 --gid 10001 --create-home --shell /bin/bash hpo
COPY --from=build /opt/hpo/venv /opt/hpo/venv
# Runnable examples for a first sweep (hpo sweep /opt/hpo/examples/digits_sgd.py:objective).
COPY examples /opt/hpo/examples
# KubeRay starts Ray through a login shell (bash -l), which resets PATH from /etc/profile.
RUN echo 'export PATH=/opt/hpo/venv/bin:$PATH' > /etc/profile.d/hpo.sh
ENV PATH=/opt/hpo/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /home/hpo
# gRPC, metrics, Ray GCS, Ray dashboard, Ray Client.
EXPOSE 50051 9090 6379 8265 10001
CMD ["hpo", "--help"]
