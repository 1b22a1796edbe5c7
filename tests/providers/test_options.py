"""Provider options are checked at load, against each adapter's ``Options`` model.

A misspelled, missing or mistyped option is a located config error for every kind; the
adapter is opened with exactly the validated options; the docs tables and the JSON Schema
come from the same models.
"""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from spfmanager.cli import app
from spfmanager.compile import compile_file
from spfmanager.config import ProviderConfig, Secret, config_schema, parse_config
from spfmanager.config.reference import replace_reference
from spfmanager.errors import ConfigError
from spfmanager.providers.registry import BUILTIN, provider_class
from spfmanager.providers.rfc2136 import RFC2136Provider
from spfmanager.providers.zonefile import ZoneFileProvider
from spfmanager.publish.changes import Create, RecordSet
from spfmanager.publish.connect import open_provider
from tests.providers.test_plugins import install_plugin

ROOT = Path(__file__).parent.parent.parent
TSIG = "c3BmbWFuYWdlci10ZXN0LWtleQ=="  # base64

# The smallest valid options of each kind (credentials as references).
MINIMAL: dict[str, dict[str, Any]] = {
    "zonefile": {},
    "route53": {},
    "cloudflare": {},
    "rfc2136": {"server": "127.0.0.1", "tsig_name": "spf-key.", "tsig_secret": "env:TEST_TSIG"},
    "powerdns": {"api_url": "http://127.0.0.1:8081", "api_key": "env:TEST_PDNS_KEY"},
}
# A realistic typo of one option of each kind, and the option meant.
TYPOS: dict[str, tuple[str, str]] = {
    "zonefile": ("dirctory", "directory"),
    "route53": ("hosted_zone", "hosted_zone_id"),
    "cloudflare": ("zoneid", "zone_id"),
    "rfc2136": ("tsig_algoritm", "tsig_algorithm"),
    "powerdns": ("server-id", "server_id"),
}
REQUIRED = [
    (kind, name)
    for kind in BUILTIN
    for name, info in getattr(provider_class(kind).Options, "model_fields", {}).items()
    if info.is_required()
]


def config_text(kind: str, options: dict[str, Any]) -> str:
    """A config whose provider ``dns`` has one option per line, from line 4 on."""
    lines = ["defaults: {provider: dns}", "providers:", "  dns:", f"    kind: {kind}"]
    lines += [f"    {key}: {json.dumps(value)}" for key, value in options.items()]  # JSON is YAML
    lines += ["domains:", "  example.com: {ip4: [192.0.2.0/24]}"]
    return "\n".join(lines) + "\n"


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "cfg.yaml")
    return caught.value.problems


def test_the_tables_cover_every_builtin_kind() -> None:
    assert set(MINIMAL) == set(TYPOS) == set(BUILTIN)
    assert {kind for kind, _ in REQUIRED} == {"rfc2136", "powerdns"}


@pytest.mark.parametrize("kind", sorted(BUILTIN))
def test_minimal_options_load(kind: str) -> None:
    config = parse_config(config_text(kind, MINIMAL[kind]), "cfg.yaml")
    assert config.providers["dns"].options == {
        k: Secret(v) if str(v).startswith("env:") else v for k, v in MINIMAL[kind].items()
    }


@pytest.mark.parametrize("kind", sorted(BUILTIN))
def test_a_misspelled_option_is_located_with_a_suggestion(kind: str) -> None:
    typo, meant = TYPOS[kind]
    text = config_text(kind, {**MINIMAL[kind], typo: "x"})
    line = text.splitlines().index(f'    {typo}: "x"') + 1
    (problem,) = problems(text)
    assert problem.startswith(
        f"cfg.yaml:{line}: providers.dns.{typo}: unknown option {typo!r} of kind {kind}, "
        f"did you mean {meant!r}? (allowed: "
    ), problem
    assert meant in problem.partition("(allowed: ")[2]


@pytest.mark.parametrize(("kind", "name"), REQUIRED)
def test_a_missing_required_option_is_located(kind: str, name: str) -> None:
    options = {k: v for k, v in MINIMAL[kind].items() if k != name}
    (problem,) = problems(config_text(kind, options))
    assert problem.startswith(
        f"cfg.yaml:3: providers.dns.{name}: missing required option {name!r} of kind {kind}"
    ), problem


@pytest.mark.parametrize("kind", sorted(BUILTIN))
def test_every_problem_of_a_provider_at_once(kind: str) -> None:
    required = {name for k, name in REQUIRED if k == kind}
    options = {k: v for k, v in MINIMAL[kind].items() if k not in required}
    typo, _ = TYPOS[kind]
    found = problems(config_text(kind, {**options, typo: 1, "colour": "red"}))
    expected = {f"providers.dns.{name}" for name in required | {typo, "colour"}}
    assert {p.split(": ")[1] for p in found} == expected


