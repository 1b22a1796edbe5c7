"""Hostile config and snapshot files: refused quickly, located, never a traceback.

Bombs and deep nesting run under :func:`time_limit`, so that a regression fails the test
in seconds instead of running for minutes (the alias bomb below used to take > 300 s and
9.9 GB).
"""

from __future__ import annotations

import itertools
import os
import signal
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import pytest
from typer.testing import CliRunner

from spfmanager.cli import app
from spfmanager.config import Config, Defaults, load_config, parse_config
from spfmanager.dns.snapshot import SnapshotResolver
from spfmanager.errors import ConfigError, SnapshotError
from spfmanager.files.yamlnodes import MAX_ALIAS_NODES, MAX_DEPTH, parse_yaml

LIMIT = 2.0  # seconds any one hostile file may take, including a regression's
FAST = 0.5  # seconds an alias bomb's refusal may take, with a wide margin (measured: ~1 ms)


class Overtime(BaseException):
    """Raised into a block that ran too long; no ``except Exception`` (or OSError, which
    TimeoutError is) in the code under test can swallow it, nor can CliRunner."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the block with :class:`Overtime` after ``seconds`` (SIGALRM, main thread)."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise Overtime(f"took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def problems_of(text: str, name: str = "cfg.yaml") -> list[str]:
    with time_limit(LIMIT), pytest.raises(ConfigError) as caught:
        parse_config(textwrap.dedent(text), name)
    return caught.value.problems


def snapshot_error(tmp_path: Path, content: str | bytes) -> str:
    path = tmp_path / "snap.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with time_limit(LIMIT), pytest.raises(SnapshotError) as caught:
        SnapshotResolver.from_file(path)
    return str(caught.value)


def laughs(levels: int = 9, width: int = 9) -> str:
    """Billion laughs: each anchor is a list of ``width`` aliases of the previous one."""
    lines = [f"a: &a [{', '.join(['x'] * width)}]"]
    for previous, name in itertools.pairwise("abcdefghijklmnopqrstuvwxyz"[:levels]):
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * width)}]")
    return "\n".join(lines) + "\n"


# -- aliases ---------------------------------------------------------------------------


def test_alias_bomb_is_refused_in_milliseconds_at_the_alias() -> None:
    text = laughs()  # 9**9 = 387 million nodes once expanded, in 378 bytes
    assert len(text) < 1024
    start = time.perf_counter()
    problems = problems_of(text)
    assert time.perf_counter() - start < FAST
    assert problems == [
        f"cfg.yaml:6: f[0]: aliases expand to more than {MAX_ALIAS_NODES:,} nodes at alias "
        "*e; write the values out instead"
    ]


def test_merge_key_bomb_is_refused() -> None:
    # '<<' merges copy the merged mappings' pairs: the same bomb through merge keys
    lines = ["a: &a {x: 1, y: 2}"]
    for previous, name in itertools.pairwise("abcdefghi"):
        lines.append(f"{name}: &{name} {{<<: [{', '.join([f'*{previous}'] * 9)}]}}")
    (problem,) = problems_of("\n".join(lines) + "\n")
    assert problem.startswith("cfg.yaml:6: f.<<[1]: aliases expand to more than")


def test_an_alias_inside_what_it_names_is_refused() -> None:
    # PyYAML composes this into a cyclic node graph; building it would never end
    assert problems_of("domains:\n  a.example: &loop\n    services: [*loop]\n") == [
        "cfg.yaml:3: domains.a.example.services[0]: alias *loop is inside the node it names"
    ]


def test_sharing_lists_and_defaults_through_anchors_still_works() -> None:
    domains = "".join(f"  d{i}.example: {{<<: *base, ttl: {300 + i}}}\n" for i in range(2, 301))
    text = (
        "domains:\n"
        "  d1.example: &base\n"
        "    services: [microsoft365, mailchimp, sendgrid, mailgun, mandrill]\n"
        "    ip4: ['192.0.2.0/24', '198.51.100.0/24']\n"
        "    ip6: ['2001:db8::/32']\n"
        "    a: [mail.d1.example]\n"
        f"{domains}"
    )
    with time_limit(LIMIT):
        config = parse_config(text, "cfg.yaml")
    assert len(config.domains) == 300
    last = config.domains["d300.example"]
    assert last.services == config.domains["d1.example"].services
    assert [str(n) for n in last.ip4] == ["192.0.2.0/24", "198.51.100.0/24"]
    assert last.ttl == 600


def test_alias_bomb_in_a_snapshot_is_refused(tmp_path: Path) -> None:
    start = time.perf_counter()
    message = snapshot_error(tmp_path, laughs())
    assert time.perf_counter() - start < FAST
    assert message.startswith(f"{tmp_path / 'snap.yaml'}:6: f[0]: aliases expand to more than")


# -- nesting ---------------------------------------------------------------------------

DEEP = {
    "flow list": "[" * 5000 + "]" * 5000 + "\n",
    "flow mapping": "{a: " * 5000 + "1" + "}" * 5000 + "\n",
    "block mapping": "".join(f"{' ' * i}a:\n" for i in range(5000)),
    "under domains": "domains: " + "[" * 5000 + "]" * 5000 + "\n",
}


@pytest.mark.parametrize("text", DEEP.values(), ids=DEEP.keys())
def test_deep_nesting_is_refused(text: str) -> None:
    # within LIMIT: PyYAML's scanner looks up to 1024 characters ahead for a simple key at
    # every '[' (quadratic), so a 5000-deep flow list costs ~0.25 s before the refusal
    (problem,) = problems_of(text)
    assert problem.startswith("cfg.yaml:")
    assert problem.endswith(f"...: nested deeper than {MAX_DEPTH} levels")


def test_nesting_up_to_the_limit_is_read() -> None:
    at_limit = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    document = parse_yaml(at_limit, "x.yaml")
    depth, value = 0, document.data
    while value:
        depth, value = depth + 1, value[0]
    assert depth == MAX_DEPTH - 1
    with pytest.raises(ConfigError, match=f"nested deeper than {MAX_DEPTH} levels"):
        parse_yaml("[" + at_limit + "]", "x.yaml")


@pytest.mark.parametrize("text", DEEP.values(), ids=DEEP.keys())
def test_deep_nesting_in_a_snapshot_is_refused(tmp_path: Path, text: str) -> None:
    message = snapshot_error(tmp_path, text)
    assert message.startswith(str(tmp_path / "snap.yaml") + ":")
    assert message.endswith(f"nested deeper than {MAX_DEPTH} levels")


# -- keys ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("? [a, b]\n: 1\n", "cfg.yaml:1: (top level) (key): a list cannot be a key"),
        ("{[1]: 2}\n", "cfg.yaml:1: (top level) (key): a list cannot be a key"),
        ("? {a: 1}\n: 2\n", "cfg.yaml:1: (top level) (key): a mapping cannot be a key"),
        (
            "domains:\n  ? [a.example, b.example]\n  : {}\n",
            "cfg.yaml:2: domains (key): a list cannot be a key",
        ),
        (
            "providers:\n  on: {kind: zonefile}\n",
            "cfg.yaml:2: providers (key): 'on' is read as a YAML bool: keys are names or "
            "numbers (quote it if it is a name)",
        ),
        ("domains:\n  ~: {}\n", "cfg.yaml:2: domains (key): '~' is read as a YAML null"),
        ("domains:\n  1.5: {}\n", "cfg.yaml:2: domains (key): '1.5' is read as a YAML float"),
        (
            "? !!int x\n: 1\n",
            "cfg.yaml:1: (top level) (key): cannot read 'x' as a YAML int: invalid literal",
        ),
    ],
)
def test_keys_that_are_not_names_are_located(text: str, expected: str) -> None:
    (problem,) = problems_of(text)
    assert problem.startswith(expected), problem


def test_a_list_key_in_a_snapshot_is_located(tmp_path: Path) -> None:
    message = snapshot_error(tmp_path, "a.example: []\n? [b, c]\n: []\n")
    assert message == f"{tmp_path / 'snap.yaml'}:2: (top level) (key): a list cannot be a key: " + (
        "keys are names"
    )


# -- values PyYAML cannot construct ----------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("!!int abc", "cannot read 'abc' as a YAML int: invalid literal"),
        ("9" * 5000, "cannot read '" + "9" * 40 + "...' as a YAML int: Exceeds the limit"),
        ("2020-13-45", "cannot read '2020-13-45' as a YAML timestamp: month must be in 1..12"),
        ("!!timestamp soon", "cannot read 'soon' as a YAML timestamp"),
    ],
    ids=["bad int", "5000 digits", "bad date", "bad timestamp"],
)
def test_unconstructable_values_are_located(value: str, expected: str) -> None:
    (problem,) = problems_of(f"defaults:\n  policy: '-all'\n  ttl: {value}\n")
    assert problem.startswith(f"cfg.yaml:3: defaults.ttl: {expected}"), problem


# -- bytes that are not YAML text ------------------------------------------------------


def test_nul_bytes_are_located() -> None:
    assert problems_of("domains:\n  a.example: {}\x00\n") == [
        "cfg.yaml:2: invalid YAML: character U+0000 (column 16) is not allowed: YAML text "
        "cannot hold control characters such as NUL"
    ]


def test_nul_bytes_in_files(tmp_path: Path) -> None:
    path = tmp_path / "spfmanager.yaml"
    path.write_bytes(b"domains:\n  a.example:\n    ip4: ['192.0.2.0/24\x00']\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [
        f"{path}:3: invalid YAML: character U+0000 (column 24) is not allowed: YAML text "
        "cannot hold control characters such as NUL"
    ]
    message = snapshot_error(tmp_path, b"a.example:\n  - TXT: 'v=spf1\x00 -all'\n")
    assert message.startswith(f"{tmp_path / 'snap.yaml'}:2: invalid YAML: character U+0000")


@pytest.mark.parametrize(
    ("content", "where"),
    [
        ("domains:\n  café.example: {}\n".encode("latin-1"), ":2: {} is not UTF-8 text: byte 0xe9"),
        ("domains: {}\n".encode("utf-16"), ":1: {} is not UTF-8 text: byte 0xff at column 1"),
    ],
    ids=["latin-1", "utf-16"],
)
def test_text_that_is_not_utf8_is_located(tmp_path: Path, content: bytes, where: str) -> None:
    path = tmp_path / "spfmanager.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (problem,) = caught.value.problems
    assert problem.startswith(str(path) + where.format("config")), problem
    assert problem.endswith("save the file as UTF-8")
    message = snapshot_error(tmp_path, content)
    assert message.startswith(str(tmp_path / "snap.yaml") + where.format("snapshot")), message


def test_a_utf8_byte_order_mark_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "spfmanager.yaml"
    path.write_bytes("\ufeffdomains:\n  a.example: {ip4: ['192.0.2.0/24']}\n".encode())
    assert list(load_config(path).domains) == ["a.example"]


# -- files that are not a config -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ":1: (top level): the file is empty; a config needs 'domains:'"),
        ("# todo\n", ":1: (top level): the file is empty; a config needs 'domains:'"),
        (
            "- example.com\n- example.org\n",
            ":1: (top level): a config is a mapping of defaults, providers, state, services, "
            "domains, notifications, macro, not a list",
        ),
        (
            "example.com\n",
            ":1: (top level): a config is a mapping of defaults, providers, state, services, "
            "domains, notifications, macro, not a single value ('example.com')",
        ),
    ],
)
def test_files_that_are_not_a_mapping(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "spfmanager.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [f"{path}{expected}"]


def test_a_directory_is_a_clean_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert caught.value.problems == [f"{tmp_path}: cannot read config: Is a directory"]
    with pytest.raises(SnapshotError, match="cannot read snapshot: Is a directory"):
        SnapshotResolver.from_file(tmp_path)
    (tmp_path / "file").write_text("")
    inside_a_file = tmp_path / "file" / "spfmanager.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(inside_a_file)
    assert caught.value.problems == [f"{inside_a_file}: cannot read config: Not a directory"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_file_is_a_clean_error(tmp_path: Path) -> None:
    path = tmp_path / "spfmanager.yaml"
    path.write_text("domains: {}\n")
    path.chmod(0)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [f"{path}: cannot read config: Permission denied"]


# -- one domain written twice ----------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [("SmallBiz.Example", "smallbiz.example"), ("x.example.", "x.example")],
)
def test_domains_that_normalise_alike_are_duplicates(first: str, second: str) -> None:
    problems = problems_of(
        f"""\
        domains:
          {first}:
            ip4: ['192.0.2.0/24']
          {second}:
            ip4: ['198.51.100.0/24']
        """
    )
    assert problems == [
        f"cfg.yaml:4: domains.{second}: duplicate domain {second!r}: the same name as "
        f"{first!r} on line 2 (domains are compared in lower case, without a final dot)"
    ]


def test_duplicate_domains_are_listed_with_every_other_problem() -> None:
    problems = problems_of(
        """\
        defaults: {ttl: 0}
        domains:
          Example.COM: {}
          example.com.: {ip4: [bad]}
          EXAMPLE.com: {}
        """
    )
    assert [p.split(": ")[:2] for p in problems] == [
        ["cfg.yaml:1", "defaults.ttl"],
        ["cfg.yaml:4", "domains.example.com."],  # the duplicate
        ["cfg.yaml:4", "domains.example.com..ip4[0]"],
        ["cfg.yaml:5", "domains.EXAMPLE.com"],
    ]
    assert "same name as 'Example.COM' on line 3" in problems[1]
    assert "same name as 'Example.COM' on line 3" in problems[3]


# -- strict types ----------------------------------------------------------------------

INTEGERS = [
    "ttl",
    "lookup_budget",
    "max_authorized_ipv4",
    "max_authorized_ipv6",
    "max_service_shrink",
    "max_service_growth",
    "query_budget",
    "min_ipv4_prefix",
    "min_ipv6_prefix",
]
NUMBERS = [*INTEGERS, "flatten_deadline"]


def test_every_number_field_is_checked_here() -> None:
    numeric = [
        name
        for name, field in Defaults.model_fields.items()
        if field.annotation in (int, float) and name not in ("policy", "provider")
    ]
    assert sorted(numeric) == sorted(NUMBERS)


@pytest.mark.parametrize("section", ["defaults", "domains.example.com"])
@pytest.mark.parametrize("field", NUMBERS)
@pytest.mark.parametrize("value", ["true", "false", "yes", "'8'"])
def test_booleans_and_strings_are_not_numbers(section: str, field: str, value: str) -> None:
    if section == "defaults":
        text, line = f"defaults:\n  {field}: {value}\n", 2
    else:
        text, line = f"domains:\n  example.com:\n    {field}: {value}\n", 3
    (problem,) = problems_of(text)
    kind = "integer" if field in INTEGERS else "number"
    got = "'8'" if value == "'8'" else repr(value in ("true", "yes"))
    boolean = "" if value == "'8'" else ", not a boolean"
    assert problem == (
        f"cfg.yaml:{line}: {section}.{field}: Input should be a valid {kind}{boolean} (got {got})"
    )


def test_an_integral_float_is_not_an_integer_but_a_deadline_may_be_whole() -> None:
    (problem,) = problems_of("defaults: {ttl: 3600.0}\n")
    assert problem == "cfg.yaml:1: defaults.ttl: Input should be a valid integer (got 3600.0)"
    config = parse_config("defaults: {ttl: 300, flatten_deadline: 30}\ndomains: {}\n")
    assert config.defaults.ttl == 300
    assert config.defaults.flatten_deadline == 30.0


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("ip4", "3232235777", "3232235777 is not an IPv4 network: write it as a string, e.g. "),
        ("ip4", "true", "True is not an IPv4 network"),
        ("ip6", "1", "1 is not an IPv6 network: write it as a string, e.g. '2001:db8::/32'"),
    ],
)
def test_networks_must_be_strings(field: str, value: str, expected: str) -> None:
    (problem,) = problems_of(f"domains:\n  example.com:\n    {field}: [{value}]\n")
    assert problem.startswith(f"cfg.yaml:3: domains.example.com.{field}[0]: {expected}"), problem


def test_quoted_and_plain_networks_are_both_strings() -> None:
    config = parse_config("domains:\n  example.com: {ip4: [192.0.2.7, '192.0.2.0/24']}\n")
    assert [str(n) for n in config.domains["example.com"].ip4] == ["192.0.2.7/32", "192.0.2.0/24"]
    assert Config.model_validate({"domains": {}}) == Config()


# -- through the CLI -------------------------------------------------------------------

runner = CliRunner()
HOSTILE: dict[str, tuple[bytes, str]] = {
    "alias bomb": (laughs().encode(), ":6: f[0]: aliases expand to more than"),
    "deep nesting": (b"[" * 5000 + b"]" * 5000, ":1: [0][0][0][0][0][0][0][0]...: nested deeper"),
    "NUL": (b"domains:\n  a.example: {}\x00\n", ":2: invalid YAML: character U+0000"),
    "latin-1": ("domains:\n  café.example: {}\n".encode("latin-1"), ":2: {} is not UTF-8 text"),
    "list key": (b"? [a, b]\n: 1\n", ":1: (top level) (key): a list cannot be a key"),
    "empty": (b"", ":1: (top level): the file is empty"),
    "list": (b"- a.example\n", ":1: (top level): a config is a mapping"),
    "several problems": (
        b"defaults: {ttl: true}\ndomains:\n  A.example: {}\n  a.example: {ip4: [1]}\n",
        ":1: defaults.ttl: Input should be a valid integer, not a boolean",
    ),
}
SNAPSHOT_HOSTILE = ["alias bomb", "deep nesting", "NUL", "latin-1", "list key"]


@pytest.mark.parametrize(("content", "expected"), HOSTILE.values(), ids=HOSTILE.keys())
def test_cli_prints_every_problem_and_exits_1(
    tmp_path: Path, provider_snapshot_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "spfmanager.yaml"
    path.write_bytes(content)
    with time_limit(LIMIT):
        result = runner.invoke(
            app, ["build", "-c", str(path), "--dns-snapshot", str(provider_snapshot_path)]
        )
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"error: {path}{expected.format('config')}"), lines
    assert all(line.startswith(f"{path}:") for line in lines[1:])
    if content.startswith(b"defaults"):
        assert [line.removeprefix("error: ").split(": ")[1] for line in lines] == [
            "defaults.ttl",
            "domains.a.example",
            "domains.a.example.ip4[0]",
        ]


@pytest.mark.parametrize("name", SNAPSHOT_HOSTILE)
def test_cli_refuses_hostile_snapshots(tmp_path: Path, name: str) -> None:
    content, expected = HOSTILE[name]
    path = tmp_path / "snap.yaml"
    path.write_bytes(content)
    with time_limit(LIMIT):
        result = runner.invoke(app, ["check", "example.com", "--dns-snapshot", str(path)])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert result.stderr.startswith(f"error: {path}{expected.format('snapshot')}"), result.stderr


def test_user_services_refuse_integer_networks() -> None:
    text = "services:\n  crm: {name: CRM, ip4: [3232235777]}\ndomains:\n  example.com: {}\n"
    (problem,) = problems_of(text)
    assert problem.startswith("cfg.yaml:2: services.crm.ip4[0]: 3232235777 is not an IPv4")


@pytest.mark.parametrize("value", ["5", "true", "1.5"])
def test_a_snapshot_entry_that_is_a_scalar_is_located(tmp_path: Path, value: str) -> None:
    message = snapshot_error(tmp_path, f"a.example: {value}\n")
    assert ":1: a.example: bad entry" in message


def test_every_snapshot_problem_reaches_the_cli(tmp_path: Path) -> None:
    snapshot = tmp_path / "snap.yaml"
    snapshot.write_text("a.example: [{TXT: [1]}]\nb: {x: [[[[1]]]]}\n" + "c: [" * 70 + "\n")
    result = CliRunner().invoke(app, ["check", "a.example", "--dns-snapshot", str(snapshot)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert str(snapshot) in result.output
