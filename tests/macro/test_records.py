"""Macro mode as wildcard TXT records: the encoding, RFC 4592 reading, and the proof."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

import pytest

from spfmanager.compile import Intent
from spfmanager.dns.base import Answer, RRType
from spfmanager.dns.snapshot import SnapshotResolver
from spfmanager.errors import MacroError, VerificationError
from spfmanager.macro import (
    DatasetResolver,
    MacroRecord,
    RecordsResolver,
    build_macro,
    plan_macro,
    prove,
    render_dataset,
    render_records,
    served_resolver,
)
from spfmanager.macro.names import reversed_address
from spfmanager.macro.prove import probe_addresses
from tests.macro.intents import PASS_RECORD, SOFTFAIL_RECORD, ZONE, example, intent

EMPTY = SnapshotResolver({})
PASS, FAIL, SOFTFAIL = "v=spf1 +all", "v=spf1 -all", "v=spf1 ~all"


def _plan(domain: str, text: str) -> MacroRecord:
    return plan_macro(intent(domain, text), EMPTY, ZONE)


def _under(records: dict[str, str], subzone: str) -> dict[str, str]:
    """The records of one subzone, names relative to it."""
    suffix = f".{subzone}.{ZONE}"
    return {n.removesuffix(suffix): t for n, t in records.items() if n.endswith(suffix)}


def _txt(answer: Answer) -> list[bytes] | None:
    """The TXT texts of an answer, None for NXDOMAIN."""
    return None if answer.nxdomain else [t.data for t in answer.texts()]


def test_slash25_is_128_exact_names_under_default_wildcards() -> None:
    records = render_records([_plan("a.example", "v=spf1 ip4:192.0.2.0/25 -all")], ZONE)
    v4 = _under(records, "in-addr.a.example")
    assert v4 == {
        **{f"{n}.2.0.192": PASS for n in range(128)},
        "*.2.0.192": FAIL,
        "*.0.192": FAIL,
        "*.192": FAIL,
        "*": FAIL,
    }
    # The IPv4-mapped /121 under ip6: 31 nibbles deep, 8 wildcards, 31 ancestor wildcards.
    v6 = _under(records, "ip6.a.example")
    mapped = "2.0.0.0.0.c.f.f.f.f" + ".0" * 20  # ::ffff:c000:02, reversed
    assert {n for n, t in v6.items() if t == PASS} == {f"*.{k:x}.{mapped}" for k in range(8)}
    assert len([t for t in v6.values() if t == FAIL]) == 31


def test_slash17_is_128_wildcards() -> None:
    records = render_records([_plan("b.example", "v=spf1 ip4:10.128.0.0/17 -all")], ZONE)
    v4 = _under(records, "in-addr.b.example")
    assert v4 == {
        **{f"*.{c}.128.10": PASS for c in range(128)},
        "*.128.10": FAIL,
        "*.10": FAIL,
        "*": FAIL,
    }


def test_slash32_and_ipv6_slash48_and_slash33() -> None:
    text = "v=spf1 ip4:198.51.100.7 ip6:2001:db8:beef::/48 ip6:2001:db8::/33 -all"
    records = render_records([_plan("c.example", text)], ZONE)
    v4 = _under(records, "in-addr.c.example")
    ancestors = {"*.100.51.198": FAIL, "*.51.198": FAIL, "*.198": FAIL, "*": FAIL}
    assert v4 == {"7.100.51.198": PASS, **ancestors}
    v6 = _under(records, "ip6.c.example")
    beef = "f.e.e.b.8.b.d.0.1.0.0.2"  # 2001:0db8:beef, reversed: one wildcard at depth 12
    assert v6[f"*.{beef}"] == PASS
    half = "8.b.d.0.1.0.0.2"  # /33: depth 9, nibbles 0..7
    assert {n for n in v6 if n.endswith(f".{half}") and v6[n] == PASS and n.count(".") == 9} == {
        f"*.{k:x}.{half}" for k in range(8)
    }
    labels = beef.split(".")
    for depth in range(12):  # every proper ancestor of the /48 block: the default
        node = ".".join(labels[len(labels) - depth :])
        assert v6[f"*.{node}" if node else "*"] == FAIL, depth


def test_an_entry_of_every_address_is_the_root_wildcard() -> None:
    records = render_records([_plan("all.example", "v=spf1 ip4:0.0.0.0/0 -all")], ZONE)
    assert _under(records, "in-addr.all.example") == {"*": PASS}


def test_empty_non_terminals_answer_the_default() -> None:
    """A softfail /32 inside an all-pass IPv4: its siblings and cousins still pass."""
    record = _plan("ent.example", "v=spf1 ~ip4:1.2.3.5 ip4:0.0.0.0/0 -all")
    assert record.form == "redirect"
    records = render_records([record], ZONE)
    resolver = RecordsResolver(EMPTY, records, ZONE)

    def answer(address: str) -> list[bytes] | None:
        name = f"{reversed_address(IPv4Address(address))}.in-addr.ent.example.{ZONE}"
        return _txt(resolver.query(name, RRType.TXT))

    assert answer("1.2.3.5") == [SOFTFAIL.encode()]
    for address in ("1.2.3.4", "1.2.3.6", "1.2.4.0", "1.3.0.0", "2.0.0.0", "0.0.0.0"):
        assert answer(address) == [PASS.encode()], address
    # Without the wildcard at the empty non-terminal 1.2.3, RFC 4592 answers NXDOMAIN.
    del records[f"*.3.2.1.in-addr.ent.example.{ZONE}"]
    assert (
        RecordsResolver(EMPTY, records, ZONE)
        .query(f"6.3.2.1.in-addr.ent.example.{ZONE}", RRType.TXT)
        .nxdomain
    )


def test_rfc4592_reading() -> None:
    records = {
        f"*.{ZONE}": "top",
        f"a.b.{ZONE}": "ab",
        f"*.c.{ZONE}": "c-wild",
        f"x.*.d.{ZONE}": "under-wild",
    }
    base = SnapshotResolver({"other.example": [{"TXT": "v=spf1 -all"}]})
    resolver = RecordsResolver(base, records, ZONE)
    txt = RRType.TXT
    assert _txt(resolver.query(f"A.B.{ZONE}.", txt)) == [b"ab"]  # exact, case-insensitive
    assert _txt(resolver.query(f"a.b.{ZONE}", RRType.A)) == []  # existing, no such type
    assert _txt(resolver.query(f"b.{ZONE}", txt)) == []  # an empty non-terminal: NODATA
    assert _txt(resolver.query(f"z.b.{ZONE}", txt)) is None  # closest encloser b: no *.b
    assert _txt(resolver.query(f"q.{ZONE}", txt)) == [b"top"]
    assert _txt(resolver.query(f"q.r.{ZONE}", txt)) == [b"top"]
    assert _txt(resolver.query(f"q.r.c.{ZONE}", txt)) == [b"c-wild"]
    assert _txt(resolver.query(f"q.d.{ZONE}", txt)) == []  # *.d exists, holds no record
    assert _txt(resolver.query(ZONE, txt)) == []  # the apex
    assert resolver.queries == 9
    assert _txt(resolver.query("other.example", txt)) == [b"v=spf1 -all"]
    assert resolver.queries == 9
    with pytest.raises(MacroError, match="not under the macro zone"):
        RecordsResolver(EMPTY, {"a.elsewhere.example": "x"}, ZONE)


def test_refuses_duplicate_subzones_and_foreign_zones() -> None:
    record = _plan("small.example", PASS_RECORD)
    with pytest.raises(MacroError, match=r"also small\.example.s"):
        render_records([record, record], ZONE)
    with pytest.raises(MacroError, match=r"not other\.test"):
        render_records([record], "other.test")


def test_records_agree_with_the_dataset_on_every_probe() -> None:
    intents, resolver = example()
    records = [plan_macro(i, resolver, ZONE) for i in intents]
    dataset = render_dataset(records, ZONE)
    zone_records = render_records(records, ZONE)
    from_dataset = DatasetResolver(EMPTY, dataset, ZONE)
    from_records = RecordsResolver(EMPTY, zone_records, ZONE)
    assert isinstance(served_resolver(EMPTY, dataset, ZONE), DatasetResolver)
    assert isinstance(served_resolver(EMPTY, zone_records, ZONE), RecordsResolver)
    checked = 0
    for record in records:
        addresses = set(probe_addresses(record, dataset, resolver))
        addresses |= set(probe_addresses(record, zone_records, resolver))
        for address in addresses:
            for sub in record.subzones:
                if sub.version != address.version:
                    continue
                name = f"{reversed_address(address)}.{sub.name}.{ZONE}"
                want = _txt(from_dataset.query(name, RRType.TXT))
                assert want and _txt(from_records.query(name, RRType.TXT)) == want, name
                checked += 1
    assert checked > 5000
    assert from_records.queries == checked


def _live_intents() -> tuple[list[Intent], SnapshotResolver]:
    intents, resolver = example()
    intents += [intent("soft.example", SOFTFAIL_RECORD), intent("small.example", PASS_RECORD)]
    return intents, resolver


def test_build_and_prove_with_records() -> None:
    intents, resolver = _live_intents()
    built = build_macro(intents, resolver, ZONE, backend="records")
    assert built.backend == "records" and built.dataset == ""
    assert built.zone_records is not None
    assert built.data["backend"] == "records"
    assert [p.domain for p in built.proofs] == [i.domain for i in intents]
    dataset_build = build_macro(intents, resolver, ZONE)
    assert dataset_build.zone_records is None and dataset_build.backend == "rbldnsd"
    assert built.roots == dataset_build.roots
    for proof, other in zip(built.proofs, dataset_build.proofs, strict=True):
        assert proof.probes > other.probes  # the records' own runs are probed too
        assert proof.results.keys() == other.results.keys()


def _broken(records: dict[str, str], name: str, text: str | None) -> dict[str, str]:
    changed = dict(records)
    if text is None:
        del changed[name]
    else:
        changed[name] = text
    return changed


def test_a_broken_mapping_fails_the_proof() -> None:
    intents, resolver = example()
    item = intents[0]
    record = plan_macro(item, resolver, ZONE)
    records = render_records([record], ZONE)
    prove(item.record, record, records, resolver)  # the intact mapping proves
    root = f"in-addr.{record.domain}.{ZONE}"
    under = {n: t for n, t in records.items() if n.endswith(f".{root}")}
    ents = sorted(n for n, t in under.items() if t == FAIL and n.count(".") - root.count(".") == 4)
    blocks = sorted(n for n, t in under.items() if t == PASS and n.startswith("*."))
    assert ents and len(blocks) > 2
    interior = blocks[len(blocks) // 2]
    for broken in (_broken(records, ents[0], None), _broken(records, interior, FAIL)):
        with pytest.raises(VerificationError, match=record.domain):
            prove(item.record, record, broken, resolver)


def test_answer_size_and_names() -> None:
    intents, resolver = _live_intents()
    records = render_records([plan_macro(i, resolver, ZONE) for i in intents], ZONE)
    assert all(len(t) <= 255 for t in records.values())
    assert all(n == n.lower() and not n.endswith(".") and "*" not in n[1:] for n in records)
    assert all(n.endswith(f".{ZONE}") for n in records)
    addresses: list[IPv4Address | IPv6Address] = [IPv6Address("::1"), IPv4Address("127.0.0.1")]
    resolver_ = RecordsResolver(EMPTY, records, ZONE)
    for address in addresses:  # loopback clients too: the root wildcard
        name = f"{reversed_address(address)}.{'ip6' if address.version == 6 else 'in-addr'}"
        answer = resolver_.query(f"{name}.small.example.{ZONE}", RRType.TXT)
        assert _txt(answer) == [FAIL.encode()]
