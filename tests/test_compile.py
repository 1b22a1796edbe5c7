"""Config -> Intent: the unflattened record, its order, deduplication and sources."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from spfmanager import parse_record
from spfmanager.catalog import load_catalog
from spfmanager.compile import Intent, Source, compile_config, compile_domain, compile_file
from spfmanager.config import Config, Defaults, DomainConfig, Policy, parse_config
from spfmanager.errors import ConfigError
from spfmanager.spf.parser import parse_term


def compile_text(text: str) -> dict[str, Intent]:
    intents = compile_config(parse_config(textwrap.dedent(text)))
    return {intent.domain: intent for intent in intents}


@pytest.mark.parametrize(
    ("domain", "record"),
    [
        ("{}", "v=spf1 -all"),
        ("{services: [google-workspace]}", "v=spf1 include:_spf.google.com -all"),
        (
            "{services: [microsoft365, {hubspot: {account_id: '99'}}], policy: '~all'}",
            "v=spf1 include:spf.protection.outlook.com include:99.spf01.hubspotemail.net ~all",
        ),
        (
            "{ip4: [192.0.2.0/24, 192.0.2.7], ip6: ['2001:db8::/32', '2001:db8::1']}",
            "v=spf1 ip4:192.0.2.0/24 ip4:192.0.2.7 ip6:2001:db8::/32 ip6:2001:db8::1 -all",
        ),
        ("{a: true, mx: true}", "v=spf1 a mx -all"),
        ("{a: ['@', mail.example.com], mx: false}", "v=spf1 a a:mail.example.com -all"),
        (
            "{include: [spf.partner.example], services: [{proofpoint: {region: eu}}], "
            "mx: [mx.example.net]}",
            "v=spf1 a:dispatch-eu.ppe-hosted.com mx:mx.example.net include:spf.partner.example "
            "-all",
        ),
        (
            "{include: ['%{i}._spf.example.net']}",
            "v=spf1 include:%{i}._spf.example.net -all",
        ),
    ],
)
def test_records(domain: str, record: str) -> None:
    intent = compile_text(f"domains:\n  example.com: {domain}\n")["example.com"]
    assert intent.record.render() == record
    assert parse_record(intent.record.render()) == intent.record


def test_order_services_then_fields_then_policy() -> None:
    intent = compile_text(
        """\
        services:
          crm: {name: CRM, ip4: [198.51.100.0/28], include: [crm.example.net]}
        domains:
          example.com:
            include: [z.example]
            mx: true
            a: true
            ip6: ['2001:db8::/48']
            ip4: [192.0.2.0/24]
            services: [sendgrid, crm, mailjet]
        """
    )["example.com"]
    assert intent.record.render() == (
        "v=spf1 include:sendgrid.net include:crm.example.net ip4:198.51.100.0/28 "
        "include:spf.mailjet.com ip4:192.0.2.0/24 ip6:2001:db8::/48 a mx include:z.example -all"
    )


def test_identical_terms_appear_once_with_every_source() -> None:
    intent = compile_text(
        """\
        domains:
          example.com:
            services: [microsoft365, microsoft365, {mailgun: {region: eu}}]
            include: [spf.protection.outlook.com, _spf.eu.mailgun.org]
            ip4: [192.0.2.1, 192.0.2.1/32]
        """
    )["example.com"]
    assert intent.record.render() == (
        "v=spf1 include:spf.protection.outlook.com include:_spf.eu.mailgun.org ip4:192.0.2.1 -all"
    )
    outlook = parse_term("include:spf.protection.outlook.com")
    assert [str(s) for s in intent.sources_of(outlook)] == [
        "services.microsoft365",
        "services.microsoft365",
        "include",
    ]
    assert intent.sources_of(parse_term("ip4:192.0.2.1")) == (Source("ip4"), Source("ip4"))
    assert intent.sources_of(parse_term("-all")) == (Source("policy"),)
    assert intent.sources_of(parse_term("include:absent.example")) == ()
    assert len(intent.sources) == len(intent.record.terms)


def test_defaults_and_overrides() -> None:
    intents = compile_text(
        """\
        defaults: {policy: '~all', ttl: 600, lookup_budget: 7, provider: dns}
        providers:
          dns: {kind: zonefile, directory: zones}
          other: {kind: zonefile, directory: other}
        domains:
          example.com: {}
          mail.example.org: {policy: '-all', ttl: 60, lookup_budget: 9, provider: other,
                             zone: example.org, keep: [mx], mx: true}
        """
    )
    plain, custom = intents["example.com"], intents["mail.example.org"]
    assert (plain.zone, plain.provider, plain.ttl, plain.lookup_budget, plain.policy) == (
        "example.com", "dns", 600, 7, Policy.SOFTFAIL,
    )  # fmt: skip
    assert (custom.zone, custom.provider, custom.ttl, custom.lookup_budget, custom.policy) == (
        "example.org", "other", 60, 9, Policy.FAIL,
    )  # fmt: skip
    assert custom.keep == frozenset({"mx"})
    assert custom.record.render() == "v=spf1 mx -all"


def test_keep_is_normalised_to_the_rendered_term() -> None:
    intent = compile_text(
        "domains:\n  example.com:\n"
        "    {include: [Spf.Partner.example], keep: ['+include:Spf.Partner.example']}\n"
    )["example.com"]
    assert intent.keep == frozenset({"include:Spf.Partner.example"})
    assert intent.keep <= {t.render() for t in intent.record.terms}


def test_intent_is_immutable() -> None:
    intent = compile_text("domains:\n  example.com: {}\n")["example.com"]
    with pytest.raises(AttributeError):
        intent.ttl = 1  # type: ignore[misc]


def test_compile_domain_reports_problems_without_a_file() -> None:
    domain = DomainConfig.model_validate(
        {"services": [{"hubspot": {}}], "zone": "example.net"}
    )  # validated outside a Config: no cross-reference checks yet
    with pytest.raises(ConfigError) as caught:
        compile_domain("example.com", domain, load_catalog(), Defaults())
    assert caught.value.problems == [
        "domains.example.com.services[0]: missing required parameter 'account_id' "
        "(Your HubSpot account id (Hub ID); e.g. '1234567')",
        "domains.example.com.zone: example.com is not inside zone example.net",
    ]


def test_every_catalog_service_compiles_into_a_parseable_record() -> None:
    catalog = load_catalog()
    uses = [
        {s.id: {n: p.example for n, p in s.parameters.items()}} if s.parameters else s.id
        for s in catalog
    ]
    domain = DomainConfig.model_validate({"services": uses})
    intent = compile_domain("example.com", domain, catalog, Defaults())
    assert parse_record(intent.record.render()) == intent.record
    distinct = {
        t for s in catalog for t in s.terms({n: p.example for n, p in s.parameters.items()})
    }
    assert len(intent.record.terms) == len(distinct) + 1  # a shared include is listed once


def test_a_service_with_nothing_for_spf_adds_no_term_and_says_so() -> None:
    intents = compile_text(
        """\
        domains:
          example.com: {services: [microsoft365, intercom]}
        """
    )
    intent = intents["example.com"]
    assert intent.record.render() == "v=spf1 include:spf.protection.outlook.com -all"
    assert intent.notes == (
        "intercom adds no term: nothing to add to your SPF record (root: none)",
    )


@pytest.mark.parametrize(
    ("domain", "note"),
    [
        (
            "example.com: {services: [sendgrid]}",
            "sendgrid does not need an include in the root record (it checks SPF on its own "
            "return-path domain); it spends 1 lookup",
        ),
        (
            "example.com: {services: [pardot]}",
            "pardot is needed only if you set a custom return-path on this domain; otherwise "
            "it spends 1 lookup for nothing",
        ),
    ],
)
def test_a_service_that_belongs_elsewhere_is_noted_at_a_zone_apex(domain: str, note: str) -> None:
    (intent,) = compile_text(f"domains:\n  {domain}\n").values()
    assert intent.notes == (note,)


def test_a_return_path_subdomain_gets_no_placement_note() -> None:
    intents = compile_text(
        """\
        domains:
          bounce.example.com: {zone: example.com, services: [amazonses, pardot]}
        """
    )
    assert intents["bounce.example.com"].notes == ()


def test_an_alias_compiles_as_its_service() -> None:
    intents = compile_text("domains:\n  example.com: {services: [gcc-high, o365]}\n")
    intent = intents["example.com"]
    assert intent.record.render() == (
        "v=spf1 include:spf.protection.office365.us include:spf.protection.outlook.com -all"
    )
    assert intent.sources[0] == (Source("services", "microsoft365-gov"),)


@pytest.mark.parametrize(
    ("service", "fix"),
    [
        ("trendmicro", "missing required parameter 'region': one of us, eu, anz, jp, sg, in, uae"),
    ],
)
def test_an_entry_whose_record_changed_is_an_error_naming_the_fix(
    service: str, fix: str, tmp_path: Path
) -> None:
    """trendmicro changed its include: an old config must not silently publish
    a different record, it fails with the line, the field and the values to choose from."""
    path = tmp_path / "cfg.yaml"
    path.write_text(f"domains:\n  example.com:\n    services:\n      - {service}\n")
    with pytest.raises(ConfigError) as caught:
        compile_file(path)
    (problem,) = caught.value.problems
    name = service.strip("{").partition(":")[0]
    assert problem.startswith(f"{path}:4: domains.example.com.services[0]: {name}: "), problem
    assert fix in problem


SNAPSHOT = ("--dns-snapshot", "dns-snapshot.yaml")
PLAN_CONFIG = """\
defaults: {policy: "-all", provider: local}
providers:
  local: {kind: zonefile, directory: zones}
