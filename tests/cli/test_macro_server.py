"""``spfmanager macro-server``: the proven data file written, the rbldnsd command printed,
and with --exec rbldnsd itself serving it on 127.0.0.1 (queried with dnspython)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from ipaddress import ip_address
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rdatatype
import pytest
import yaml

from spfmanager.cli.macro_server import rbldnsd_command
from spfmanager.config import load_config
from spfmanager.macro import query_name

EXAMPLE = Path(__file__).parents[2] / "examples" / "macro"
ZONE = "spf.bigcorp.example"
DNS = ("--dns-snapshot", "dns-snapshot.yaml")


def spfmanager(*args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "spfmanager", *args],
        check=False, cwd=cwd, capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "250"},
    )  # fmt: skip


@pytest.fixture
def example() -> Iterator[Path]:
    # Not under pytest's 0700 tmp_path: rbldnsd started as root reads as its own user.
    directory = Path(tempfile.mkdtemp(prefix="spfmanager-macro-server-"))
    directory.chmod(0o755)
    for name in ("spfmanager.yaml", "dns-snapshot.yaml"):
        shutil.copy(EXAMPLE / name, directory / name)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def test_it_writes_the_data_file_and_prints_the_rbldnsd_command(example: Path) -> None:
    done = spfmanager("macro-server", *DNS, cwd=example)
    assert done.returncode == 0, done.stderr
    first, command = done.stdout.splitlines()
    assert first == "macro data: rbldnsd/macro.data: 316 entries, written"
    words = command.split()
    assert Path(words[0]).name == "rbldnsd"
    assert words[1:] == [
        "-n", "-f", "-c", "60", "-b", "127.0.0.1/5353", "-w", str((example / "rbldnsd").resolve()),
        "-t", "300", f"{ZONE}:combined:macro.data",
    ]  # fmt: skip
    data = (example / "rbldnsd" / "macro.data").read_text()
    assert "$DATASET ip4trie:in-addr.bigcorp.example" in data
    mtime = (example / "rbldnsd" / "macro.data").stat().st_mtime_ns
    again = spfmanager("macro-server", *DNS, "--json", cwd=example)
    report = json.loads(again.stdout)
    assert report["written"] is False and report["entries"] == 316
    assert report["domains"] == ["bigcorp.example", "shop.bigcorp.example"]
    assert (example / "rbldnsd" / "macro.data").stat().st_mtime_ns == mtime


def test_without_a_macro_domain_it_fails(example: Path) -> None:
    config = yaml.safe_load((example / "spfmanager.yaml").read_text())
    config["defaults"]["mode"] = "flatten"
    (example / "spfmanager.yaml").write_text(yaml.safe_dump(config))
    done = spfmanager("macro-server", *DNS, cwd=example)
    assert done.returncode == 1
    assert "no domain has 'mode: macro': nothing to serve" in done.stderr
    del config["macro"]
    (example / "spfmanager.yaml").write_text(yaml.safe_dump(config))
    done = spfmanager("macro-server", *DNS, cwd=example)
    assert done.returncode == 1 and "no 'macro:' section" in done.stderr


def test_the_records_backend_has_no_rbldnsd_to_serve(example: Path) -> None:
    config = yaml.safe_load((example / "spfmanager.yaml").read_text())
    config["macro"].update(backend="records", provider="local", provider_zone="bigcorp.example")
    (example / "spfmanager.yaml").write_text(yaml.safe_dump(config))
    done = spfmanager("macro-server", *DNS, cwd=example)
    assert done.returncode == 1, done.stdout
    assert "macro.backend is records: provider local serves the records" in done.stderr
    assert not (example / "rbldnsd").exists()


def test_a_broken_upstream_keeps_that_domain_at_its_last_good_answers(example: Path) -> None:
    assert spfmanager("macro-server", *DNS, cwd=example).returncode == 0
    good = (example / "rbldnsd" / "macro.data").read_text()
    snapshot = yaml.safe_load((example / "dns-snapshot.yaml").read_text())
    snapshot["_spf.google.com"] = ["TIMEOUT"]
    (example / "dns-snapshot.yaml").write_text(yaml.safe_dump(snapshot))
    done = spfmanager("macro-server", *DNS, cwd=example)
    assert done.returncode == 0, done.stdout + done.stderr  # a valid file is still served
    assert "not built bigcorp.example" in done.stdout
    assert "bigcorp.example keeps its last good answers" in done.stderr
    assert (example / "rbldnsd" / "macro.data").read_text() == good  # shop's are unchanged


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def txt(name: str, port: int) -> list[bytes]:
    query = dns.message.make_query(name, dns.rdatatype.TXT)
    response = dns.query.udp(query, "127.0.0.1", port=port, timeout=0.5)
    return [b"".join(r.strings) for rrset in response.answer for r in rrset]


def test_exec_replaces_itself_with_rbldnsd_serving_the_data(example: Path) -> None:
    if shutil.which("rbldnsd") is None and not Path("/usr/sbin/rbldnsd").exists():
        pytest.skip("rbldnsd is not installed (apt-get install rbldnsd)")
    port = free_port()
    config = yaml.safe_load((example / "spfmanager.yaml").read_text())
    config["macro"]["listen"] = f"127.0.0.1/{port}"
    (example / "spfmanager.yaml").write_text(yaml.safe_dump(config))
    process = subprocess.Popen(
        [sys.executable, "-m", "spfmanager", "macro-server", *DNS, "--exec"],
        cwd=example, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        google = query_name(ip_address("74.125.1.2"), "bigcorp.example", ZONE)
        elsewhere = query_name(ip_address("203.0.113.9"), "shop.bigcorp.example", ZONE)
        ipv6 = query_name(ip_address("2001:4860:4000::1"), "bigcorp.example", ZONE)
        deadline = time.monotonic() + 60
        answers = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                answers = [txt(google, port), txt(elsewhere, port), txt(ipv6, port)]
                break
            except (dns.exception.DNSException, OSError):
                time.sleep(0.1)
        assert process.poll() is None, process.communicate()[0]
        assert answers == [[b"v=spf1 +all"], [b"v=spf1 -all"], [b"v=spf1 +all"]]
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0].decode()
    assert process.returncode is not None
    assert output.startswith("macro data: rbldnsd/macro.data: 316 entries, written\n"), output


def test_the_compose_file_serves_what_macro_server_prints() -> None:
    compose = yaml.safe_load((EXAMPLE / "docker-compose.yml").read_text())
    assert set(compose) == {"name", "services", "volumes"}
    services = compose["services"]
    assert set(services) == {"spfmanager", "rbldnsd"}
    daemon, rbldnsd = services["spfmanager"], services["rbldnsd"]
    assert (EXAMPLE / daemon["build"]["context"] / "Dockerfile").is_file()
    assert "spfmanager daemon -c /data/spfmanager.yaml" in daemon["command"][0]
    assert "macro-data:/data" in daemon["volumes"] and "./:/config:ro" in daemon["volumes"]
    assert rbldnsd["volumes"] == ["macro-data:/data:ro"]  # the same volume, read-only
    assert "rbldnsd" in rbldnsd["build"]["dockerfile_inline"]
    assert rbldnsd["depends_on"] == {"spfmanager": {"condition": "service_healthy"}}
    assert set(compose["volumes"]) == {"macro-data"}
    config = load_config(EXAMPLE / "spfmanager.yaml")
    assert config.macro is not None
    settings = config.macro.model_copy(update={"listen": "0.0.0.0/53"})
    expected = rbldnsd_command(settings, Path("/data") / config.macro.data_file)
    # (-w resolves the path on this machine: compare the container's directory instead)
    expected[expected.index("-w") + 1] = "/data/rbldnsd"
    assert ["rbldnsd", *rbldnsd["command"]] == expected
    for service in services.values():
        for key in ("build", "image", "restart", "volumes"):
            assert key in service


def test_the_example_readme_commands_run_from_the_repo_root(tmp_path: Path) -> None:
    text = (EXAMPLE / "README.md").read_text()
    commands = [line.split()[1:] for line in text.splitlines() if line.startswith("spfmanager ")]
    assert [c[0] for c in commands] == ["plan", "apply", "macro-server"]
    shutil.copytree(EXAMPLE, tmp_path / "examples" / "macro")
    for args, allowed in zip(commands, ({0, 2}, {0}, {0}), strict=True):
        done = spfmanager(*args, cwd=tmp_path)
        assert done.returncode in allowed, (args, done.stdout, done.stderr)
    assert (tmp_path / "examples" / "macro" / "rbldnsd" / "macro.data").is_file()
    zone = (tmp_path / "examples" / "macro" / "zones" / "bigcorp.example.zone").read_text()
    assert "include:%{ir}.%{v}.%{d}.spf.bigcorp.example ~all" in zone


def test_the_readme_shows_the_same_macro_commands() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    example = (EXAMPLE / "README.md").read_text()

    def macro_commands(text: str) -> list[str]:
        return [line for line in text.splitlines() if line.startswith("spfmanager ") and
                "examples/macro/" in line]  # fmt: skip

    assert macro_commands(readme) == macro_commands(example) != []
