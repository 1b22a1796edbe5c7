"""The bundled service catalog: every file loads, every service renders a parseable record."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from spfmanager import catalog as catalog_module
from spfmanager import parse_record
from spfmanager.catalog import Catalog, Service, ServiceDefinition, load_catalog
from spfmanager.catalog.service import _compiled
from spfmanager.errors import ConfigError
from spfmanager.spf.terms import A, Include

SERVICES = Path(__file__).parent.parent / "spfmanager" / "catalog" / "services"
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
    assert set(REQUIRED) <= set(files)


@pytest.mark.parametrize("service", list(CATALOG), ids=lambda s: s.id)
def test_service_renders_a_parseable_record(service: Service) -> None:
    terms = service.terms(_examples(service))
    text = " ".join(["v=spf1", *(t.render() for t in terms), "-all"])
    assert parse_record(text).terms[:-1] == tuple(terms)
    assert service.docs is not None and service.docs.startswith(("https://", "http://"))


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