@pytest.mark.parametrize(
    ("kind", "options", "field", "message"),
    [
        ("zonefile", {"directory": ["zones"]}, "directory", "Input should be a valid string"),
        ("route53", {"wait": "yes"}, "wait", "Input should be a valid boolean (got 'yes')"),
        ("route53", {"poll_interval": 0}, "poll_interval", "greater than 0 (got 0)"),
        ("cloudflare", {"per_page": 1.5}, "per_page", "valid integer (got 1.5)"),
        ("rfc2136", {"port": "53"}, "port", "Input should be a valid integer (got '53')"),
        ("rfc2136", {"port": True}, "port", "valid integer, not a boolean (got True)"),
        ("powerdns", {"timeout": "30"}, "timeout", "Input should be a valid number (got '30')"),
    ],
)
def test_a_mistyped_option_is_located(
    kind: str, options: dict[str, Any], field: str, message: str
) -> None:
    (problem,) = problems(config_text(kind, {**MINIMAL[kind], **options}))
    assert problem.startswith("cfg.yaml:") and f": providers.dns.{field}: " in problem
    assert message in problem, problem


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("rfc2136", "tsig_secret"),
        ("powerdns", "api_key"),
        ("cloudflare", "api_token"),
        ("route53", "aws_secret_access_key"),
    ],
)
def test_a_credential_written_inline_is_refused_without_echoing_it(kind: str, name: str) -> None:
    (problem,) = problems(config_text(kind, {**MINIMAL[kind], name: "hunter2-inline"}))
    assert f"providers.dns.{name}: option {name!r} is a credential: write it as" in problem
    assert "hunter2" not in problem


def test_string_options_may_be_references_too() -> None:
    config = parse_config(
        config_text("route53", {"hosted_zone_id": "env:ZONE_ID", "region_name": "eu-west-1"})
    )
    assert config.providers["dns"].options == {
        "hosted_zone_id": Secret("env:ZONE_ID"),
        "region_name": "eu-west-1",
    }


def test_an_unknown_kind_is_still_a_clear_error() -> None:
    (problem,) = problems(config_text("route35", {"hosted_zone_id": "Z1"}))
    assert problem.startswith(
        "cfg.yaml:4: providers.dns.kind: unknown provider kind 'route35', did you mean "
        "'route53'? (available: "
    )


@pytest.mark.parametrize("example", sorted((ROOT / "examples").rglob("spfmanager.yaml")))
def test_the_examples_still_load(example: Path) -> None:
    config, intents = compile_file(example)
    assert config.providers and intents


