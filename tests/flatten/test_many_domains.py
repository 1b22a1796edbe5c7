"""One Flattener for many domains: shared work, per-domain records, per-domain proofs."""

from __future__ import annotations

import pytest

import spfmanager
from spfmanager.dns.overlay import OverlayResolver
from spfmanager.errors import VerificationError
from spfmanager.flatten.verify import verify_chain
from spfmanager.spf.parser import parse_record

ZONE = {
    "vendor.example": [
        {"TXT": "v=spf1 " + " ".join(f"ip4:10.{i}.0.0/16" for i in range(0, 90, 2)) + " -all"}
    ],
    "mail.one.example": [],
}
INTENT = "v=spf1 include:vendor.example ip4:192.0.2.0/24 ~all"


def test_domains_share_work_but_get_their_own_correct_records() -> None:
    resolver = spfmanager.SnapshotResolver(ZONE)
    flattener = spfmanager.Flattener(resolver)
    results = [flattener.flatten(INTENT, f"d{i}.example") for i in range(5)]
    assert resolver.queries == 1  # vendor.example TXT, once for all five
    for result in results:
        assert all(name.endswith(result.domain) for name in result.records)
        served = OverlayResolver(resolver, {n: [s] for n, s in result.records.items()})
        for ip, expected in (("10.2.3.4", "pass"), ("10.3.0.1", "softfail"), ("192.0.2.9", "pass")):
            outcome = spfmanager.evaluate(ip, f"a@{result.domain}", "h", resolver=served)
            assert outcome.result == expected
    assert results[0].proof == results[4].proof  # the full proof ran once


def test_warnings_belong_to_their_domain() -> None:
    flattener = spfmanager.Flattener(spfmanager.SnapshotResolver(ZONE))
    noisy = flattener.flatten("v=spf1 a:mail.one.example -all", "one.example")
    quiet = flattener.flatten("v=spf1 ip4:192.0.2.1 -all", "two.example")
    assert any("void lookup" in w for w in noisy.warnings)
    assert quiet.warnings == ()


def chain(domain: str) -> dict[str, str]:
    return {
        domain: f"v=spf1 ip4:192.0.2.1 redirect=_spf1-aaaaaaaa.{domain}",
        f"_spf1-aaaaaaaa.{domain}": "v=spf1 ip4:192.0.2.2 -all",
    }


def terms(*texts: str) -> list[spfmanager.spf.terms.Mechanism]:
    return list(parse_record("v=spf1 " + " ".join(texts)).mechanisms)


def test_verify_chain_accepts_the_proven_terms() -> None:
    verify_chain(
        "d.example", chain("d.example"), terms("ip4:192.0.2.1", "ip4:192.0.2.2", "-all"), None
    )


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda c: {**c, "_spf1-aaaaaaaa.d.example": "v=spf1 ip4:192.0.2.3 -all"}, "proven terms"),
        (lambda c: {**c, "stray.d.example": "v=spf1 -all"}, "not on the chain"),
        (
            lambda c: {**c, "_spf1-aaaaaaaa.d.example": "v=spf1 redirect=d.example"},
            "loops",
        ),
    ],
)
def test_verify_chain_refuses_tampered_records(tamper: object, message: str) -> None:
    published = tamper(chain("d.example"))  # type: ignore[operator]
    with pytest.raises(VerificationError, match=message):
        verify_chain("d.example", published, terms("ip4:192.0.2.1", "ip4:192.0.2.2", "-all"), None)
