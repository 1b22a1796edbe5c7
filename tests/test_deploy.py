"""The deployment files: Dockerfile, .dockerignore and examples/deploy/ parse, keep their
shape, and agree with each other (port 9108, /healthz, the daemon's command line)."""

from __future__ import annotations

import configparser
import http.server
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import make_url

from spfmanager.config import load_config

ROOT = Path(__file__).parent.parent
DEPLOY = ROOT / "examples" / "deploy"
METRICS_PORT = 9108
CONFIG_PATH = "/config/spfmanager.yaml"
DAEMON_CMD = [
    "daemon",
    "-c",
    CONFIG_PATH,
    "--metrics-address",
    f"0.0.0.0:{METRICS_PORT}",
    "--log-format",
    "json",
]
YAML_FILES = sorted(p for p in DEPLOY.rglob("*") if p.suffix in {".yaml", ".yml"})


def documents(path: Path) -> list[Any]:
    with path.open(encoding="utf-8") as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc is not None]


def option(argv: list[str], name: str) -> str:
    """The value after ``name`` in an argument list."""
    assert name in argv, f"{name} missing from {argv}"
    return argv[argv.index(name) + 1]


def env_references(node: Any) -> set[str]:
    """The NAMEs of every ``env:NAME`` secret reference in a parsed config."""
    if isinstance(node, dict):
        return set().union(*(env_references(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(env_references(value) for value in node))
    if isinstance(node, str) and node.startswith("env:"):
        return {node[len("env:") :]}
    return set()


# --- Dockerfile ----------------------------------------------------------------------------


@cache
def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order; continuations joined, comments dropped (Docker
    drops comment lines inside a continuation too)."""
    result: list[tuple[str, str]] = []
    current = ""
    for raw in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        keyword, _, rest = (current + line).partition(" ")
        result.append((keyword.upper(), rest.strip()))
        current = ""
    assert not current, "the Dockerfile ends inside a continuation"
    return result


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def only(keyword: str) -> str:
    values = [rest for kw, rest in final_stage() if kw == keyword]
    assert len(values) == 1, f"{keyword}: {values}"
    return values[0]


@cache
def healthcheck() -> tuple[dict[str, str], list[str]]:
    """The HEALTHCHECK's options and its exec-form command."""
    match = re.fullmatch(r"((?:--[a-z-]+=\S+\s+)*)CMD\s+(\[.*\])", only("HEALTHCHECK"))
    assert match, "HEALTHCHECK must be '[--option=value ...] CMD [exec form]'"
    options = dict(opt[2:].split("=", 1) for opt in match.group(1).split())
    command: list[str] = json.loads(match.group(2))
    return options, command


def test_base_image_is_a_build_argument() -> None:
    steps = instructions()
    assert steps[0] == ("ARG", "BASE_IMAGE=python:3.11-slim")
    froms = [rest for keyword, rest in steps if keyword == "FROM"]
    assert froms
    assert all(rest.split()[0] == "${BASE_IMAGE}" for rest in froms)


def test_image_installs_the_postgres_extra() -> None:
    runs = " ".join(rest for keyword, rest in instructions() if keyword == "RUN")
    assert 'install ".[postgres]"' in runs


def test_image_runs_as_a_non_root_user() -> None:
    users = [rest for keyword, rest in final_stage() if keyword == "USER"]
    assert users, "no USER in the final stage: the image would run as root"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    # Numeric, so that Kubernetes' runAsNonRoot can verify it; the examples use it.
    assert user.isdigit()
    assert user == "10001"


def test_volumes_workdir_port_entrypoint_and_daemon_command() -> None:
    assert json.loads(only("VOLUME")) == ["/config", "/data"]
    workdirs = [rest for keyword, rest in final_stage() if keyword == "WORKDIR"]
    assert workdirs[-1] == "/data"
    assert only("EXPOSE") == str(METRICS_PORT)
    assert json.loads(only("ENTRYPOINT")) == ["spfmanager"]
    assert json.loads(only("CMD")) == DAEMON_CMD


def test_healthcheck_gives_up_before_docker_kills_it() -> None:
    options, command = healthcheck()
    (seconds,) = re.findall(r"timeout=(\d+)", command[-1])
    assert int(seconds) < int(options["timeout"].removesuffix("s"))


class _Healthz(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        code = type(self).status if self.path == "/healthz" else 404
        body = b"ok\n" if code == 200 else b"unhealthy\n"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def healthz_server() -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Healthz)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        _Healthz.status = 200


def run_healthcheck(port: int) -> subprocess.CompletedProcess[str]:
    """The HEALTHCHECK command as written, on this port, with this test's Python in place of
    the image's virtualenv interpreter. A dead HTTP proxy in the environment proves the
    check does not go through one."""
    _, command = healthcheck()
    assert Path(command[0]).name.startswith("python")
    code = command[-1]
    target = f"http://127.0.0.1:{METRICS_PORT}/healthz"
    assert code.count(target) == 1
    argv = [
        sys.executable,
        *command[1:-1],
        code.replace(target, f"http://127.0.0.1:{port}/healthz"),
    ]
    env = {**os.environ, "http_proxy": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    env.pop("no_proxy", None)
    env.pop("NO_PROXY", None)
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, env=env, check=False)


def test_healthcheck_passes_on_200_and_fails_on_503(
    healthz_server: http.server.ThreadingHTTPServer,
) -> None:
    port = healthz_server.server_address[1]
    healthy = run_healthcheck(port)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    _Healthz.status = 503
    unhealthy = run_healthcheck(port)
    assert unhealthy.returncode != 0
    assert "unhealthy:" in unhealthy.stdout and "503" in unhealthy.stdout
    assert "Traceback" not in unhealthy.stdout + unhealthy.stderr


def test_healthcheck_fails_when_nothing_listens() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_healthcheck(port)
    assert result.returncode != 0
    assert "unhealthy:" in result.stdout


# --- .dockerignore ---------------------------------------------------------------------------


def _pattern(glob: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go filepath.Match plus ``**``) as a regular expression."""
    out, i = "", 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif glob.startswith("**", i):
            out, i = out + ".*", i + 2
        elif glob[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif glob[i] == "?":
            out, i = out + "[^/]", i + 1
        elif glob[i] == "[":
            end = glob.index("]", i)
            out, i = out + glob[i : end + 1], end + 1
        else:
            out, i = out + re.escape(glob[i]), i + 1
    return re.compile(out)


@cache
def ignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for raw in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        rules.append((negated, _pattern(line.lstrip("!").strip("/"))))
    return rules


def in_context(path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for negated, regex in ignore_rules():
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            excluded = not negated
    return not excluded


def test_build_context_has_what_the_build_copies() -> None:
    sources = [
        source
        for keyword, rest in instructions()
        if keyword == "COPY" and not rest.startswith("--from")
        for source in rest.split()[:-1]
    ]
    assert {"pyproject.toml", "README.md", "spfmanager", "providers"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), source
        assert in_context(source), f"{source} is copied but .dockerignore leaves it out"
    for package in ("spfmanager", "providers"):
        for path in (ROOT / package).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                assert in_context(path.relative_to(ROOT).as_posix()), path


@pytest.mark.parametrize(
    "path",
    [
        ".git/HEAD",
        ".venv/bin/python",
        "build/lib/spfmanager/__init__.py",
        "tests/conftest.py",
        "benchmarks/README.md",
        ".env",
        "spfmanager.db",
        "zones/example.com.zone",
        ".spfmanager/demo/spfmanager.yaml",
        "examples/deploy/config/spfmanager.yaml",
        "spfmanager.egg-info/PKG-INFO",
        "spfmanager/__pycache__/errors.cpython-311.pyc",
        "providers/__pycache__/base.cpython-311.pyc",
        ".mypy_cache/3.11/spfmanager/errors.data.json",
    ],
)
def test_build_context_leaves_out(path: str) -> None:
    assert not in_context(path)


# --- YAML examples ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.relative_to(DEPLOY).as_posix())
def test_every_yaml_file_parses(path: Path) -> None:
    docs = documents(path)
    assert docs and all(isinstance(doc, dict) for doc in docs)


def test_the_expected_examples_exist() -> None:
    names = {p.relative_to(DEPLOY).as_posix() for p in DEPLOY.rglob("*") if p.is_file()}
    assert {
        "README.md",
        "docker-compose.yaml",
        "config/spfmanager.yaml",
        "github-actions/spfmanager.yml",
        "kubernetes/cronjob.yaml",
        "kubernetes/deployment.yaml",
        "systemd/spfmanager.service",
    } <= names


def test_compose_config_is_valid() -> None:
    config = load_config(DEPLOY / "config" / "spfmanager.yaml")
    assert config.domains
    # Relative paths would land in the read-only /config mount.
    for provider in config.providers.values():
        directory = provider.options.get("directory")
        if directory is not None:
            assert str(directory).startswith("/data/")


@cache
def k8s(name: str) -> dict[str, list[dict[str, Any]]]:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for doc in documents(DEPLOY / "kubernetes" / name):
        by_kind.setdefault(doc["kind"], []).append(doc)
    return by_kind


def container_port(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in container["ports"] if p.get("name") == port]
    return int(number)


def assert_hardened(pod: dict[str, Any], container: dict[str, Any]) -> None:
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    context = container["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]
    assert {"requests", "limits"} <= set(container["resources"])
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert {"/config", "/data", "/tmp"} <= set(mounts)  # the root filesystem is read-only
    assert mounts["/config"]["readOnly"] is True


def assert_uses_config_and_secret(pod: dict[str, Any], container: dict[str, Any]) -> None:
    """The container reads deployment.yaml's ConfigMap at /config, and every env: reference
    in that config is an environment variable filled from its Secret."""
    (config_map,) = k8s("deployment.yaml")["ConfigMap"]
    (secret,) = k8s("deployment.yaml")["Secret"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/config"]
    assert volumes[mount["name"]]["configMap"]["name"] == config_map["metadata"]["name"]
    assert option(container["args"], "-c") == CONFIG_PATH
    assert Path(CONFIG_PATH).name in config_map["data"]
    config = yaml.safe_load(config_map["data"][Path(CONFIG_PATH).name])
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
    for name in env_references(config) | {"PGPASSWORD"}:
        assert env[name]["name"] == secret["metadata"]["name"], name
        assert env[name]["key"] in secret["stringData"], name


def test_kubernetes_config_map_holds_a_valid_config(tmp_path: Path) -> None:
    (config_map,) = k8s("deployment.yaml")["ConfigMap"]
    path = tmp_path / "spfmanager.yaml"
    path.write_text(config_map["data"]["spfmanager.yaml"], encoding="utf-8")
    config = load_config(path)
    assert config.domains
    url = make_url(config.state.url)
    assert url.get_backend_name() == "postgresql"
    assert url.password is None  # libpq reads PGPASSWORD from the Secret


def test_kubernetes_deployment_runs_two_daemons_probed_on_healthz() -> None:
    (deployment,) = k8s("deployment.yaml")["Deployment"]
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    args = container["args"]
    assert args[0] == "daemon"
    address = option(args, "--metrics-address")
    assert address == f"0.0.0.0:{METRICS_PORT}"
    for probe in ("livenessProbe", "readinessProbe"):
        get = container[probe]["httpGet"]
        assert get["path"] == "/healthz", probe
        assert container_port(container, get["port"]) == METRICS_PORT, probe
    assert pod["terminationGracePeriodSeconds"] >= 30  # the running apply finishes
    assert_hardened(pod, container)
    assert_uses_config_and_secret(pod, container)


def test_kubernetes_cronjob_runs_run_once_never_twice_at_a_time() -> None:
    (cronjob,) = k8s("cronjob.yaml")["CronJob"]
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    assert container["args"][0] == "run-once"
    assert_hardened(pod, container)
    assert_uses_config_and_secret(pod, container)


@cache
def compose() -> dict[str, Any]:
    (doc,) = documents(DEPLOY / "docker-compose.yaml")
    services: dict[str, Any] = doc["services"]
    return services


def test_compose_runs_postgres_and_two_daemons_sharing_it() -> None:
    services = compose()
    postgres = services["postgres"]
    assert postgres["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    daemons = {name: s for name, s in services.items() if s.get("command", [None])[0] == "daemon"}
    assert len(daemons) == 2
    urls = {option(s["command"], "--state") for s in daemons.values()}
    assert len(urls) == 1, "the daemons must share one state store"
    url = make_url(urls.pop())
    assert url.get_backend_name() == "postgresql"
    assert url.host == "postgres"
    assert url.password is None  # from PGPASSWORD, not on the command line
    _, image_check = healthcheck()
    host_ports = set()
    for name, service in daemons.items():
        assert service["command"] == [*DAEMON_CMD[:3], "--state", str(url), *DAEMON_CMD[3:]]
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy", name
        assert service["environment"]["PGPASSWORD"].startswith("${POSTGRES_PASSWORD")
        assert service["healthcheck"]["test"] == ["CMD", *image_check], name
        assert service["build"]["args"]["BASE_IMAGE"]
        assert (DEPLOY / service["build"]["context"] / "Dockerfile").is_file()
        assert "./config:/config:ro" in service["volumes"]
        (port,) = service["ports"]
        host, container = port.rsplit(":", 1)
        assert container == str(METRICS_PORT)
        assert host.startswith("127.0.0.1:")
        host_ports.add(host)
    assert len(host_ports) == 2


# --- GitHub Actions ------------------------------------------------------------------------


@cache
def workflow() -> dict[Any, Any]:
    (doc,) = documents(DEPLOY / "github-actions" / "spfmanager.yml")
    assert isinstance(doc, dict)
    return doc


def triggers() -> dict[str, Any]:
    on = workflow().get("on", workflow().get(True))  # YAML 1.1 reads the key on: as True
    assert isinstance(on, dict)
    return on


def steps() -> Iterator[tuple[str, dict[str, Any]]]:
    for job_name, job in workflow()["jobs"].items():
        for step in job["steps"]:
            yield job_name, step


def job_running(command: str) -> tuple[dict[str, Any], dict[str, Any]]:
    (found,) = [
        (workflow()["jobs"][name], step) for name, step in steps() if command in step.get("run", "")
    ]
    return found


def test_workflow_plans_pull_requests_and_applies_main() -> None:
    on = triggers()
    assert "pull_request" in on
    assert "pull_request_target" not in on  # would hand the secrets to a fork's code
    assert on["push"]["branches"] == ["main"]
    plan_job, plan_step = job_running("spfmanager plan")
    assert "--markdown" in plan_step["run"]
    assert "pull_request" in plan_job["if"]
    assert plan_job["permissions"]["pull-requests"] == "write"
    apply_job, _ = job_running("spfmanager apply")
    assert "refs/heads/main" in apply_job["if"]
    assert apply_job["concurrency"]["cancel-in-progress"] is False
    assert workflow()["permissions"] == {"contents": "read"}
    script = next(s for _, s in steps() if "github-script" in s.get("uses", ""))["with"]["script"]
    assert "updateComment" in script and "createComment" in script


@pytest.mark.parametrize("exit_code", [0, 2, 1])
def test_workflow_plan_step_treats_exit_2_as_changes(tmp_path: Path, exit_code: int) -> None:
    """Run the plan step's shell under bash -e (as Actions does) with an ``spfmanager`` that
    exits ``exit_code``: the step itself succeeds and reports the status; only the
    failure step, whose condition excludes 0 and 2, fails the job."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "spfmanager"
    fake.write_text(f"#!/bin/sh\necho '## spfmanager plan'\nexit {exit_code}\n", encoding="utf-8")
    fake.chmod(0o755)
    _, step = job_running("spfmanager plan")
    outputs, summary = tmp_path / "output", tmp_path / "summary"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(summary),
        **workflow()["env"],
    }
    result = subprocess.run(
        ["bash", "-e", "-c", step["run"]], cwd=tmp_path, env=env, capture_output=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert outputs.read_text() == f"status={exit_code}\n"
    assert (tmp_path / "plan.md").read_text() == "## spfmanager plan\n"
    assert "## spfmanager plan" in summary.read_text()
    (failure,) = [s for _, s in steps() if "steps.plan.outputs.status" in s.get("if", "")]
    assert failure["if"] == "steps.plan.outputs.status != '0' && steps.plan.outputs.status != '2'"
    assert "exit 1" in failure["run"]


def test_workflow_never_prints_secrets() -> None:
    secret_vars = set()
    for _, step in steps():
        for name, value in step.get("env", {}).items():
            if "secrets." in str(value):
                secret_vars.add(name)
    assert {"CLOUDFLARE_API_TOKEN", "PGPASSWORD"} <= secret_vars
    for job_name, step in steps():
        where = f"{job_name}: {step.get('name', step.get('uses'))}"
        code = step.get("run", "") + step.get("with", {}).get("script", "")
        # Secrets (and untrusted event fields) reach scripts only through env, never
        # interpolated into the script text.
        assert "${{" not in code, where
        assert not re.search(r"\bset\s+-[a-z]*x", code), where
        assert not re.search(r"\b(printenv|env)\b\s*($|\|)", code, re.M), where
        for name in secret_vars:
            assert not re.search(rf"\$\{{?{name}\b|process\.env\.{name}\b", code), (where, name)


# --- systemd -----------------------------------------------------------------------------------


@cache
def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(DEPLOY / "systemd" / "spfmanager.service", encoding="utf-8")
    return parser


def test_systemd_unit_runs_the_daemon_hardened() -> None:
    service = unit()["Service"]
    argv = shlex.split(service["ExecStart"])
    assert Path(argv[0]).is_absolute() and Path(argv[0]).name == "spfmanager"
    assert argv[1] == "daemon"
    assert option(argv, "-c").startswith("/etc/spfmanager/")
    assert option(argv, "--metrics-address") == f"127.0.0.1:{METRICS_PORT}"
    assert service["Restart"] == "on-failure"
    assert service["ProtectSystem"] == "strict"
    assert service.get("DynamicUser") == "yes" or service.get("User") not in {None, "root"}
    assert service["StateDirectory"] == "spfmanager"
    assert service["ReadWritePaths"]
    assert service["EnvironmentFile"]
    assert service["NoNewPrivileges"] == "yes"
    assert unit()["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    """systemd's own parser: unknown or misspelt directives are errors. The executable is
    swapped for one that exists here."""
    text = (DEPLOY / "systemd" / "spfmanager.service").read_text(encoding="utf-8")
    true = shutil.which("true")
    assert true
    copy = tmp_path / "spfmanager.service"
    copy.write_text(text.replace("/opt/spfmanager/bin/spfmanager", true), encoding="utf-8")
    result = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "Unknown key" not in result.stderr and "Unknown section" not in result.stderr
