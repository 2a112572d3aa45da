"""The Helm chart and the container image, checked without a cluster or a Docker daemon.

Real `helm` (scripts/fetch_k8s_tools.sh puts it in .tools/bin), Kubernetes 1.30's schemas
(kubernetes-validate, strict: unknown fields are errors), KubeRay's CRD schemas (in
../shared/k8s/crds, made strict the way the API server's field validation is).
"""

from __future__ import annotations

import base64
import copy
import functools
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from dockerfile_parse import DockerfileParser

import hpo
from hpo.server import Coordinator, ServerSecurity

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "helm" / "hpo"
CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))
CRDS = Path(os.environ.get("HPO_KUBERAY_CRDS", ROOT.parent / "shared" / "k8s" / "crds"))
KUBERNETES = "1.30"
CORE_API_GROUPS = ("v1", "apps/v1", "batch/v1", "policy/v1")
VALUE_SETS = [None, *CI_VALUES]
VALUE_IDS = ["defaults", *(p.stem for p in CI_VALUES)]


# -- tools and rendering ---------------------------------------------------------------------


@functools.cache
def helm() -> str:
    found = ROOT / ".tools" / "bin" / "helm"
    if found.is_file():
        return str(found)
    on_path = shutil.which("helm")
    if on_path is None:
        pytest.fail("helm not found: run scripts/fetch_k8s_tools.sh (puts it in .tools/bin)")
    return on_path