@pytest.mark.parametrize("kind", sorted(BUILTIN))
def test_plan_prints_the_located_error_and_exits_1(kind: str, tmp_path: Path) -> None:
    typo, meant = TYPOS[kind]
    path = tmp_path / "spfmanager.yaml"
    path.write_text(config_text(kind, {**MINIMAL[kind], typo: "x"}), encoding="utf-8")
    snapshot = tmp_path / "dns-snapshot.yaml"
    snapshot.write_text("{}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["plan", "-c", str(path), "--dns-snapshot", str(snapshot)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert result.stderr.startswith(f"error: {path}:")
    assert f"providers.dns.{typo}: unknown option {typo!r}" in result.stderr
    assert f"did you mean {meant!r}?" in result.stderr


# -- opening the adapter --------------------------------------------------------------------


def test_the_adapter_gets_the_validated_options_and_their_defaults(tmp_path: Path) -> None:
    config = parse_config(
        config_text("zonefile", {"directory": "out", "nameserver": "ns1.example.net."})
    )
    settings = config.providers["dns"]
    assert settings.arguments == {
        "directory": "out",
        "filename": None,
        "nameserver": "ns1.example.net.",
    }
    provider = open_provider(settings, "example.com", tmp_path)
    assert isinstance(provider, ZoneFileProvider)
    provider.apply([Create(RecordSet("example.com", ("v=spf1 -all",)))])
    text = (tmp_path / "out" / "example.com.zone").read_text()
    assert "NS\tns1.example.net." in text


def test_credentials_are_read_when_the_adapter_is_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = parse_config(config_text("rfc2136", {**MINIMAL["rfc2136"], "port": 5353}))
    monkeypatch.setenv("TEST_TSIG", TSIG)
    provider = open_provider(config.providers["dns"], "example.com", tmp_path)
    assert isinstance(provider, RFC2136Provider)
    assert (provider.server, provider.port, provider.tsig_name) == ("127.0.0.1", 5353, "spf-key.")
    assert provider.timeout == 10.0  # the declared default
    assert TSIG not in repr(config) + config.model_dump_json()
    monkeypatch.delenv("TEST_TSIG")
    with pytest.raises(ConfigError, match="TEST_TSIG is not set"):
        open_provider(config.providers["dns"], "example.com", tmp_path)


@pytest.mark.parametrize("kind", sorted(BUILTIN))
def test_every_option_is_a_documented_keyword_of_the_adapter(kind: str) -> None:
    cls = provider_class(kind)
    assert cls.Options is not None
    parameters = inspect.signature(cls.__init__).parameters
    assert not any(p.kind is p.VAR_KEYWORD for p in parameters.values()), "typos would pass"
    for name, info in cls.Options.model_fields.items():
        assert name in parameters, f"{kind}: option {name} is no argument of __init__"
        assert info.description, f"{kind}: option {name} has no description"
        default = parameters[name].default
        if (kind, name) == ("zonefile", "directory"):
            continue  # the config's default is zones/ beside it; Python callers pass it
        if info.is_required():
            assert default is inspect.Parameter.empty, f"{kind}.{name}"
        else:
            assert info.default == default, f"{kind}.{name}: {info.default!r} != {default!r}"


# -- plugins --------------------------------------------------------------------------------

PLAIN_PLUGIN = """
from spfmanager.providers.base import Provider

class PlainProvider(Provider):
    name = "plain"
    def _list(self, names):
        return []
    def _apply(self, changes):
        pass
"""
MODEL_PLUGIN = """
from typing import ClassVar
from pydantic import BaseModel, SecretStr
from spfmanager.providers.base import Provider, ProviderOptions

class ModelOptions(ProviderOptions):
    endpoint: str
    password: SecretStr

class ModelProvider(Provider):
    name = "modelled"
    Options: ClassVar[type[BaseModel] | None] = ModelOptions
    def __init__(self, zone, endpoint, password):
        super().__init__(zone)
        self.endpoint, self.password = endpoint, password
    def _list(self, names):
        return []
    def _apply(self, changes):
        pass
"""


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_plugin(tmp_path, "optplain", "optplain_plugin:PlainProvider", PLAIN_PLUGIN)
    install_plugin(tmp_path, "optmodel", "optmodel_plugin:ModelProvider", MODEL_PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()


@pytest.mark.usefixtures("plugins")
def test_a_plugin_without_a_model_gets_its_options_unchecked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = config_text("optplain", {"anything": 1, "secret_sauce": "env:SAUCE"})
    settings = parse_config(text).providers["dns"]
    assert (
        settings.options
        == settings.arguments
        == {"anything": 1, "secret_sauce": Secret("env:SAUCE")}
    )
    monkeypatch.setenv("SAUCE", "tomato")
    provider = open_provider(settings, "example.com", tmp_path)
    assert provider.options == {"anything": 1, "secret_sauce": "tomato"}
    (problem,) = problems(config_text("optplain", {"api_key": "inline"}))
    assert "providers.dns.api_key: option 'api_key' looks like a credential" in problem


@pytest.mark.usefixtures("plugins")
def test_a_plugin_model_is_checked_like_a_builtin(tmp_path: Path) -> None:
    missing, typo = problems(config_text("optmodel", {"endpont": "x", "password": "env:PW"}))
    assert "providers.dns.endpoint: missing required option 'endpoint' of kind optmodel" in missing
    assert "providers.dns.endpont: unknown option 'endpont' of kind optmodel, did you mean" in typo
    text = config_text("optmodel", {"endpoint": "https://dns.example", "password": "env:PW"})
    assert isinstance(parse_config(text).providers["dns"].options["password"], Secret)


def test_provider_config_in_memory_is_checked_too() -> None:
    with pytest.raises(ValueError, match="unknown option 'dirctory' of kind zonefile"):
        ProviderConfig.model_validate({"kind": "zonefile", "dirctory": "zones"})


# -- the documentation and the schema -------------------------------------------------------


def test_the_option_tables_in_the_docs_are_current() -> None:
    docs = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    assert replace_reference(docs) == docs, (
        "regenerate with: python -m spfmanager.config.reference docs/config.md"
    )


@pytest.mark.parametrize("kind", sorted(BUILTIN))
def test_the_schema_checks_options_per_kind(kind: str) -> None:
    schema = config_schema()

    def valid(options: dict[str, Any]) -> bool:
        data = {"providers": {"dns": {"kind": kind, **options}}}
        return jsonschema.Draft202012Validator(schema).is_valid(data)

    assert valid(MINIMAL[kind])
    assert not valid({**MINIMAL[kind], TYPOS[kind][0]: "x"})
    for required_kind, name in REQUIRED:
        if required_kind == kind:
            assert not valid({k: v for k, v in MINIMAL[kind].items() if k != name})


def test_the_schema_refuses_inline_credentials_and_leaves_plugins_open() -> None:
    validator = jsonschema.Draft202012Validator(config_schema())
    inline = {**MINIMAL["powerdns"], "api_key": "inline"}
    assert not validator.is_valid({"providers": {"p": {"kind": "powerdns", **inline}}})
    assert validator.is_valid({"providers": {"p": {"kind": "someplugin", "any": 1}}})
    assert not validator.is_valid({"providers": {"p": {"directory": "zones"}}})  # no kind
