"""spfmanager.yaml: valid configs load; every problem is reported with FILE:LINE: field."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from spfmanager.cli import app
from spfmanager.compile import compile_config
from spfmanager.config import (
    Config,
    Policy,
    Secret,
    SecretSource,
    ServiceUse,
    config_schema,
    config_schema_json,
    load_config,
    parse_config,
)
from spfmanager.errors import ConfigError

SCHEMA_FILE = Path(__file__).parent.parent / "schema" / "spfmanager.schema.json"

EXAMPLE = """\
defaults: {policy: "-all", ttl: 3600, lookup_budget: 8, provider: local}
providers:
  local: {kind: zonefile, directory: zones}
  aws: {kind: route53, hosted_zone_id: Z123, aws_access_key_id: "env:AWS_ACCESS_KEY_ID"}
state: {url: "sqlite:///spfmanager.db"}
services:
  mycrm: {name: "My CRM", ip4: ["198.51.100.0/28"], docs: "https://crm.example/spf"}
domains:
  example.com:
    services: [microsoft365, mailchimp, {hubspot: {account_id: "1234567"}}, mycrm]
    ip4: ["192.0.2.0/24"]
    ip6: ["2001:db8::/32"]
    a: ["mail.example.com"]
    mx: true
    include: ["spf.partner.example"]
    keep: ["include:spf.partner.example"]
    policy: "~all"
    ttl: 300
    provider: aws
    zone: example.com
  news.example.com:
    services: [{mailgun: {region: eu}}]
