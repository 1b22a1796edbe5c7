"""End-to-end acceptance of the re-flatten daemon (issue 9) with a real BIND on 127.0.0.1.

BIND serves the upstream includes (zone ``vendor.test``: services ``x`` and ``y``); the
domain is published to a zone file (and in one scenario by RFC 2136 to a second BIND).
Upstream changes are made in BIND itself: new addresses, a zone that is no longer served
(REFUSED), an include that vanishes (NXDOMAIN), ``+all``, a service that loses most of its
addresses; a timeout is a nameserver that reads queries and never answers. What is
published is checked as a receiver sees it: ``spfmanager.evaluate`` over the served
records. Alerts are received by a real HTTP server on loopback.

The runner-level tests drive ``run-once``/``status``/``approve``/``history``/``rollback``
through the CLI (in process) and, for the timeout, the :class:`Runner` with a short-lived
resolver; the last two start the real ``spfmanager daemon`` process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import dns.exception
import dns.name
import dns.zone
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

import spfmanager
from spfmanager.cli import app
from spfmanager.daemon.observers import standard_observers
from spfmanager.daemon.runner import DomainRun, Outcome, Runner
from spfmanager.dns.base import Resolver
from spfmanager.dns.overlay import OverlayResolver
from spfmanager.dns.resolver import LiveResolver
from spfmanager.dns.snapshot import SnapshotResolver
from spfmanager.publish.workflow import Workspace
from tests.integration.bind import BindFactory, BindServer, Zonedata, free_port, named_binary
from tests.integration.webhook import WebhookSink

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(named_binary() is None, reason="BIND 9 named is not installed"),
]

Result = spfmanager.Result
DOMAIN = "example.com"
VENDOR = "vendor.test"  # RFC 2606: never a real name
X_NAME = f"_spf.x.{VENDOR}"
Y_NAME = f"_spf.y.{VENDOR}"
X_OLD = "v=spf1 ip4:198.51.100.0/26 ip4:203.0.113.0/28 -all"  # 80 addresses
X_NEW = "v=spf1 ip4:198.51.100.0/26 ip4:203.0.113.16/28 -all"  # one /28 moved
X_SHRUNK = "v=spf1 ip4:203.0.113.0/28 -all"  # 16 of 80 left: -80 %
X_SHRUNK_MORE = "v=spf1 ip4:203.0.113.0/29 -all"
X_ALL = "v=spf1 +all"
Y_RECORD = "v=spf1 ip4:192.0.2.0/27 -all"

# Receiver checks: addresses at the edges of what each upstream version authorizes.
ALWAYS = {"192.0.2.0": Result.PASS, "192.0.2.31": Result.PASS, "192.0.2.32": Result.FAIL}
OLD = {"203.0.113.1": Result.PASS, "203.0.113.15": Result.PASS, "203.0.113.17": Result.FAIL}
NEW = {"203.0.113.1": Result.FAIL, "203.0.113.16": Result.PASS, "203.0.113.31": Result.PASS}
WIDE = {"198.51.100.0": Result.PASS, "198.51.100.63": Result.PASS, "198.51.100.64": Result.FAIL}
NARROW = {"198.51.100.1": Result.FAIL, "203.0.113.1": Result.PASS, "203.0.113.16": Result.FAIL}
OUTSIDE = {"10.0.0.1": Result.FAIL, "2001:db8::1": Result.FAIL}

NOTIFY_TIMEOUT = 5.0  # seconds a webhook body may take to arrive (run-once sends before exit)
DAEMON_START_TIMEOUT = 20.0  # interpreter start, first pass, first publish
DAEMON_STOP_TIMEOUT = 10.0
SIGTERM_EXIT_WITHIN = 5.0
LAST_OUTCOME = "spfmanager_domain_last_outcome"
OUTCOMES = ("applied", "unchanged", "held", "upstream-error", "failed", "skipped")


def upstream(x: str | None = X_OLD) -> Zonedata:
    """The vendor zone: ``x``'s record (absent: NXDOMAIN) and ``y``'s."""
    zone: dict[str, Any] = {Y_NAME: [{"TXT": Y_RECORD}]}
    if x is not None:
        zone[X_NAME] = [{"TXT": x}]
    return zone


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def upstream_bind(bind_server_factory: BindFactory) -> BindServer:
    return bind_server_factory({VENDOR: upstream()})


@pytest.fixture
def vendor(upstream_bind: BindServer) -> BindServer:
    """The upstream BIND, serving the vendor zone as it starts every test."""
    upstream_bind.load({VENDOR: upstream()})
    return upstream_bind


@pytest.fixture
def hook() -> Iterator[WebhookSink]:
    with WebhookSink() as sink:
        yield sink


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback only: an environment proxy must not take webhook requests elsewhere."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@contextlib.contextmanager
def silent_nameserver() -> Iterator[int]:
    """A UDP port on 127.0.0.1 that takes queries and never answers: a timeout."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


