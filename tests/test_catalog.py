"""The bundled service catalog: every file loads, every service renders a parseable record,
every entry says where its terms were confirmed, and the examples' snapshots answer every
include the examples use."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from spfmanager import catalog as catalog_module
from spfmanager import parse_record
from spfmanager.catalog import (
    BundledService,
    Catalog,
    Category,
    Root,
    Service,
    ServiceDefinition,
    load_catalog,
)
from spfmanager.catalog.match import match_terms
from spfmanager.catalog.service import _compiled
from spfmanager.compile import compile_file
from spfmanager.dns.base import RRType
from spfmanager.dns.snapshot import SnapshotResolver
from spfmanager.errors import ConfigError
from spfmanager.spf.select import select_record
from spfmanager.spf.terms import A, Include

ROOT = Path(__file__).parent.parent
SERVICES = ROOT / "spfmanager" / "catalog" / "services"
EXAMPLES = sorted(p.parent for p in (ROOT / "examples").glob("*/dns-snapshot.yaml"))
CATALOG = load_catalog()
REQUIRED = [
    "microsoft365", "google-workspace", "mailchimp", "mandrill", "hubspot", "sendgrid",
    "amazonses", "salesforce", "zendesk", "mailgun", "postmark", "brevo", "sendinblue",
    "mailjet", "zoho", "freshdesk", "atlassian", "intercom", "mimecast", "proofpoint",
    "ionos", "ovh", "gandi", "improvmx", "trendmicro", "marketo", "pardot", "activetrail",
    "tipimail",
]  # fmt: skip


def _examples(service: ServiceDefinition) -> dict[str, str]:
    return {name: p.example for name, p in service.parameters.items()}


def test_every_data_file_is_loaded() -> None:
    files = sorted(p.stem for p in SERVICES.glob("*.yaml"))
    assert files == sorted(s.id for s in CATALOG)
    assert set(REQUIRED) <= set(files)  # no id of an earlier release disappears
    assert len(CATALOG) >= 80


@pytest.mark.parametrize("service", list(CATALOG), ids=lambda s: s.id)
def test_service_renders_a_parseable_record(service: Service) -> None:
    terms = service.terms(_examples(service))
    text = " ".join(["v=spf1", *(t.render() for t in terms), "-all"])
    assert parse_record(text).terms[:-1] == tuple(terms)
    assert terms or service.root is Root.NONE  # only a root: none entry may add nothing


@pytest.mark.parametrize("service", list(CATALOG), ids=lambda s: s.id)
def test_every_bundled_entry_says_where_its_terms_come_from(service: Service) -> None:
    assert isinstance(service, BundledService)
    assert service.docs.startswith("https://")
    assert service.sources and all(u.startswith(("https://", "http://")) for u in service.sources)
    assert isinstance(service.last_verified, datetime.date)
    assert service.last_verified <= datetime.date(2100, 1, 1)
    assert isinstance(service.category, Category) and isinstance(service.root, Root)
    assert service.name and service.description
    if not service.adds_terms:
        assert service.notes, "an entry that adds nothing says why"
    raw = yaml.safe_load((SERVICES / f"{service.id}.yaml").read_text(encoding="utf-8"))
    for field in ("docs", "sources", "last_verified", "category", "root", "verified"):
        assert field in raw, f"{service.id}.yaml does not write {field}"


@pytest.mark.parametrize("missing", ["docs", "sources", "last_verified", "category", "root"])
def test_a_bundled_entry_without_its_provenance_does_not_load(missing: str) -> None:
    data = yaml.safe_load((SERVICES / "mailjet.yaml").read_text(encoding="utf-8"))
    del data[missing]
    with pytest.raises(ValidationError, match=missing):
        BundledService.model_validate(data)
    Service.model_validate(data)  # a config's own service may leave it out


def test_a_bundled_entry_needs_an_https_page_and_a_source() -> None:
    data = yaml.safe_load((SERVICES / "mailjet.yaml").read_text(encoding="utf-8"))
    with pytest.raises(ValidationError, match="docs"):
        BundledService.model_validate(data | {"docs": "http://example.com/spf"})
    with pytest.raises(ValidationError, match="sources"):
        BundledService.model_validate(data | {"sources": []})


def test_ids_and_aliases_are_unique() -> None:
    names = [s.id for s in CATALOG] + [a for s in CATALOG for a in s.aliases]
    assert len(names) == len(set(names))
    assert all(CATALOG.get(a).id == s.id for s in CATALOG for a in s.aliases)


def test_an_alias_that_is_an_id_is_refused() -> None:
    taken = Service(id="mine", name="Mine", aliases=("mailgun",), ip4=("192.0.2.0/24",))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="alias 'mailgun' of 'mine' is a service id"):
        Catalog({**CATALOG.services, "mine": taken})
    twice = Service(id="mine", name="Mine", aliases=("o365",), ip4=("192.0.2.0/24",))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="alias 'o365' names both"):
        Catalog({**CATALOG.services, "mine": twice})


def test_aliases_resolve_everywhere_an_id_is_accepted() -> None:
    assert "gcc-high" in CATALOG
    assert CATALOG.get("gcc-high").id == "microsoft365-gov"
    assert CATALOG.resolve("office365") == "microsoft365"
    assert CATALOG.close_matches("gsuit")[0] == "google-workspace"  # through alias gsuite


def test_a_user_service_may_take_a_bundled_alias_as_its_id() -> None:
    own = ServiceDefinition(name="Own", ip4=("192.0.2.0/24",))  # type: ignore[arg-type]
    extended = CATALOG.extended({"o365": own})
    assert extended.get("o365").name == "Own"
    assert "o365" not in extended.get("microsoft365").aliases


def test_only_a_root_none_service_may_add_nothing() -> None:
    assert ServiceDefinition(name="x", root=Root.NONE).terms() == []
    with pytest.raises(ValueError, match="at least one of include"):
        ServiceDefinition(name="x")


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_every_include_of_an_example_is_in_its_snapshot(example: Path) -> None:
    """Each example compiles, and its snapshot answers every include its records reach
    with one SPF record (a catalog entry changing its include must update the snapshot)."""
    _, intents = compile_file(example / "spfmanager.yaml")
    resolver = SnapshotResolver.from_file(example / "dns-snapshot.yaml")
    seen: set[str] = set()

    def reach(terms: tuple[object, ...]) -> None:
        for term in terms:
            if not isinstance(term, Include) or (target := term.domain.render()) in seen:
                continue
            seen.add(target)
            answer = resolver.query(target, RRType.TXT)
            records = select_record(answer.records).records
            assert len(records) == 1, f"{example.name}: {target} has no SPF record in its snapshot"
            reach(parse_record(records[0].data.decode("ascii")).terms)

    for intent in intents:
        reach(intent.record.terms)
    assert seen  # the examples use the catalog


def test_match_terms_names_the_services_of_a_record() -> None:
    record = parse_record(
        "v=spf1 include:spf.protection.outlook.com include:mailgun.org "
        "include:spf-us.tmes.trendmicro.com include:unknown.example -all"
    )
    found = match_terms(list(record.terms), CATALOG)
    assert [(m.id, m.params) for m in found] == [
        ("microsoft365", {}),
        ("mailgun", {}),  # not customerio, whose return-path record also uses mailgun.org
        ("trendmicro", {"region": "us"}),
    ]


@pytest.mark.parametrize(
    ("service_id", "target"),
    [
        ("microsoft365", "spf.protection.outlook.com"),
        ("google-workspace", "_spf.google.com"),
        ("mailchimp", "servers.mcsv.net"),
        ("mandrill", "spf.mandrillapp.com"),
        ("sendgrid", "sendgrid.net"),
        ("amazonses", "amazonses.com"),
        ("zendesk", "mail.zendesk.com"),
        ("postmark", "spf.mtasv.net"),
        ("brevo", "spf.brevo.com"),
        ("mailjet", "spf.mailjet.com"),
        ("marketo", "mktomail.com"),
        ("pardot", "aspmx.pardot.com"),
    ],
)
def test_static_includes(service_id: str, target: str) -> None:
    assert [t.render() for t in CATALOG.get(service_id).terms()] == [f"include:{target}"]


@pytest.mark.parametrize(
    ("service_id", "params", "rendered"),
    [
        ("hubspot", {"account_id": "1234567"}, "include:1234567.spf01.hubspotemail.net"),
        ("hubspot", {"account_id": "42", "shard": "03"}, "include:42.spf03.hubspotemail.net"),
        ("mailgun", {}, "include:mailgun.org"),
        ("mailgun", {"region": "eu"}, "include:_spf.eu.mailgun.org"),
        ("mailgun", {"region": "us"}, "include:_spf.mailgun.org"),
        ("zoho", {"region": "eu"}, "include:zoho.eu"),
        ("zoho-mail", {"region": "eu"}, "include:zohomail.eu"),
        ("trendmicro", {"region": "eu"}, "include:spf.tmes.trendmicro.eu"),
        ("trendmicro", {"region": "jp"}, "include:spf.tmems-jp.trendmicro.com"),
        ("trendmicro", {"region": "anz"}, "include:spf.tmes-anz.trendmicro.com"),
        ("mimecast", {"region": "uspcom"}, "include:uspcom._netblocks.mimecast-pscom-us.com"),
        ("ovh", {"region": "ca"}, "include:mx.ovh.ca"),
        ("mimecast", {"region": "us"}, "include:us._netblocks.mimecast.com"),
        ("mimecast", {"region": "global"}, "include:_netblocks.mimecast.com"),
        ("proofpoint", {"region": "us"}, "a:dispatch-us.ppe-hosted.com"),
    ],
)
def test_parameters_render_into_terms(
    service_id: str, params: dict[str, str], rendered: str
) -> None:
    assert [t.render() for t in CATALOG.get(service_id).terms(params)] == [rendered]


def test_terms_are_parsed_objects_not_strings() -> None:
    (include,) = CATALOG.get("hubspot").terms({"account_id": "7"})
    assert isinstance(include, Include)
    (a,) = CATALOG.get("proofpoint").terms({"region": "eu"})
    assert isinstance(a, A)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, "missing required parameter 'account_id'"),
        ({"account_id": "12ab"}, "'12ab' does not match"),
        ({"account_id": "1", "acount": "2"}, "unknown parameter 'acount'"),
        ({"account_id": "1", "shard": "{{ 7*7 }}"}, "does not match"),
    ],
)
def test_bad_parameters_raise_config_error(params: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        CATALOG.get("hubspot").terms(params)
    assert expected in str(caught.value)


def test_unknown_id_suggests_close_matches() -> None:
    with pytest.raises(ConfigError, match="did you mean 'mailgun'"):
        CATALOG.get("mailgnu")


def test_templates_may_only_use_declared_parameters() -> None:
    with pytest.raises(ValueError, match="undeclared parameter"):
        ServiceDefinition(name="x", include=("{{ tenant }}.example.net",))


def test_rendered_targets_must_be_valid_domain_specs() -> None:
    with pytest.raises(ValueError, match="include"):
        ServiceDefinition(name="x", include=("not a domain",))


def test_bad_catalog_file_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "services").mkdir()
    (tmp_path / "services" / "broken.yaml").write_text(
        yaml.safe_dump({"id": "broken", "name": "B", "ip4": ["192.0.2.1/24"]})
    )
    monkeypatch.setattr(catalog_module, "files", lambda _: tmp_path)
    catalog_module.load_catalog.cache_clear()
    try:
        with pytest.raises(ConfigError, match=r"catalog file broken\.yaml: ip4\.0"):
            catalog_module.load_catalog()
    finally:
        catalog_module.load_catalog.cache_clear()


def test_user_services_extend_the_catalog() -> None:
    own = ServiceDefinition(name="My CRM", ip4=("198.51.100.0/28",))  # type: ignore[arg-type]
    extended = CATALOG.extended({"mycrm": own})
    assert isinstance(extended, Catalog)
    assert [t.render() for t in extended.get("mycrm").terms()] == ["ip4:198.51.100.0/28"]
    assert "mycrm" not in CATALOG


def test_a_template_is_compiled_once_whatever_the_domains_using_it() -> None:
    _compiled.cache_clear()
    hubspot = CATALOG.get("hubspot")
    rendered = {hubspot.terms({"account_id": str(n)})[0].render() for n in range(200)}
    assert len(rendered) == 200  # each domain still gets its own values
    assert _compiled.cache_info().misses == 1  # one include template, compiled once
    CATALOG.get("microsoft365").terms()  # a template without a parameter: not compiled
    assert _compiled.cache_info().misses == 1