state: {url: "sqlite:///spfmanager.db"}
domains:
  example.com:
    services: [microsoft365, intercom, sendgrid]
"""


def test_plan_prints_the_placement_notes(tmp_path: Path) -> None:
    """As a user runs it: ``spfmanager plan`` shows why intercom and sendgrid do not
    belong in the root record."""
    (tmp_path / "spfmanager.yaml").write_text(PLAN_CONFIG)
    snapshot = {
        "spf.protection.outlook.com": [{"TXT": "v=spf1 ip4:192.0.2.0/24 -all"}],
        "sendgrid.net": [{"TXT": "v=spf1 ip4:198.51.100.0/24 -all"}],
    }
    (tmp_path / "dns-snapshot.yaml").write_text(yaml.safe_dump(snapshot))
    done = subprocess.run(
        [sys.executable, "-m", "spfmanager", "plan", "-c", "spfmanager.yaml", *SNAPSHOT],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "250"},
    )
    assert done.returncode in (0, 2), done.stderr
    out = " ".join(done.stdout.split())
    assert "example.com: intercom adds no term: nothing to add to your SPF record" in out
    assert (
        "example.com: sendgrid does not need an include in the root record (it checks SPF on "
        "its own return-path domain); it spends 1 lookup"
    ) in out


TWO_PROBLEMS = """\
domains:
  example.org:
    zone: example.net
  example.com:
    ip4: [192.0.2.0/24]
    keep: [mx, 'ip4:192.0.2.0/24', 'include:other.example']
