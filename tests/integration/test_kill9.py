"""``spfmanager apply`` killed with SIGKILL at chosen instants never leaves a broken zone.

The zone-file provider and the SQLite state store are driven through the real CLI in a
child process. A small wrapper installs one fault (a ``KILL9_AT`` environment variable:
``target:when:nth``) that sends the child SIGKILL to itself at that instant:

* ``replace:before|after:N`` — around the Nth ``os.replace`` onto a ``.zone`` file;
* ``write:torn:N`` — after half of the Nth temporary zone file is written;
* ``<State method>:before|after:N`` — around the Nth call of ``State.record_published``,
  ``add_pending``, ``remove_pending`` or ``log_apply`` that writes something.

After every kill the zone file must parse (dnspython), and the SPF record at the root,
evaluated by ``spfmanager.evaluate`` over the zone's records, must give at every probe address
the results of the previous record or of the intent (as a whole, never a mix) — never
permerror. A normal ``apply`` afterwards must converge: ``plan`` exits 0, the zone serves
the intent, and every chained name the root no longer uses is eventually deleted.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import dns.zone
import pytest
import yaml

import spfmanager
from spfmanager.dns.overlay import OverlayResolver
from spfmanager.publish.plan import Phase
from spfmanager.publish.state import utcnow
from spfmanager.publish.workflow import Workspace
from spfmanager.spf.parser import is_spf_record
from spfmanager.spf.terms import Include, Redirect

pytestmark = pytest.mark.integration

Result = spfmanager.Result
DOMAIN = "example.com"
ZONE_FILE = Path("zones") / f"{DOMAIN}.zone"
CHAIN_NAME = re.compile(r"^_spf\d+-[0-9a-f]{8}\.")  # README: _spf1-<hash>.example.com
RUN_TIMEOUT = 60.0  # seconds for one CLI run; a run blocked by a stale lock fails here
UPSTREAM: dict[str, Any] = {
    "spf.protection.outlook.com": [
        {"TXT": "v=spf1 ip4:40.92.0.0/15 ip4:40.107.0.0/16 ip6:2a01:111:f400::/48 -all"}
    ],
    "servers.mcsv.net": [{"TXT": "v=spf1 ip4:205.201.128.0/20 ip4:198.2.128.0/18 -all"}],
    "sendgrid.net": [
        {"TXT": "v=spf1 " + " ".join(f"ip4:167.{i}.0.0/16" for i in range(0, 120, 2)) + " ~all"}
    ],
}
OLD_SERVICES = ["microsoft365", "sendgrid"]  # chained: root + chained names
NEW_SERVICES = ["microsoft365", "sendgrid", "mailchimp"]  # other content: other chain names
PROBES = (
    "40.92.1.1",  # Microsoft 365: pass under both
    "167.88.1.1",  # SendGrid: pass under both
    "167.119.0.1",  # outside SendGrid's ranges: fail
    "205.201.128.1",  # Mailchimp: fail, then pass
    "198.2.130.7",  # Mailchimp: fail, then pass
    "192.0.2.1",  # nobody's: fail
    "2a01:111:f400::1",  # Microsoft 365 over IPv6: pass
    "2001:db8::1",  # nobody's, IPv6: fail
)

# The wrapper the child runs: one fault, then spfmanager's own entry point.
WRAPPER = textwrap.dedent(
    '''
    """Run the spfmanager CLI with SIGKILL injected at KILL9_AT=target:when:nth."""
    import functools
    import inspect
    import os
    import signal
    import sys
    import tempfile

    MISSING = 97  # the exit status when the hook point does not exist

    target, when, nth = os.environ["KILL9_AT"].split(":")
    wanted = int(nth)
    seen = 0


    def hit():
        global seen
        seen += 1
        return seen == wanted


    def die():
        os.kill(os.getpid(), signal.SIGKILL)


    if target == "replace":
        real_replace = os.replace

        def replace(src, dst, *args, **kwargs):
            fire = str(dst).endswith(".zone") and hit()
            if fire and when == "before":
                die()
            real_replace(src, dst, *args, **kwargs)
            if fire and when == "after":
                die()

        os.replace = replace
    elif target == "write":
        real_mkstemp, real_fdopen = tempfile.mkstemp, os.fdopen
        torn = set()

        class Torn:
            """The temporary zone file: half of it reaches the disk, then SIGKILL."""

            def __init__(self, handle):
                self.handle = handle

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return self.handle.__exit__(*exc)

            def write(self, text):
                self.handle.write(text[: len(text) // 2])
                self.handle.flush()
                die()

            def __getattr__(self, name):
                return getattr(self.handle, name)

        def mkstemp(*args, **kwargs):
            fd, path = real_mkstemp(*args, **kwargs)
            if ".zone." in os.path.basename(path) and hit():
                torn.add(fd)
            return fd, path

        def fdopen(fd, *args, **kwargs):
            handle = real_fdopen(fd, *args, **kwargs)
            return Torn(handle) if fd in torn else handle

        tempfile.mkstemp, os.fdopen = mkstemp, fdopen
    else:
        from spfmanager.publish.state import State

        real = getattr(State, target, None)
        if real is None:
            print(f"hook point missing: State.{target}", file=sys.stderr)
            sys.exit(MISSING)
        signature = inspect.signature(real)

        @functools.wraps(real)
        def hooked(self, *args, **kwargs):
            bound = signature.bind(self, *args, **kwargs).arguments
            batch = bound.get("items", bound.get("names", True))
            fire = bool(batch) and hit()  # a call with nothing to write is no write
            if fire and when == "before":
                die()
            out = real(self, *args, **kwargs)
            if fire and when == "after":
                die()
            return out

        setattr(State, target, hooked)

    from spfmanager.cli import main

    sys.argv[0] = "spfmanager"
    main()
    '''
)


@dataclass(frozen=True)
class Scenario:
    name: str
    base: str  # "rollover": old record applied, config now new; "cleanup": old names due
    kill_at: str


SCENARIOS = (
    Scenario("before the chain is written", "rollover", "replace:before:1"),
    Scenario("chain temporary half written", "rollover", "write:torn:1"),
    Scenario("chain written, root not switched", "rollover", "replace:after:1"),
    Scenario("just before the root switch", "rollover", "replace:before:2"),
    Scenario("root temporary half written", "rollover", "write:torn:2"),
    Scenario("root switched, nothing recorded", "rollover", "replace:after:2"),
    Scenario("before recording the published records", "rollover", "record_published:before:1"),
    Scenario("after recording the published records", "rollover", "record_published:after:1"),
    Scenario("before scheduling the old names' deletion", "rollover", "add_pending:before:1"),
    Scenario("after scheduling the old names' deletion", "rollover", "add_pending:after:1"),
    Scenario("before logging the apply", "rollover", "log_apply:before:1"),
    Scenario("after logging the apply", "rollover", "log_apply:after:1"),
    Scenario("old names deleted, deletion not forgotten", "cleanup", "replace:after:1"),
    Scenario("before forgetting the deleted names", "cleanup", "remove_pending:before:1"),
    Scenario("after forgetting the deleted names", "cleanup", "remove_pending:after:1"),
)


@dataclass(frozen=True)
class Run:
    returncode: int
    output: str


@dataclass(frozen=True)
class Outcome:
    """What one killed apply left behind, and what the next normal runs did with it."""

    scenario: Scenario
    directory: Path
    killed: Run
    zone_after_kill: str | None
    converge: Run
    plan: Run
    zone_after_converge: str | None
    files_after_converge: tuple[str, ...]  # what zones/ holds then


def write_config(directory: Path, services: Sequence[str]) -> None:
    config = {
        "defaults": {"policy": "-all", "ttl": 3600, "provider": "local"},
        "providers": {"local": {"kind": "zonefile", "directory": "zones"}},
        "state": {"url": "sqlite:///state.db"},
        "domains": {DOMAIN: {"services": list(services)}},
    }
    (directory / "spfmanager.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")


def cli(
    directory: Path, command: str, kill_at: str | None = None, extra: tuple[str, ...] = ()
) -> Run:
    """One CLI run in ``directory`` (offline), through the fault wrapper when ``kill_at``."""
    env = {**os.environ, "PYTHONPATH": _import_root(), "KILL9_AT": kill_at or ""}
    program = [str(directory.parent / "wrapper.py")] if kill_at else ["-m", "spfmanager"]
    args = ["-c", "spfmanager.yaml", "--dns-snapshot", "dns-snapshot.yaml", *extra]
    try:
        done = subprocess.run(
            [sys.executable, *program, command, *args],
            cwd=directory,
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        return Run(
            -1, f"{command}: no exit after {RUN_TIMEOUT:.0f}s: {exc.stdout!r} {exc.stderr!r}"
        )
    return Run(done.returncode, done.stdout + done.stderr)


def _import_root() -> str:
    """The directory the child imports this very spfmanager from (checkout or install)."""
    return str(Path(spfmanager.__file__).resolve().parent.parent)


def zone_files(directory: Path) -> tuple[str, ...]:
    return tuple(sorted(os.listdir(directory / ZONE_FILE.parent)))


def zone_text(directory: Path) -> str | None:
    path = directory / ZONE_FILE
    return path.read_text(encoding="ascii") if path.exists() else None


def served(text: str) -> dict[str, list[list[str]]]:
    """The zone's TXT records (name -> records -> strings); raises if it does not parse."""
    zone = dns.zone.from_text(text, origin=f"{DOMAIN}.", relativize=False)
    out: dict[str, list[list[str]]] = {}
    for name, rdataset in zone.iterate_rdatasets("TXT"):
        out[name.to_text(omit_final_dot=True).lower()] = [
            [s.decode("ascii") for s in rdata.strings] for rdata in rdataset
        ]
    return out