"""


def problems_of(text: str) -> list[str]:
    """The problems of loading and compiling ``text`` (as the CLI does)."""
    with pytest.raises(ConfigError) as caught:
        compile_config(parse_config(textwrap.dedent(text), "cfg.yaml"))
    return caught.value.problems


def test_example_loads(tmp_path: Path) -> None:
    path = tmp_path / "spfmanager.yaml"
    path.write_text(EXAMPLE)
    config = load_config(path)
    domain = config.domains["example.com"]
    assert domain.policy is Policy.SOFTFAIL
    assert domain.services[2] == ServiceUse("hubspot", (("account_id", "1234567"),))
    assert domain.mx == ("@",)
    assert str(domain.ip4[0]) == "192.0.2.0/24"
    assert config.defaults.provider == "local"
    assert config.providers["local"].options == {"directory": "zones"}


def test_secrets_are_references_resolved_only_on_request(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = parse_config(EXAMPLE)
    secret = config.providers["aws"].options["aws_access_key_id"]
    assert isinstance(secret, Secret)
    assert secret.source is SecretSource.ENV
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA-very-secret")
    assert secret.reveal() == "AKIA-very-secret"
    assert "very-secret" not in repr(config) + str(secret) + config.model_dump_json()
    (tmp_path / "token").write_text("file-secret\n")
    assert Secret(f"file:{tmp_path / 'token'}").reveal() == "file-secret"
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    with pytest.raises(ConfigError, match="AWS_ACCESS_KEY_ID is not set"):
        secret.reveal()


def test_inline_credentials_are_rejected() -> None:
    (problem,) = problems_of("providers:\n  cf: {kind: cloudflare, api_token: abc123}\n")
    assert problem.startswith(
        "cfg.yaml:2: providers.cf.api_token: option 'api_token' is a credential"
    )
    assert "abc123" not in problem


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "domains:\n  example.com:\n    ip4: [192.0.2.0/24, 'x']\n",
            "cfg.yaml:3: domains.example.com.ip4[1]: 'x' is not an IPv4 network",
        ),
        (
            "domains:\n  example.com:\n    ip4:\n      - 192.0.2.1/24\n",
            "cfg.yaml:4: domains.example.com.ip4[0]: '192.0.2.1/24' is not an IPv4 network: "
            "192.0.2.1/24 has host bits set (allowed:",
        ),
        (
            "domains:\n  example.com:\n    ip6: ['2001:db8::/129']\n",
            "cfg.yaml:3: domains.example.com.ip6[0]: '2001:db8::/129' is not an IPv6 network",
        ),
        (
            "domains:\n  example.com:\n    services: [microsoft356]\n",
            "cfg.yaml:3: domains.example.com.services[0]: unknown service 'microsoft356'; "
            "did you mean 'microsoft365'?",
        ),
        (
            "domains:\n  example.com:\n    services:\n      - hubspot\n",
            "cfg.yaml:4: domains.example.com.services[0]: hubspot: missing required parameter "
            "'account_id'",
        ),
        (
            "domains:\n  example.com:\n    policy: '?all'\n",
            "cfg.yaml:3: domains.example.com.policy: '?all' says nothing about unlisted hosts",
        ),
        (
            "defaults:\n  policy: '+all'\n",
            "cfg.yaml:2: defaults.policy: '+all' authorises every host on the internet",
        ),
        (
            "domains:\n  example.com:\n    policy: 'reject'\n",
            "cfg.yaml:3: domains.example.com.policy: 'reject' is not allowed (allowed: '-all' "
            "or '~all')",
        ),
        (
            "providers:\n  local:\n    kind: zonefil\n",
            "cfg.yaml:3: providers.local.kind: unknown provider kind 'zonefil', did you mean "
            "'zonefile'? (available:",
        ),
        (
            "providers:\n  local: {kind: zonefile}\ndomains:\n  example.com: {provider: locl}\n",
            "cfg.yaml:4: domains.example.com.provider: unknown provider 'locl', did you mean "
            "'local'? (defined: local)",
        ),
        (
            "domains:\n  example.com:\n    colour: red\n",
            "cfg.yaml:3: domains.example.com.colour: unknown field 'colour' (allowed: a, "
            "flatten_deadline, include,",
        ),
        (
            "domains:\n  example.com:\n    ip4: []\n    ip4: [192.0.2.0/24]\n",
            "cfg.yaml:4: domains.example.com.ip4: duplicate key 'ip4' (first defined on line 3)",
        ),
        (
            "domains:\n  example.com:\n    a: ['bad name']\n",
            "cfg.yaml:3: domains.example.com.a[0]: 'bad name' is not a valid a target",
        ),
        (
            "domains:\n  bad_name..com: {}\n",
            "cfg.yaml:2: domains.bad_name..com (key): 'bad_name..com' is not a domain name",
        ),
        (
            "domains:\n  example.com:\n    keep: ['include:other.example']\n",
            "cfg.yaml:3: domains.example.com.keep[0]: 'include:other.example' is not a term of "
            "this record",
        ),
        (
            "domains:\n  example.org:\n    zone: example.com\n",
            "cfg.yaml:3: domains.example.org.zone: example.org is not inside zone example.com",
        ),
        ("domains: [\n", "cfg.yaml:2: invalid YAML"),
        (
            "defaults: {lookup_budget: 11}\n",
            "cfg.yaml:1: defaults.lookup_budget: Input should be less than or equal to 10",
        ),
    ],
)
def test_each_problem_names_file_line_and_field(text: str, expected: str) -> None:
    problems = problems_of(text)
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems[0]


def test_all_problems_reported_at_once_in_file_order() -> None:
    problems = problems_of(
        """\
        defaults: {policy: "+all"}
        providers:
          local: {kind: nope}
        domains:
          example.com:
            services: [mailgnu, {hubspot: {acount_id: "1"}}]
            ip4: [300.0.0.0/8]
            extra: 1
        """
    )
    assert [p.split(": ")[0:2] for p in problems] == [
        ["cfg.yaml:1", "defaults.policy"],
        ["cfg.yaml:3", "providers.local.kind"],
        ["cfg.yaml:6", "domains.example.com.services[0]"],
        ["cfg.yaml:6", "domains.example.com.services[1]"],
        ["cfg.yaml:7", "domains.example.com.ip4[0]"],
        ["cfg.yaml:8", "domains.example.com.extra"],
    ]
    assert "did you mean 'account_id'?" in problems[3]
    assert str(ConfigError(problems)).count("\n") == len(problems) - 1


def test_all_duplicate_keys_are_reported() -> None:
    problems = problems_of("domains: {}\nstate: {}\ndomains: {}\nstate: {}\n")
    assert [p.split(":")[1] for p in problems] == ["3", "4"]


def test_a_broken_own_service_is_reported_where_it_is_defined() -> None:
    problems = problems_of(
        """\
        services:
          mycrm: {name: CRM, ip4: [bad]}
        domains:
          example.com: {services: [mycrm]}
        """
    )
    assert len(problems) == 1
    assert problems[0].startswith("cfg.yaml:2: services.mycrm.ip4[0]: 'bad' is not an IPv4")


def test_unreadable_file_is_a_clean_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "missing.yaml")


def test_empty_file_is_an_error() -> None:
    # an empty (e.g. truncated) config must not plan every domain away
    for text in ("", "# nothing yet\n", "---\n"):
        assert problems_of(text) == [
            "cfg.yaml:1: (top level): the file is empty; a config needs 'domains:'"
        ]
    assert parse_config("domains: {}\n") == Config()


def test_schema_validates_the_example() -> None:
    schema = config_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(yaml.safe_load(EXAMPLE), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"domains": {"example.com": {"colour": "red"}}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"defaults": {"policy": "+all"}}, schema)


def test_committed_schema_is_in_sync() -> None:
    assert SCHEMA_FILE.read_text() == config_schema_json(), (
        "regenerate with: spfmanager schema --output schema/spfmanager.schema.json"
    )


def test_schema_command(tmp_path: Path) -> None:
    runner = CliRunner()
    shown = runner.invoke(app, ["schema"])
    assert shown.exit_code == 0
    assert json.loads(shown.stdout)["title"] == "spfmanager configuration"
    target = tmp_path / "schema.json"
    assert runner.invoke(app, ["schema", "--output", str(target)]).exit_code == 0
    assert target.read_text() == config_schema_json()
    failed = runner.invoke(app, ["schema", "--output", str(tmp_path / "no" / "x.json")])
    assert failed.exit_code == 1
    assert "cannot write" in failed.stderr