# -- config and passes ---------------------------------------------------------------------


def write_config(
    tmp_path: Path,
    *,
    hook: WebhookSink | None = None,
    provider: dict[str, Any] | None = None,
    domain: str = DOMAIN,
    schedule: dict[str, Any] | None = None,
) -> Path:
    defaults: dict[str, Any] = {"policy": "-all", "ttl": 300, "provider": "dns"}
    if schedule is not None:
        defaults["schedule"] = schedule
    config: dict[str, Any] = {
        "defaults": defaults,
        "providers": {"dns": provider or {"kind": "zonefile", "directory": "zones"}},
        "state": {"url": "sqlite:///state.db"},
        "services": {
            "x": {"name": "Vendor X", "include": [X_NAME]},
            "y": {"name": "Vendor Y", "include": [Y_NAME]},
        },
        "domains": {domain: {"services": ["x", "y"]}},
    }
    if hook is not None:
        config["notifications"] = {
            "error_after": 1,
            "channels": [{"kind": "webhook", "url": hook.url}],
        }
    path = tmp_path / "spfmanager.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def cli(*args: str) -> tuple[int, str]:
    """Run one spfmanager command in process: exit code and output (stdout and stderr)."""
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def run_once(config: Path, bind: BindServer) -> tuple[int, dict[str, Any]]:
    """``spfmanager run-once --json`` against ``bind``: exit code and the domain's run."""
    code, output = cli(
        "run-once", "-c", str(config), "--nameserver", bind.host, "--port", str(bind.port),
        "--json",
    )  # fmt: skip
    (run,) = json.loads(output)["runs"]
    return code, run


def runner_pass(config: Path, resolver: Resolver) -> DomainRun:
    """One pass of the Runner over ``resolver``, observed exactly as ``run-once`` observes."""
    notifications = Workspace.load(config, SnapshotResolver({})).config.notifications
    observers = standard_observers(notifications, config.parent)
    (run,) = Runner(config, lambda: resolver, observers=observers).run()
    return run


def status(config: Path) -> tuple[int, dict[str, Any]]:
    code, output = cli("status", "-c", str(config), "--json")
    (row,) = json.loads(output)["domains"]
    return code, row


# -- what receivers see ----------------------------------------------------------------------


def zone_path(tmp_path: Path) -> Path:
    return tmp_path / "zones" / f"{DOMAIN}.zone"


def zone_records(path: Path, origin: str = DOMAIN) -> dict[str, list[list[str]]]:
    """The TXT records a zone file serves: name -> records (each a list of strings)."""
    zone = dns.zone.from_text(path.read_text(encoding="ascii"), origin=f"{origin}.")
    out: dict[str, list[list[str]]] = {}
    for name, rdataset in zone.iterate_rdatasets("TXT"):
        fqdn = name.derelativize(dns.name.from_text(f"{origin}.")).to_text().rstrip(".")
        out[fqdn] = [[s.decode() for s in r.strings] for r in rdataset]
    return out


def assert_receivers_see(
    resolver: Resolver, *expected: dict[str, Result], domain: str = DOMAIN
) -> None:
    """Every address gets its expected SPF result for MAIL FROM ``alice@domain``."""
    wrong = {}
    for table in expected:
        for ip, want in table.items():
            got = spfmanager.evaluate(
                ip, f"alice@{domain}", f"mail.{domain}", resolver=resolver
            ).result
            if got is not want:
                wrong[ip] = f"{got} (expected {want})"
    assert not wrong, wrong


def assert_zone_authorizes(tmp_path: Path, bind: BindServer, *expected: dict[str, Result]) -> None:
    """The zone file, served over the upstream BIND, gives receivers these results."""
    served = OverlayResolver(bind.resolver(cache=False), zone_records(zone_path(tmp_path)))
    assert_receivers_see(served, *expected)


