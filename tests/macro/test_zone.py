"""Macro mode offline: the dataset text, the name limits, the proof, the atomic write."""

from __future__ import annotations

import os
import threading
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

import pytest

from spfmanager.dns.base import RRType
from spfmanager.dns.snapshot import SnapshotResolver
from spfmanager.errors import MacroError, VerificationError
from spfmanager.macro import (
    DatasetResolver,
    build_macro,
    check_names,
    max_domain_and_zone,
    plan_macro,
    prove,
    query_name,
    render_dataset,
    write_dataset,
)
from tests.macro.intents import PASS_RECORD, SOFTFAIL_RECORD, ZONE, example, intent

EMPTY = SnapshotResolver({})


def test_include_form_dataset() -> None:
    record = plan_macro(intent("small.example", PASS_RECORD), EMPTY, ZONE)
    assert record.root == f"v=spf1 include:%{{ir}}.%{{v}}.%{{d}}.{ZONE} -all"
    assert record.form == "include"
    text = render_dataset([record], ZONE)
    assert text.splitlines()[2:] == [
        f"$SOA 300 ns.{ZONE} hostmaster.{ZONE} 0 3600 600 604800 300",
        f"$NS 300 ns.{ZONE}",
        "$TTL 300",
        "$DATASET ip4trie:in-addr.small.example in-addr.small.example",
        "0.0.0.0/0 :2:v=spf1 -all",
        "198.51.100.0/24 :2:v=spf1 +all",
        "203.0.113.64/26 :2:v=spf1 +all",
        "$DATASET ip6trie:ip6.small.example ip6.small.example",
        "::/0 :2:v=spf1 -all",
        "::ffff:c633:6400/120 :2:v=spf1 +all",  # IPv4-mapped clients: the IPv4 answers
        "::ffff:cb00:7140/122 :2:v=spf1 +all",
        "2001:db8:beef::/48 :2:v=spf1 +all",
    ]


def test_redirect_form_for_a_softfail_range() -> None:
    record = plan_macro(intent("soft.example", SOFTFAIL_RECORD), EMPTY, ZONE)
    assert record.root == f"v=spf1 redirect=%{{ir}}.%{{v}}.%{{d}}.{ZONE}"
    assert record.form == "redirect"
    lines = render_dataset([record], ZONE).splitlines()
    v4 = lines[lines.index("$DATASET ip4trie:in-addr.soft.example in-addr.soft.example") + 1 :]
    assert v4[:4] == [
        "0.0.0.0/0 :2:v=spf1 -all",
        "192.0.2.0/25 :2:v=spf1 +all",
        "192.0.2.128/25 :2:v=spf1 ~all",
        "198.51.100.7/32 :2:v=spf1 +all",
    ]
    assert "2001:db8:1::/48 :2:v=spf1 ~all" in lines
    proof = prove(intent("soft.example", SOFTFAIL_RECORD).record, record, "\n".join(lines), EMPTY)
    assert proof.results.keys() == {"pass", "softfail", "fail"}
    assert proof.most_lookups == 1


def test_dataset_resolver_reads_like_rbldnsd() -> None:
    record = plan_macro(intent("soft.example", SOFTFAIL_RECORD), EMPTY, ZONE)
    dns = DatasetResolver(EMPTY, render_dataset([record], ZONE), ZONE)

    def txt(name: str) -> list[bytes]:
        return [t.data for t in dns.query(name, RRType.TXT).texts()]

    assert txt(query_name(IPv4Address("192.0.2.200"), "soft.example", ZONE)) == [b"v=spf1 ~all"]
    assert txt(query_name(IPv4Address("192.0.2.1"), "soft.example", ZONE)) == [b"v=spf1 +all"]
    assert txt(query_name(IPv6Address("2001:db8:1::9"), "soft.example", ZONE)) == [b"v=spf1 ~all"]
    assert txt(query_name(IPv6Address("2001:db9::"), "soft.example", ZONE)) == [b"v=spf1 -all"]
    assert dns.query(f"2.0.192.in-addr.soft.example.{ZONE}", RRType.TXT).nxdomain
    assert dns.query(f"1.2.0.192.in-addr.other.example.{ZONE}", RRType.TXT).nxdomain