"""


def test_loading_validates_only_and_compiling_reports_every_problem_located() -> None:
    config = parse_config(TWO_PROBLEMS, "cfg.yaml")  # a valid document
    assert config.source is not None and config.source.name == "cfg.yaml"
    with pytest.raises(ConfigError) as caught:
        compile_config(config)
    assert caught.value.problems == [
        "cfg.yaml:3: domains.example.org.zone: example.org is not inside zone example.net",
        "cfg.yaml:6: domains.example.com.keep[0]: 'mx' is not a term of this record; keep only "
        "lists terms that services, ip4, ip6, a, mx or include put there",
        "cfg.yaml:6: domains.example.com.keep[2]: 'include:other.example' is not a term of this "
        "record; keep only lists terms that services, ip4, ip6, a, mx or include put there",
    ]


def test_compile_problems_are_sorted_by_line() -> None:
    text = "domains:\n  b.example: {zone: z.example}\n  a.example:\n    zone: y.example\n"
    with pytest.raises(ConfigError) as caught:
        compile_config(parse_config(text, "cfg.yaml"))
    assert [p.split(": ")[0] for p in caught.value.problems] == ["cfg.yaml:2", "cfg.yaml:4"]


def test_a_config_built_in_memory_has_unlocated_problems() -> None:
    config = Config.model_validate(yaml.safe_load(TWO_PROBLEMS))
    assert config.source is None
    assert config == parse_config(TWO_PROBLEMS)  # where it was read from is not compared
    with pytest.raises(ConfigError) as caught:
        compile_config(config)
    assert [p.split(": ")[0] for p in caught.value.problems] == [
        "domains.example.org.zone",
        "domains.example.com.keep[0]",
        "domains.example.com.keep[2]",
    ]


def test_compile_file_loads_and_compiles(tmp_path: Path) -> None:
    path = tmp_path / "spfmanager.yaml"
    path.write_text("domains:\n  example.com: {services: [google-workspace]}\n")
    config, intents = compile_file(path)
    assert list(config.domains) == [intent.domain for intent in intents] == ["example.com"]
    path.write_text(TWO_PROBLEMS)
    with pytest.raises(ConfigError) as caught:
        compile_file(path)
    assert len(caught.value.problems) == 3
    assert all(p.startswith(f"{path}:") for p in caught.value.problems)
    path.write_text("domains:\n  example.com: {keep: [mx], colour: red}\n")
    with pytest.raises(ConfigError) as caught:  # the document's problems come first, alone
        compile_file(path)
    assert caught.value.problems == [
        f"{path}:2: domains.example.com.colour: unknown field 'colour' (allowed: a, "
        "flatten_deadline, include, ip4, ip6, keep, lookup_budget, max_authorized_ipv4, "
        "max_authorized_ipv6, max_service_growth, max_service_shrink, min_ipv4_prefix, "
        "min_ipv6_prefix, mode, mx, policy, provider, query_budget, schedule, services, ttl, "
        "ttl_override, zone)"
    ]


@pytest.mark.parametrize(
    ("service", "record"),
    [
        ("zoho", "v=spf1 include:zoho.com -all"),  # as before the catalog update
        ("{zoho: {region: eu}}", "v=spf1 include:zoho.eu -all"),
        ("zoho-mail", "v=spf1 include:zohomail.com -all"),
        ("{zohomail: {region: eu}}", "v=spf1 include:zohomail.eu -all"),  # an alias
    ],
)
def test_zoho_configs_keep_their_record_and_zoho_mail_is_its_own_entry(
    service: str, record: str, tmp_path: Path
) -> None:
    path = tmp_path / "cfg.yaml"
    path.write_text(f"domains:\n  example.com:\n    services:\n      - {service}\n")
    _, (intent,) = compile_file(path)
    assert intent.record.render() == record