def run_helm(command: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """``helm COMMAND [hpo] CHART ARGS...`` (template takes a release name, lint does not)."""
    release = ["hpo"] if command == "template" else []
    result = subprocess.run(
        [helm(), command, *release, str(CHART), *args], capture_output=True, text=True, timeout=120
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def render(values: Path | None = None, *sets: str) -> list[dict[str, Any]]:
    args = ["template", "--namespace", "ml"]
    if values is not None:
        args += ["-f", str(values)]
    for setting in sets:
        args += ["--set", setting]
    documents = yaml.safe_load_all(run_helm(*args).stdout)
    return [doc for doc in documents if doc]


def find(objects: list[dict[str, Any]], kind: str, name_part: str = "") -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind and name_part in o["metadata"]["name"]]


def one(objects: list[dict[str, Any]], kind: str, name_part: str = "") -> dict[str, Any]:
    found = find(objects, kind, name_part)
    assert len(found) == 1, f"{len(found)} {kind} objects named *{name_part}*"
    return found[0]


# -- schemas ---------------------------------------------------------------------------------


def strict(schema: Any) -> Any:
    """The schema with unknown fields refused wherever the API server would prune them."""
    if isinstance(schema, dict):
        schema = {key: strict(value) for key, value in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    return schema


@functools.cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the strict openAPIV3Schema of each KubeRay CRD version."""
    files = sorted(CRDS.glob("*.yaml"))
    if not files:
        pytest.fail(f"no KubeRay CRDs in {CRDS} (see ../shared/k8s/README.md)")
    schemas = {}
    for path in files:
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = strict(version["schema"]["openAPIV3Schema"])
            schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


def validate(obj: dict[str, Any]) -> None:
    key = (obj["apiVersion"], obj["kind"])
    name = f"{obj['kind']} {obj['metadata']['name']}"
    if key in crd_schemas():
        errors = list(jsonschema.Draft7Validator(crd_schemas()[key]).iter_errors(obj))
        assert not errors, f"{name}: " + "; ".join(
            f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in errors
        )
    elif obj["apiVersion"] == "monitoring.coreos.com/v1":
        # No schema here for the Prometheus Operator's kinds: check what the chart relies on.
        assert obj["kind"] == "ServiceMonitor"
        assert [e["port"] for e in obj["spec"]["endpoints"]] == ["metrics"]
        assert obj["spec"]["selector"]["matchLabels"]
    else:
        assert obj["apiVersion"] in CORE_API_GROUPS, f"{name}: unexpected {obj['apiVersion']}"
        try:
            kubernetes_validate.validate(obj, KUBERNETES, strict=True)
        except kubernetes_validate.ValidationError as e:
            pytest.fail(f"{name}: {e.message} at {'.'.join(map(str, e.path))}")


# -- the chart -------------------------------------------------------------------------------


@pytest.mark.parametrize("values", VALUE_SETS, ids=VALUE_IDS)
def test_lint_strict(values: Path | None) -> None:
    run_helm("lint", "--strict", *(["-f", str(values)] if values else []))


@pytest.mark.parametrize("values", VALUE_SETS, ids=VALUE_IDS)
def test_every_rendered_object_validates(values: Path | None) -> None:
    objects = render(values)
    assert objects
    for obj in objects:
        validate(obj)


def test_schema_checks_can_fail() -> None:
    deployment = one(render(), "Deployment")
    typo = copy.deepcopy(deployment)
    typo["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    with pytest.raises(pytest.fail.Exception, match="imagePullPolcy"):
        validate(typo)
    ray = copy.deepcopy(one(render(), "RayCluster"))
    ray["spec"]["workerGroupSpecs"][0]["maxReplica"] = 3
    with pytest.raises(AssertionError, match="maxReplica"):
        validate(ray)


def test_ci_values_cover_the_issue_cases() -> None:
    """External PostgreSQL + TLS + tokens + GPU workers; the bundled PostgreSQL; sweeps."""
    names = {p.stem for p in CI_VALUES}
    assert {
        "external-tls-tokens-gpu-values",
        "bundled-postgresql-values",
        "sweep-job-values",
        "sweep-rayjob-values",
    } <= names


def container(obj: dict[str, Any], template_path: tuple[str, ...] = ("spec", "template")) -> Any:
    template = obj
    for key in template_path:
        template = template[key]
    return template["spec"]["containers"][0]


def env_of(c: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


def test_defaults_are_replicated_secure_coordinators_and_a_ray_cluster() -> None:
    objects = render()
    deployment = one(objects, "Deployment", "coordinator")
    pod = deployment["spec"]["template"]["spec"]
    coordinator = container(deployment)
    assert deployment["spec"]["replicas"] >= 2
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert coordinator["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["affinity"]["podAntiAffinity"]
    assert coordinator["resources"]["requests"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert probe in coordinator
    assert "--tls-cert=/etc/hpo/tls/tls.crt" in coordinator["args"]
    assert "--token-file=/etc/hpo/auth/tokens" in coordinator["args"]
    assert "--insecure" not in coordinator["args"]
    assert env_of(coordinator)["HPO_METRICS_PORT"] == "9090"
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert one(objects, "PodDisruptionBudget")["spec"]["minAvailable"] == 1
    assert one(objects, "StatefulSet", "postgresql")  # nothing else given: the bundled one
    assert not find(objects, "ServiceMonitor")

    ray = one(objects, "RayCluster")
    assert (
        ray["spec"]["rayVersion"]
        == yaml.safe_load((CHART / "values.yaml").read_text())["ray"]["version"]
    )
    assert ray["spec"]["headGroupSpec"]["headService"]["metadata"]["name"] == "hpo-ray-head"
    groups = {g["groupName"]: g for g in ray["spec"]["workerGroupSpecs"]}
    assert set(groups) == {"cpu", "gpu"}
    gpu = container(groups["gpu"], ("template",))
    assert gpu["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert groups["gpu"]["template"]["spec"]["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert ray["spec"]["enableInTreeAutoscaling"] is True
    # TLS and the token reach every Ray node, which forwards them to its trial actors.
    for c in [container(ray["spec"]["headGroupSpec"], ("template",))] + [
        container(g, ("template",)) for g in groups.values()
    ]:
        env = env_of(c)
        assert env["HPO_ADDRESS"] == "hpo-coordinator:50051"
        assert env["HPO_TLS_CA"] == "/etc/hpo/tls/ca.crt"
        assert env["HPO_TOKEN"]["secretKeyRef"] == {"name": "hpo-auth", "key": "token"}


def test_the_issue_install_command_renders() -> None:
    objects = render(
        None, "postgresql.url=postgresql://hpo@db/hpo", "ray.workerGroups.gpu.replicas=4"
    )
    assert not find(objects, "StatefulSet")
    url = one(objects, "Secret", "database")["data"]["url"]
    assert base64.b64decode(url).decode() == "postgresql://hpo@db/hpo"
    gpu = [
        g for g in one(objects, "RayCluster")["spec"]["workerGroupSpecs"] if g["groupName"] == "gpu"
    ]
    assert gpu[0]["replicas"] == 4 and gpu[0]["maxReplicas"] >= 4


def test_sweeps_as_a_job_and_as_a_rayjob() -> None:
    job = one(render(CHART / "ci" / "sweep-job-values.yaml"), "Job")
    sweep = container(job)
    assert sweep["command"] == ["hpo", "sweep"]
    assert sweep["args"][:3] == [
        "/opt/hpo/examples/digits_sgd.py:objective",
        "--study",
        "digits_sgd",
    ]
    assert "--coordinator" in sweep["args"]  # a restarted pod's same command goes on
    env = env_of(sweep)
    assert env["RAY_ADDRESS"] == "ray://hpo-ray-head:10001"
    assert {"HPO_TOKEN", "HPO_TLS_CA"} <= set(env)

    rayjob = one(render(CHART / "ci" / "sweep-rayjob-values.yaml"), "RayJob")
    assert rayjob["spec"]["entrypoint"].startswith("hpo sweep '/opt/hpo/examples/")
    assert rayjob["spec"]["clusterSelector"] == {"ray.io/cluster": "hpo-ray"}


def test_plaintext_coordinators_use_the_kubelets_grpc_probe() -> None:
    objects = render(CHART / "ci" / "bundled-postgresql-values.yaml")
    coordinator = container(one(objects, "Deployment"))
    assert coordinator["readinessProbe"]["grpc"] == {"port": 50051}
    assert "--insecure" in coordinator["args"]
    assert not find(objects, "PodDisruptionBudget")  # one replica


@pytest.mark.parametrize(
    "sets, message",
    [
        (["tls.mode=off"], "coordinator.allowInsecure=true"),
        (["postgresql.bundled.enabled=false"], "no database: set postgresql.url"),
        (["tls.mode=existing"], "tls.existingSecret is required"),
        (["sweep.mode=cron"], "sweep.mode must be job or rayjob"),
    ],
)
def test_settings_that_cannot_work_fail_with_one_clear_line(sets: list[str], message: str) -> None:
    args = ["template", "--namespace", "ml"]
    for setting in sets:
        args += ["--set", setting]
    result = run_helm(*args, check=False)
    assert result.returncode != 0
    assert message in result.stderr


def test_generated_certificate_and_token_work_with_a_real_coordinator(
    tmp_path, sqlite_url, monkeypatch
) -> None:
    secrets = {o["metadata"]["name"]: o["data"] for o in find(render(), "Secret")}
    files = {}
    for secret, key in [
        ("hpo-tls", "tls.crt"),
        ("hpo-tls", "tls.key"),
        ("hpo-tls", "ca.crt"),
        ("hpo-auth", "tokens"),
    ]:
        files[key] = tmp_path / key
        files[key].write_bytes(base64.b64decode(secrets[secret][key]))
    token = base64.b64decode(secrets["hpo-auth"]["token"]).decode()
    security = ServerSecurity(
        str(files["tls.crt"]), str(files["tls.key"]), token_file=str(files["tokens"])
    )
    with Coordinator(sqlite_url, port=0, security=security) as coordinator:
        # The certificate names localhost, which NOTES.txt's port-forward relies on.
        address = f"localhost:{coordinator.port}"
        monkeypatch.setenv("HPO_TLS_CA", str(files["ca.crt"]))
        monkeypatch.setenv("HPO_TOKEN", "hpo_not-the-generated-one")
        with pytest.raises(hpo.errors.UnauthenticatedError):
            hpo.create_study("refused", address=address)
        monkeypatch.setenv("HPO_TOKEN", token)
        study = hpo.create_study("chart", address=address)
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
        assert len(study.trials) == 2


# -- values.yaml against the templates --------------------------------------------------------

_KEY = re.compile(r"^(\s*)([A-Za-z0-9_.\-/]+):(?:\s|$)")
_VALUES_REF = re.compile(r"\.Values((?:\.[A-Za-z_]\w*)+)")
_BINDING = re.compile(r"\$(\w+)\s*:=\s*(\$\w+|\.Values)((?:\.\w+)*)")
_RANGE = re.compile(r"range\s+\$\w+\s*,\s*\$(\w+)\s*:=\s*(\$\w+|\.Values)((?:\.\w+)*)")
_VAR_REF = re.compile(r"\$(\w+)((?:\.[A-Za-z_]\w*)+)")


def values_keys() -> dict[tuple[str, ...], bool]:
    """Every key path of values.yaml -> whether a comment line stands right above it."""
    keys: dict[tuple[str, ...], bool] = {}
    stack: list[tuple[int, str]] = []
    previous = ""
    for line in (CHART / "values.yaml").read_text().splitlines():
        match = _KEY.match(line)
        if match and not line.lstrip().startswith("#"):
            indent = len(match.group(1))
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, match.group(2)))
            keys[tuple(k for _, k in stack)] = previous.lstrip().startswith("#")
        if line.strip():
            previous = line
    return keys


def template_references(keys: set[tuple[str, ...]]) -> set[tuple[str, ...]]:
    """The values paths the templates read, variables and ranges over maps resolved."""
    text = "\n".join(p.read_text() for p in sorted((CHART / "templates").iterdir()))
    bindings: dict[str, tuple[str, ...]] = {}
    ranges: dict[str, tuple[str, ...]] = {}

    def resolve(base: str, rest: str) -> tuple[str, ...] | None:
        path = tuple(rest.strip(".").split(".")) if rest else ()
        if base == ".Values":
            return path
        return bindings[base[1:]] + path if base[1:] in bindings else None

    ranged = {match.group(1) for match in _RANGE.finditer(text)}
    for match in _BINDING.finditer(text):
        path = resolve(match.group(2), match.group(3))
        if path is not None and match.group(1) not in ranged:
            bindings[match.group(1)] = path
    for match in _RANGE.finditer(text):
        prefix = resolve(match.group(2), match.group(3))
        if prefix is not None:
            ranges[match.group(1)] = prefix
    # A binding (`$c := .Values.coordinator`) reads nothing by itself; what reads is $c.port.
    bound = [m.span() for pattern in (_BINDING, _RANGE) for m in pattern.finditer(text)]
    references = set()
    for match in _VALUES_REF.finditer(text):
        if not any(start <= match.start() < end for start, end in bound):
            references.add(tuple(match.group(1).strip(".").split(".")))
    for match in _VAR_REF.finditer(text):
        name, rest = match.group(1), tuple(match.group(2).strip(".").split("."))
        if rest[0] == "Values":
            continue
        if name in bindings:
            references.add(bindings[name] + rest)
        elif name in ranges:
            prefix = ranges[name]
            children = {
                k[len(prefix)] for k in keys if k[: len(prefix)] == prefix and len(k) > len(prefix)
            }
            references |= {prefix + (child,) + rest for child in children}
    return references


def test_every_values_key_is_used_and_commented_and_every_reference_exists() -> None:
    keys = values_keys()
    references = template_references(set(keys))
    missing = sorted(".".join(r) for r in references if r not in keys)
    assert not missing, f"templates read values that values.yaml lacks: {missing}"
    unused = sorted(
        ".".join(k)
        for k in keys
        if not any(k[: len(r)] == r or r[: len(k)] == k for r in references)
    )
    assert not unused, f"values.yaml keys no template reads: {unused}"
    uncommented = sorted(".".join(k) for k, commented in keys.items() if not commented)
    assert not uncommented, f"values.yaml keys without a comment line above: {uncommented}"


# -- the image -------------------------------------------------------------------------------


def dockerfile() -> DockerfileParser:
    parser = DockerfileParser(fileobj=open(ROOT / "Dockerfile", "rb"))  # noqa: SIM115
    assert parser.structure, "the Dockerfile parses to no instruction"
    return parser


def stages(parser: DockerfileParser) -> list[list[dict[str, Any]]]:
    found: list[list[dict[str, Any]]] = []
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            found.append([])
        if found:
            found[-1].append(instruction)
    return found


def test_the_image_is_multi_stage_non_root_and_installs_like_ci() -> None:
    parser = dockerfile()
    build, *_, runtime = stages(parser)
    assert len(stages(parser)) >= 2
    runs = [i["value"] for i in build if i["instruction"] == "RUN"]
    install = [r for r in runs if "scripts/install.sh" in r]
    assert install, "the build stage does not run scripts/install.sh"
    assert not any("pip install" in r for r in runs), "install steps belong in scripts/install.sh"
    copied = " ".join(i["value"] for i in build if i["instruction"] == "COPY")
    for needed in ("pyproject.toml", "scripts/install.sh", "hpo", "workers"):
        assert needed in copied
    users = [i["value"] for i in runtime if i["instruction"] == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^scripts/install\.sh ", ci, re.MULTILINE), ".ci/run must call install.sh"
    assert "pip install" not in ci


def test_rays_version_is_one_value_in_image_and_chart() -> None:
    parser = dockerfile()
    pinned = [
        i["value"].split("=", 1)[1]
        for i in parser.structure
        if i["instruction"] == "ARG" and i["value"].startswith("RAY_VERSION=")
    ]
    chart = yaml.safe_load((CHART / "values.yaml").read_text())["ray"]["version"]
    assert pinned == [chart]
    assert any(
        "--ray-version" in i["value"] and "RAY_VERSION" in i["value"] for i in parser.structure
    )


def test_dockerignore_keeps_what_the_build_copies() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", ".tools"} <= ignored
    assert not ignored & {"hpo", "workers", "scripts", "pyproject.toml", "README.md", "examples"}
