"""The ``mode:`` field and the ``macro:`` section: located errors (file, line, field)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spfmanager.compile import compile_file
from spfmanager.config import Mode, load_config
from spfmanager.dns.snapshot import SnapshotResolver
from spfmanager.errors import ConfigError
from spfmanager.publish.workflow import Workspace

MACRO = "macro:\n  zone: spf.example.net\n  nameservers: [ns1.example.net]\n"


def problems(tmp_path: Path, text: str, *, workspace: bool = False) -> list[str]:
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        if workspace:
            Workspace.load(path, SnapshotResolver({}))
        else:
            compile_file(path)
    return [p.replace(f"{tmp_path}/", "") for p in caught.value.problems]


def test_mode_defaults_to_flatten_and_the_section_has_defaults(tmp_path: Path) -> None:
    path = tmp_path / "cfg.yaml"
    path.write_text(MACRO + "defaults: {mode: macro}\ndomains:\n  a.example: {ip4: [192.0.2.1]}\n"
                    "  b.example: {ip4: [192.0.2.2], mode: flatten}\n")  # fmt: skip
    config, intents = compile_file(path)
    assert [i.mode for i in intents] == [Mode.MACRO, Mode.FLATTEN]
    assert config.macro is not None
    assert (config.macro.data_file, config.macro.ttl, config.macro.listen) == (
        "macro.data",
        300,
        "127.0.0.1/5353",
    )
    assert config.macro.contact is None
    path.write_text("domains:\n  a.example: {ip4: [192.0.2.1]}\n")
    assert compile_file(path)[1][0].mode is Mode.FLATTEN


def test_the_contact_may_be_a_mail_address(tmp_path: Path) -> None:
    path = tmp_path / "cfg.yaml"
    path.write_text(MACRO + "  contact: Hostmaster@Example.NET\n  listen: 0.0.0.0\ndomains: {}\n")
    config = load_config(path)
    assert config.macro is not None
    assert (config.macro.contact, config.macro.listen) == ("hostmaster.example.net", "0.0.0.0/53")


def test_mode_macro_without_the_section_is_located(tmp_path: Path) -> None:
    found = problems(tmp_path, "domains:\n  a.example:\n    ip4: [192.0.2.1]\n    mode: macro\n")
    assert found == [
        "cfg.yaml:4: domains.a.example.mode: a.example: mode macro needs a top-level 'macro:' "
        "section (zone, data_file, nameservers; see docs/macro.md)"
    ]
    found = problems(tmp_path, "defaults:\n  mode: macro\ndomains:\n  a.example: {}\n")
    assert found[0].startswith("cfg.yaml:2: defaults.mode: a.example: mode macro needs")


def test_a_domain_too_long_for_the_macro_names_is_a_located_error(tmp_path: Path) -> None:
    long = ".".join(["d" * 60] * 2) + ".example"  # 130 characters
    text = (
        "macro:\n  zone: " + ".".join(["z" * 60]) + ".example.net\n  nameservers: [ns.example]\n"
        f"domains:\n  ok.example: {{mode: macro}}\n  {long}:\n    mode: macro\n"
    )
    found = problems(tmp_path, text, workspace=True)
    assert len(found) == 1
    assert found[0].startswith(f"cfg.yaml:6: domains.{long}: {long}: macro mode cannot serve it")
    assert "the domain and the zone may have 184 characters together, they have 201" in found[0]


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (
            "  colour: red\n",
            "cfg.yaml:4: macro.colour: unknown field 'colour' (allowed: backend, contact, "
            "data_file, delegation, listen, nameservers, provider, provider_zone, ttl, zone)",
        ),
        ("  nameservers: []\n", "cfg.yaml:1: macro: the rbldnsd backend needs 'nameservers'"),
        ("  backend: records\n", "cfg.yaml:1: macro: the records backend needs 'provider'"),
        (
            "  backend: lua\n",
            "cfg.yaml:4: macro.backend: 'lua' is not allowed (allowed: 'rbldnsd' or 'records')",
        ),
        (
            "  backend: records\n  provider: p\n  provider_zone: other.example\n"
            "providers:\n  p: {kind: zonefile}\n",
            "cfg.yaml:1: macro: provider_zone other.example does not hold the macro zone",
        ),
        (
            "  delegation: {zone: elsewhere.example}\n",
            "cfg.yaml:1: macro: delegation zone elsewhere.example is not a parent of the macro",
        ),
        (
            "  nameservers: [ns1.spf.example.net]\n  delegation: {}\n",
            "cfg.yaml:1: macro: nameserver ns1.spf.example.net is inside the macro zone: give "
            "its addresses under 'delegation.glue'",
        ),
        (
            "  nameservers: [ns1.spf.example.net]\n  delegation:\n"
            "    glue: {ns1.spf.example.net: [192.0.2.300]}\n",
            "cfg.yaml:5: macro.delegation.glue.ns1.spf.example.net[0]: '192.0.2.300' does not",
        ),
        ("  ttl: 0\n", "cfg.yaml:4: macro.ttl: Input should be greater than or equal to 1"),
        ("  listen: here/53\n", "cfg.yaml:4: macro.listen: 'here/53' is not ADDRESS/PORT"),
        ("  data_file: ''\n", "cfg.yaml:4: macro.data_file: String should have at least 1"),
    ],
)
def test_macro_section_errors_are_located(tmp_path: Path, section: str, expected: str) -> None:
    base = MACRO if "nameservers" not in section else "macro:\n  zone: spf.example.net\n"
    text = base + section + "domains: {}\n"
    found = problems(tmp_path, text)
    assert any(p.startswith(expected) for p in found), found


def test_a_missing_zone_is_located(tmp_path: Path) -> None:
    found = problems(tmp_path, "macro:\n  nameservers: [ns.example]\ndomains: {}\n")
    assert found == ["cfg.yaml:1: macro.zone: required field missing"]  # the section's line


def test_mode_must_be_flatten_or_macro(tmp_path: Path) -> None:
    found = problems(tmp_path, "domains:\n  a.example: {mode: chain}\n")
    assert found == [
        "cfg.yaml:2: domains.a.example.mode: 'chain' is not allowed (allowed: 'flatten' or 'macro')"
    ]