def test_kept_terms_stay_in_order() -> None:
    text = "v=spf1 ip4:192.0.2.0/24 exists:%{i}.list.example ip6:2001:db8::/32 -all"
    record = plan_macro(intent("kept.example", text), EMPTY, ZONE)
    assert record.root == (
        f"v=spf1 include:%{{ir}}.%{{v}}.%{{d}}.{ZONE} exists:%{{i}}.list.example "
        f"include:%{{ir}}.p1-%{{v}}.%{{d}}.{ZONE} -all"
    )
    dataset = render_dataset([record], ZONE)
    assert "$DATASET ip6trie:p1-ip6.kept.example p1-ip6.kept.example" in dataset
    proof = prove(intent("kept.example", text).record, record, dataset, EMPTY)
    assert proof.results.keys() == {"pass", "fail"}


def test_a_wrong_dataset_is_refused() -> None:
    record = plan_macro(intent("soft.example", SOFTFAIL_RECORD), EMPTY, ZONE)
    dataset = render_dataset([record], ZONE).replace(
        "192.0.2.128/25 :2:v=spf1 ~all", "192.0.2.128/26 :2:v=spf1 ~all"
    )
    with pytest.raises(VerificationError, match=r"gives fail for 192\.0\.2\.\d+ .* gives softfail"):
        prove(intent("soft.example", SOFTFAIL_RECORD).record, record, dataset, EMPTY)
    with pytest.raises(MacroError, match=r"\$NS"):
        DatasetResolver(EMPTY, dataset.replace("$NS", "# NS"), ZONE)


def test_errors_and_mixed_results_are_refused() -> None:
    with pytest.raises(MacroError, match="error"):
        plan_macro(intent("broken.example", "v=spf1 include:missing.example -all"), EMPTY, ZONE)
    text = "v=spf1 ip4:192.0.2.0/24 ~ip4:198.51.100.0/24 ptr -all"
    with pytest.raises(MacroError, match="several results"):
        plan_macro(intent("mixed.example", text), EMPTY, ZONE)


def test_name_limits() -> None:
    assert max_domain_and_zone(6) == 184  # 253 - 63 (nibbles) - len(".ip6.") - 1 (dot)
    assert max_domain_and_zone(4) == 228  # 253 - 15 - len(".in-addr.") - 1
    zone = "m.example"  # 9 characters: the domain may have 175
    fits = ".".join(["a" * 57, "b" * 57, "c" * 57, "d"])  # 175
    check_names(fits, zone)
    longest = query_name(IPv6Address("ffff::"), fits, zone)
    assert len(longest) == 253
    too_long = "x" + fits
    with pytest.raises(MacroError, match=r"254 characters, over RFC 7208's 253.*184"):
        check_names(too_long, zone)
    with pytest.raises(MacroError, match="label"):
        check_names("a" * 64 + ".example", zone)
    with pytest.raises(MacroError, match="IPv6"):
        plan_macro(intent(too_long, PASS_RECORD), EMPTY, zone)


def test_example_is_proven(tmp_path: Path) -> None:
    intents, resolver = example()
    built = build_macro(intents, resolver, ZONE)
    assert built.roots["bigcorp.example"] == f"v=spf1 include:%{{ir}}.%{{v}}.%{{d}}.{ZONE} ~all"
    proof = built.proofs[0]
    assert proof.profiles == ("rfc7208", "pyspf", "mailspf", "libspf2", "mailauth")
    assert proof.probes > 1000 and proof.most_lookups == 1
    assert write_dataset(tmp_path / "macro.data", built.dataset)
    assert not write_dataset(tmp_path / "macro.data", built.dataset)  # unchanged: untouched


def test_atomic_write_never_shows_a_partial_file(tmp_path: Path) -> None:
    path = tmp_path / "data"
    old, new = "a" * 200_000 + "\n", "b" * 300_000 + "\n"
    write_dataset(path, old)
    seen: set[str] = set()
    stop = threading.Event()

    def read() -> None:
        for _ in range(20_000):
            if stop.is_set():
                break
            seen.add(path.read_text())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for index in range(40):
            write_dataset(path, new if index % 2 == 0 else old)
    finally:
        stop.set()
        reader.join(10)
    assert seen <= {old, new}
    assert [p.name for p in tmp_path.iterdir()] == ["data"]  # no temporary left behind
    assert os.stat(path).st_mode & 0o777 == 0o644