def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    """Poll ``predicate`` until true or ``timeout`` seconds passed (bounded in count too)."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / step) + 2):
        if predicate():
            return True
        if time.monotonic() >= deadline:
            break
        time.sleep(step)
    return predicate()


# -- 1. runner and run-once ------------------------------------------------------------------


def test_an_upstream_address_change_is_published_proven_and_shown_by_history(
    tmp_path: Path, vendor: BindServer, hook: WebhookSink
) -> None:
    config = write_config(tmp_path, hook=hook)
    code, run = run_once(config, vendor)
    assert (code, run["outcome"]) == (0, "applied"), run
    assert_zone_authorizes(tmp_path, vendor, ALWAYS, OLD, WIDE, OUTSIDE)

    before = zone_path(tmp_path).read_bytes()
    code, run = run_once(config, vendor)
    assert (code, run["outcome"], run["diff"]) == (0, "unchanged", []), run
    assert zone_path(tmp_path).read_bytes() == before

    vendor.add_zone(VENDOR, upstream(X_NEW))
    code, run = run_once(config, vendor)
    assert (code, run["outcome"]) == (0, "applied"), run
    diff = ["- services.x 203.0.113.0/28", "+ services.x 203.0.113.16/28"]
    assert run["diff"] == diff
    assert run["changes"] == [f"update {DOMAIN}"]
    assert_zone_authorizes(tmp_path, vendor, ALWAYS, NEW, WIDE, OUTSIDE)

    code, output = cli("history", DOMAIN, "-c", str(config), "--json")
    assert code == 0
    runs = json.loads(output)["runs"]
    assert [r["outcome"] for r in runs] == ["applied", "unchanged", "applied"]
    assert runs[0]["diff"] == diff and runs[1]["diff"] == []
    code, text = cli("history", DOMAIN, "-c", str(config))
    assert code == 0
    assert all(line in text for line in diff), text

    applied = hook.wait_for(lambda e: e.get("details", {}).get("diff") == diff, NOTIFY_TIMEOUT)
    assert applied is not None, hook.events()
    assert applied["kind"] == "applied" and applied["domain"] == DOMAIN
    assert applied["_content_type"] == "application/json"
    assert hook.kinds(DOMAIN) == ["applied", "applied"]  # no event for an unchanged run


@pytest.mark.parametrize("failure", ["timeout", "refused", "nxdomain"])
def test_an_upstream_failure_publishes_nothing_alerts_and_recovers(
    tmp_path: Path, vendor: BindServer, hook: WebhookSink, failure: str
) -> None:
    config = write_config(tmp_path, hook=hook)
    healthy = vendor.resolver(cache=False)
    assert runner_pass(config, healthy).outcome is Outcome.APPLIED
    published = zone_path(tmp_path).read_bytes()
    hook.clear()

    with silent_nameserver() as port:
        if failure == "timeout":
            broken = LiveResolver(["127.0.0.1"], port=port, timeout=0.2, lifetime=0.4, cache=False)
        else:
            vendor.load({} if failure == "refused" else {VENDOR: upstream(x=None)})
            broken = healthy
        for _ in range(2):  # the alert is sent once per failure streak
            started = time.monotonic()
            run = runner_pass(config, broken)
            assert run.outcome is Outcome.UPSTREAM_ERROR, run
            assert time.monotonic() - started < 10
            assert "last good record" in run.reason
            assert run.cause == ("upstream" if failure == "nxdomain" else "dns-temporary")
            assert zone_path(tmp_path).read_bytes() == published
    (error,) = hook.events(DOMAIN, "error")  # notifications are sent before the pass returns
    cause = {"timeout": "timeout", "refused": "REFUSED", "nxdomain": "NXDOMAIN"}[failure]
    assert cause in run.reason
    assert error["details"]["failures"] == 1
    assert cause in error["details"]["error"]
    code, row = status(config)
    assert code == 2 and row["last_run"]["outcome"] == "upstream-error"
    assert_zone_authorizes(tmp_path, vendor, ALWAYS, OLD, WIDE, OUTSIDE)

    vendor.load({VENDOR: upstream()})
    run = runner_pass(config, healthy)
    assert run.outcome is Outcome.UNCHANGED, run
    assert run.diff == ()  # the failed runs knew no addresses: nothing moved since the last
    recovered = hook.wait_for(lambda e: e.get("kind") == "recovered", NOTIFY_TIMEOUT)
    assert recovered is not None, hook.events()
    assert recovered["details"]["failures"] == 2
    assert hook.kinds(DOMAIN) == ["error", "recovered"]
    assert status(config)[0] == 0
    runs = json.loads(cli("history", DOMAIN, "-c", str(config), "--json")[1])["runs"]
    assert [r["outcome"] for r in runs] == [
        "unchanged",
        "upstream-error",
        "upstream-error",
        "applied",
    ]
    assert [r["diff"] for r in runs] == [[], [], [], []]


def test_plus_all_upstream_is_held_and_the_hold_drops_when_upstream_returns(
    tmp_path: Path, vendor: BindServer, hook: WebhookSink
) -> None:
    config = write_config(tmp_path, hook=hook)
    assert run_once(config, vendor)[0] == 0
    published = zone_path(tmp_path).read_bytes()

    vendor.add_zone(VENDOR, upstream(X_ALL))
    for _ in range(2):  # held again, alerted once
        code, run = run_once(config, vendor)
        assert (code, run["outcome"]) == (2, "held"), run
        assert "'+all'" in run["reason"] and "spfmanager approve" in run["reason"]
        assert zone_path(tmp_path).read_bytes() == published
    held = hook.wait_for(lambda e: e.get("kind") == "held", NOTIFY_TIMEOUT)
    assert held is not None and held["domain"] == DOMAIN
    assert "'+all'" in held["details"]["reasons"][0]
    assert {"+ services.x 0.0.0.0/1", "+ services.x ::/0"} <= set(held["details"]["diff"])
    code, row = status(config)
    assert code == 2 and row["hold"] is not None and "'+all'" in row["hold"]["reason"]
    assert row["last_run"]["outcome"] == "held" and not row["hold"]["approved"]
    assert_zone_authorizes(tmp_path, vendor, ALWAYS, OLD, WIDE, OUTSIDE)

    vendor.add_zone(VENDOR, upstream(X_OLD))
    code, run = run_once(config, vendor)
    assert (code, run["outcome"]) == (0, "unchanged"), run
    assert "hold dropped" in run["reason"]
    code, row = status(config)
    assert (code, row["hold"]) == (0, None)
    assert zone_path(tmp_path).read_bytes() == published
    assert hook.kinds(DOMAIN) == ["applied", "held"]


def test_a_service_losing_most_addresses_is_held_until_approved(
    tmp_path: Path, vendor: BindServer, hook: WebhookSink
) -> None:
    config = write_config(tmp_path, hook=hook)
    assert run_once(config, vendor)[0] == 0
    published = zone_path(tmp_path).read_bytes()
    assert cli("approve", DOMAIN, "-c", str(config))[0] == 1  # nothing is held

    vendor.add_zone(VENDOR, upstream(X_SHRUNK))
    code, run = run_once(config, vendor)
    assert (code, run["outcome"]) == (2, "held"), run
    assert "services.x: IPv4 addresses shrank from 80 to 16" in run["reason"]
    assert zone_path(tmp_path).read_bytes() == published
    held = hook.wait_for(lambda e: e.get("kind") == "held", NOTIFY_TIMEOUT)
    assert held is not None and "- services.x 198.51.100.0/26" in held["details"]["diff"]
    code, row = status(config)
    assert code == 2 and "shrank" in row["hold"]["reason"]

    # An approval lets exactly the held change through: upstream moved on, so held anew.
    code, output = cli("approve", DOMAIN, "-c", str(config))
    assert code == 0 and "approved" in output
    vendor.add_zone(VENDOR, upstream(X_SHRUNK_MORE))
    code, run = run_once(config, vendor)
    assert (code, run["outcome"]) == (2, "held"), run
    assert "from 80 to 8" in run["reason"]
    assert zone_path(tmp_path).read_bytes() == published
    assert not status(config)[1]["hold"]["approved"]

    vendor.add_zone(VENDOR, upstream(X_SHRUNK))
    assert run_once(config, vendor)[1]["outcome"] == "held"
    assert cli("approve", DOMAIN, "-c", str(config))[0] == 0
    assert status(config)[1]["hold"]["approved"]
    code, run = run_once(config, vendor)
    assert (code, run["outcome"]) == (0, "applied"), run
    assert "approved change" in run["reason"]
    assert_zone_authorizes(tmp_path, vendor, ALWAYS, NARROW, OUTSIDE)
    code, row = status(config)
    assert (code, row["hold"]) == (0, None)
    code, run = run_once(config, vendor)  # the new size is the baseline now
    assert (code, run["outcome"]) == (0, "unchanged"), run


def test_rollback_republishes_the_previous_applied_run_and_pins_it_until_approved(
    tmp_path: Path, vendor: BindServer
) -> None:
    config = write_config(tmp_path)
    assert run_once(config, vendor)[1]["outcome"] == "applied"
    first = zone_records(zone_path(tmp_path))
    vendor.add_zone(VENDOR, upstream(X_NEW))
    assert run_once(config, vendor)[1]["outcome"] == "applied"
    assert_zone_authorizes(tmp_path, vendor, NEW)

    code, output = cli("rollback", DOMAIN, "-c", str(config), "--json")
    assert code == 0, output
    done = json.loads(output)
    assert done == {"run": 1, "applied": [f"update {DOMAIN}"]}
    assert zone_records(zone_path(tmp_path)) == first
    assert_zone_authorizes(tmp_path, vendor, ALWAYS, OLD, WIDE, OUTSIDE)
    code, row = status(config)
    assert code == 2 and row["hold"]["pinned_run"] == 1
    assert row["hold"]["reason"] == "rolled back to run 1"
    code, text = cli("status", "-c", str(config))
    assert code == 2 and "rolled back to run 1" in text, text

    # Upstream still has X_NEW: the daemon must not flatten the domain forward.
    code, run = run_once(config, vendor)
    assert (code, run["outcome"]) == (2, "held"), run
    assert "rolled back to run 1" in run["reason"]
    assert zone_records(zone_path(tmp_path)) == first

    assert cli("approve", DOMAIN, "-c", str(config))[0] == 0
    code, run = run_once(config, vendor)
    assert (code, run["outcome"]) == (0, "applied"), run
    assert_zone_authorizes(tmp_path, vendor, ALWAYS, NEW, WIDE, OUTSIDE)
    runs = json.loads(cli("history", DOMAIN, "-c", str(config), "--json")[1])["runs"]
    assert [(r["outcome"], r["instance"] == "rollback") for r in runs] == [
        ("applied", False),
        ("held", False),
        ("applied", True),
        ("applied", False),
        ("applied", False),
    ]
    assert runs[2]["reason"] == "rollback to run 1"
    assert runs[2]["diff"] == ["- services.x 203.0.113.16/28", "+ services.x 203.0.113.0/28"]
    assert cli("rollback", "other.example", "-c", str(config))[0] == 1


def test_run_once_exit_codes_and_text_output(tmp_path: Path, vendor: BindServer) -> None:
    config = write_config(tmp_path)
    ns = ["--nameserver", vendor.host, "--port", str(vendor.port)]
    code, output = cli("run-once", "-c", str(config), *ns)
    assert code == 0 and f"applied {DOMAIN}: 1 change(s) applied" in output, output
    code, output = cli("run-once", "-c", str(config), *ns)
    assert code == 0 and f"unchanged {DOMAIN}: in sync" in output, output

    vendor.add_zone(VENDOR, upstream(X_NEW))
    code, output = cli("run-once", "-c", str(config), *ns)
    assert code == 0 and "+ services.x 203.0.113.16/28" in output, output

    vendor.load({})  # REFUSED
    code, output = cli("run-once", "-c", str(config), *ns)
    assert code == 2 and f"upstream-error {DOMAIN}:" in output, output

    vendor.load({VENDOR: upstream(X_ALL)})
    code, output = cli("run-once", "-c", str(config), *ns)
    assert code == 2 and f"held {DOMAIN}:" in output, output

    code, output = cli("run-once", "-c", str(tmp_path / "missing.yaml"), *ns)
    assert code == 1 and "missing.yaml" in output, output
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        config.read_text(encoding="utf-8").replace("- y\n", "- no-such-service\n"),
        encoding="utf-8",
    )
    code, output = cli("run-once", "-c", str(broken), *ns)
    assert code == 1 and "no-such-service" in output and "broken.yaml" in output, output


def test_rfc2136_publishes_upstream_changes_to_a_second_bind_and_keeps_them_on_failure(
    tmp_path: Path, vendor: BindServer, hook: WebhookSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    domain = "example.net"
    with BindServer({domain: {f"www.{domain}": [{"A": "192.0.2.80"}]}}, tsig=True) as target:
        assert target.tsig_secret is not None
        monkeypatch.setenv("SPFMANAGER_TEST_TSIG", target.tsig_secret)
        provider = {
            "kind": "rfc2136",
            "server": target.host,
            "port": target.port,
            "tsig_name": target.tsig_name,
            "tsig_secret": "env:SPFMANAGER_TEST_TSIG",
        }
        config = write_config(tmp_path, hook=hook, provider=provider, domain=domain)
        receivers = target.resolver(cache=False)

        def served() -> list[bytes]:
            return [r.data for r in receivers.query(domain, spfmanager.RRType.TXT).texts()]

        def sees(*expected: dict[str, Result]) -> None:
            assert_receivers_see(receivers, *expected, domain=domain)

        code, run = run_once(config, vendor)
        assert (code, run["outcome"]) == (0, "applied"), run
        code, run = run_once(config, vendor)
        assert (code, run["outcome"]) == (0, "unchanged"), run
        sees(ALWAYS, OLD, WIDE, OUTSIDE)

        vendor.add_zone(VENDOR, upstream(X_NEW))
        code, run = run_once(config, vendor)
        assert (code, run["outcome"]) == (0, "applied"), run
        assert run["diff"] == ["- services.x 203.0.113.0/28", "+ services.x 203.0.113.16/28"]
        sees(ALWAYS, NEW, WIDE, OUTSIDE)
        record = served()

        vendor.load({})
        code, run = run_once(config, vendor)
        assert (code, run["outcome"]) == (2, "upstream-error"), run
        assert served() == record
        sees(ALWAYS, NEW, WIDE, OUTSIDE)
        assert hook.wait_for(lambda e: e.get("kind") == "error", NOTIFY_TIMEOUT) is not None


# -- 2. the daemon process -------------------------------------------------------------------


class DaemonProcess:
    """``python -m spfmanager daemon ...`` in the background, stderr to a file."""

    def __init__(self, config: Path, bind: BindServer, *args: str) -> None:
        self.metrics_port = free_port()
        self.log = config.parent / "daemon.log"
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        command = [
            sys.executable, "-m", "spfmanager", "daemon", "-c", str(config),
            "--nameserver", bind.host, "--port", str(bind.port),
            "--metrics-address", f"127.0.0.1:{self.metrics_port}", "--log-format", "json",
            *args,
        ]  # fmt: skip
        with self.log.open("wb") as stderr:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                cwd=config.parent,
                env=env,
            )

    def get(self, path: str) -> tuple[int, str]:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        url = f"http://127.0.0.1:{self.metrics_port}{path}"
        try:
            with opener.open(url, timeout=2.0) as response:
                return int(response.status), response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError:
            return 0, ""

    def metrics(self) -> dict[str, float]:
        """One scrape of ``/metrics``: ``name{label="value",...}`` (labels sorted) -> value;
        empty when it did not answer 200."""
        code, text = self.get("/metrics")
        if code != 200:
            return {}
        return {
            metric(sample.name, **sample.labels): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.log.read_text(encoding="utf-8", errors="replace").splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                record = json.loads(line)
                if isinstance(record, dict):
                    lines.append(record)
        return lines

    def runs(self) -> list[dict[str, Any]]:
        return [r for r in self.log_lines() if r.get("event") == "run"]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(DAEMON_STOP_TIMEOUT)

    def diagnostics(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-4000:]


def metric(name: str, **labels: str) -> str:
    """The key of one sample in :meth:`DaemonProcess.metrics`."""
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def applied_runs(process: DaemonProcess, count: int, timeout: float) -> dict[str, float]:
    """The first scrape (within ``timeout`` seconds) that has counted ``count`` applied runs."""
    key = metric("spfmanager_run_duration_seconds_count", outcome="applied")
    scrapes: list[dict[str, float]] = []

    def counted() -> bool:
        scrapes.append(process.metrics())
        return scrapes[-1].get(key, 0) >= count

    assert wait_until(counted, timeout), scrapes[-1:]
    return scrapes[-1]


@contextlib.contextmanager
def daemon(config: Path, bind: BindServer, *args: str) -> Iterator[DaemonProcess]:
    process = DaemonProcess(config, bind, *args)
    try:
        yield process
    finally:
        process.stop()


def published(tmp_path: Path, ips: Sequence[str]) -> Callable[[], bool]:
    """Whether the zone file exists and its root record names every one of ``ips``."""

    def check() -> bool:
        try:
            records = zone_records(zone_path(tmp_path))
        except (OSError, dns.exception.DNSException):
            return False
        root = " ".join(" ".join(r) for r in records.get(DOMAIN, []))
        return all(ip in root for ip in ips)

    return check


def test_the_daemon_publishes_on_start_and_each_upstream_change_within_one_interval(
    tmp_path: Path, vendor: BindServer
) -> None:
    interval = 2.0
    vendor.load({VENDOR: upstream()}, ttl=1)  # the daemon's resolver caches for the TTL
    config = write_config(tmp_path)
    with daemon(config, vendor, "--interval", str(int(interval))) as process:
        started = published(tmp_path, ["ip4:203.0.113.0/28"])
        assert wait_until(started, DAEMON_START_TIMEOUT), process.diagnostics()
        # The zone file is written before the run is recorded and counted: wait for that.
        scrape = applied_runs(process, 1, interval / 2)
        assert scrape[metric(LAST_OUTCOME, domain=DOMAIN, outcome="applied")] == 1
        assert scrape[metric("spfmanager_scheduler_running")] == 1
        code, body = process.get("/healthz")
        assert (code, body.strip()) == (200, "ok")
        assert_zone_authorizes(tmp_path, vendor, ALWAYS, OLD, WIDE, OUTSIDE)

        vendor.add_zone(VENDOR, upstream(X_NEW), ttl=1)
        changed_at = time.monotonic()
        moved = published(tmp_path, ["ip4:203.0.113.16/28"])
        assert wait_until(moved, 2 * interval + 5), process.diagnostics()
        latency = time.monotonic() - changed_at
        assert latency <= interval + 3.0, latency  # the interval, a TTL of cache, slack
        assert_zone_authorizes(tmp_path, vendor, ALWAYS, NEW, WIDE, OUTSIDE)
        scrape = applied_runs(process, 2, interval / 2)
        outcomes = {o: scrape[metric(LAST_OUTCOME, domain=DOMAIN, outcome=o)] for o in OUTCOMES}
        assert outcomes == {o: int(o == "applied") for o in OUTCOMES}  # a state set
        assert scrape[metric("spfmanager_upstream_changes_total", domain=DOMAIN)] == 1
        addresses = metric("spfmanager_domain_authorized_addresses", domain=DOMAIN, family="ipv4")
        assert scrape[addresses] == 32 + 64 + 16

        terminated_at = time.monotonic()
        process.process.send_signal(signal.SIGTERM)
        code = process.process.wait(DAEMON_STOP_TIMEOUT)
        assert code == 0, process.diagnostics()
        assert time.monotonic() - terminated_at < SIGTERM_EXIT_WITHIN

    runs = process.runs()
    assert sum(r["outcome"] == "applied" for r in runs) == 2
    for record in runs:
        assert record["domain"] == DOMAIN and record["logger"] == "spfmanager.daemon"
        assert record["outcome"] in ("applied", "unchanged"), record
        assert isinstance(record["duration_ms"], float) and record["duration_ms"] >= 0
        assert isinstance(record["run_id"], int) and record["time"].endswith("Z")
    assert any("daemon stopped" in r["message"] for r in process.log_lines())


def test_a_ttl_shorter_than_the_interval_brings_the_next_check_forward(
    tmp_path: Path, vendor: BindServer
) -> None:
    ttl = 2
    soon = 4 * ttl + 4  # a few TTLs and slack: far sooner than the interval
    vendor.load({VENDOR: upstream()}, ttl=ttl)
    config = write_config(tmp_path, schedule={"interval": "60s", "jitter": 0, "min_interval": 1})
    with daemon(config, vendor) as process:
        started = published(tmp_path, ["ip4:203.0.113.0/28"])
        assert wait_until(started, DAEMON_START_TIMEOUT), process.diagnostics()
        vendor.add_zone(VENDOR, upstream(X_NEW), ttl=ttl)
        assert wait_until(published(tmp_path, ["ip4:203.0.113.16/28"]), soon), process.diagnostics()
        process.process.send_signal(signal.SIGTERM)
        assert process.process.wait(DAEMON_STOP_TIMEOUT) == 0
    assert_zone_authorizes(tmp_path, vendor, ALWAYS, NEW, WIDE, OUTSIDE)
    assert [r["outcome"] for r in process.runs()][:1] == ["applied"]
    assert sum(r["outcome"] == "applied" for r in process.runs()) == 2