def results(records: Mapping[str, list[list[str]]]) -> tuple[Result, ...]:
    """What a receiver gets at every probe address with ``records`` published."""
    resolver = OverlayResolver(spfmanager.SnapshotResolver(UPSTREAM), records)
    return tuple(
        spfmanager.evaluate(ip, f"alice@{DOMAIN}", f"mail.{DOMAIN}", resolver=resolver).result
        for ip in PROBES
    )


def by_probe(found: Sequence[Result]) -> dict[str, str]:
    return {ip: result.value for ip, result in zip(PROBES, found, strict=True)}


def chained(text: str) -> set[str]:
    return {name for name in served(text) if CHAIN_NAME.match(name)}


def prepare(root: Path, base: str) -> Path:
    """A directory in the state the scenarios of ``base`` start from."""
    directory = root / base
    directory.mkdir()
    (directory / "dns-snapshot.yaml").write_text(yaml.safe_dump(UPSTREAM), encoding="utf-8")
    write_config(directory, OLD_SERVICES)
    first = cli(directory, "apply")
    assert first.returncode == 0, first.output
    write_config(directory, NEW_SERVICES)
    if base == "cleanup":
        # the rollover to the new record was applied a day ago: the old names are due now
        yesterday = utcnow() - timedelta(days=1)
        workspace = Workspace.load(directory / "spfmanager.yaml", _upstream())
        report = workspace.apply(workspace.plan(now=yesterday), now=yesterday)
        assert report.scheduled, report.data
    return directory


def _upstream() -> spfmanager.SnapshotResolver:
    return spfmanager.SnapshotResolver(UPSTREAM)


@dataclass(frozen=True)
class Expected:
    old: tuple[Result, ...]  # the previous good record's results
    new: tuple[Result, ...]  # the intent's


INCLUDES = {
    "microsoft365": "spf.protection.outlook.com",
    "sendgrid": "sendgrid.net",
    "mailchimp": "servers.mcsv.net",
}


@pytest.fixture(scope="module")
def expected() -> Expected:
    """The results of the two intents, written as plain includes (not flattened)."""

    def intent(services: Sequence[str]) -> tuple[Result, ...]:
        record = "v=spf1 " + " ".join(f"include:{INCLUDES[s]}" for s in services) + " -all"
        return results({DOMAIN: [[record]]})

    return Expected(intent(OLD_SERVICES), intent(NEW_SERVICES))


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Outcome]]:
    """Every scenario, run two at a time: the kill, a normal apply, then plan."""
    root = tmp_path_factory.mktemp("kill9")
    (root / "wrapper.py").write_text(WRAPPER, encoding="utf-8")
    templates = {base: prepare(root, base) for base in ("rollover", "cleanup")}

    def play(number: int, scenario: Scenario) -> Outcome:
        directory = root / f"run{number:02d}"
        shutil.copytree(templates[scenario.base], directory)
        killed = cli(directory, "apply", scenario.kill_at)
        after_kill = zone_text(directory)
        converge = cli(directory, "apply")
        plan = cli(directory, "plan", extra=("--json",))
        return Outcome(
            scenario,
            directory,
            killed,
            after_kill,
            converge,
            plan,
            zone_text(directory),
            zone_files(directory),
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        played = list(pool.map(play, range(len(SCENARIOS)), SCENARIOS))
    yield {o.scenario.kill_at + "@" + o.scenario.base: o for o in played}


@dataclass(frozen=True)
class Unkilled:
    """A base's zone before the apply, and what zones/ holds after an apply never killed."""

    zone: str
    files: tuple[str, ...]


@pytest.fixture(scope="module")
def unkilled(outcomes: dict[str, Outcome]) -> dict[str, Unkilled]:
    root = next(iter(outcomes.values())).directory.parent
    found = {}
    for base in ("rollover", "cleanup"):
        directory = root / f"control-{base}"
        shutil.copytree(root / base, directory)
        normal = cli(directory, "apply")
        assert normal.returncode == 0, normal.output
        found[base] = Unkilled(zone_text(root / base) or "", zone_files(directory))
    return found


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_killed_apply_leaves_a_valid_zone_and_converges(
    scenario: Scenario,
    outcomes: dict[str, Outcome],
    expected: Expected,
    unkilled: dict[str, Unkilled],
) -> None:
    outcome = outcomes[scenario.kill_at + "@" + scenario.base]
    killed = outcome.killed
    assert killed.returncode != 97, f"hook point missing: {killed.output}"
    assert killed.returncode == -signal.SIGKILL, (
        f"the kill point {scenario.kill_at} was never reached (exit {killed.returncode}):\n"
        f"{killed.output}"
    )

    # 1. Whatever instant the kill landed at, the zone file parses and serves a whole policy.
    assert outcome.zone_after_kill is not None, "the zone file is gone"
    try:
        records = served(outcome.zone_after_kill)
    except Exception as exc:  # dnspython's errors, or a torn file's decoding error
        pytest.fail(f"zone file does not parse after the kill: {exc}\n{outcome.zone_after_kill}")
    now = results(records)
    assert Result.PERMERROR not in now and Result.TEMPERROR not in now, by_probe(now)
    allowed = [expected.new] if scenario.base == "cleanup" else [expected.old, expected.new]
    assert now in allowed, (
        f"after the kill receivers get {by_probe(now)}: neither the previous record nor the intent"
    )
    roots = [r for r in records.get(DOMAIN, []) if is_spf_record("".join(r))]
    assert len(roots) == 1, roots

    # 2. The next normal run converges: apply succeeds, plan is in sync.
    assert outcome.converge.returncode == 0, outcome.converge.output
    # (exit 2 only while retired names wait for their deletion time: no change is left)
    assert outcome.plan.returncode in (0, 2), f"plan after the next apply:\n{outcome.plan.output}"
    text = outcome.plan.output
    planned, _ = json.JSONDecoder().raw_decode(text[text.index("{") :])
    assert not planned["errors"], planned["errors"]
    assert not [c for d in planned["domains"] for c in d["changes"]], outcome.plan.output
    waiting = [w for d in planned["domains"] for w in d["waiting_deletions"]]
    assert planned["in_sync"] == (not waiting) == (outcome.plan.returncode == 0)
    assert outcome.zone_after_converge is not None
    assert results(served(outcome.zone_after_converge)) == expected.new
    # ...and it leaves zones/ as a run never killed would (no temporary left behind)
    assert outcome.files_after_converge == unkilled[scenario.base].files, (
        f"zones/ after the next run: {outcome.files_after_converge}"
    )

    # 3. Nothing is left behind for good: once every TTL has passed, the chained names the
    # root does not use are deleted, and then nothing more is to do.
    config = outcome.directory / "spfmanager.yaml"
    upstream = _upstream()
    later = utcnow() + timedelta(days=2)
    cleanup = Workspace.load(config, upstream).plan(now=later)
    assert all(c.phase is Phase.CLEANUP for c in cleanup.changes), cleanup.data
    Workspace.load(config, upstream).apply(cleanup, now=later)
    final = zone_text(outcome.directory) or ""
    final_plan = Workspace.load(config, upstream).plan(now=later)
    assert not final_plan.has_changes, final_plan.data
    used = {n for n in chained(final) if n in _reached(served(final))}
    assert chained(final) == used, (
        f"chained names never deleted: {sorted(chained(final) - used)} "
        f"(before the kill the zone had {sorted(chained(unkilled[scenario.base].zone))})"
    )
    assert results(served(final)) == expected.new


def _reached(records: Mapping[str, list[list[str]]]) -> set[str]:
    """The names the root's SPF record reaches by include/redirect, transitively."""
    found: set[str] = set()
    todo = [DOMAIN]
    while todo:
        for strings in records.get(todo.pop(), []):
            text = "".join(strings)
            if not is_spf_record(text):
                continue
            for term in spfmanager.parse_record(text).terms:
                if isinstance(term, Include | Redirect):
                    target = term.domain.render().rstrip(".").lower()
                    if target not in found:
                        found.add(target)
                        todo.append(target)
    return found
