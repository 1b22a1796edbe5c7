"""The chained-name format has one owner, the packer: it writes the names and reads them."""

from __future__ import annotations

import pytest

from spfmanager.flatten.pack import HASH_LENGTH, chain_domain, chain_name, is_chain_name, pack
from spfmanager.spf.parser import parse_term
from spfmanager.spf.terms import Mechanism


def test_names_the_packer_writes_are_chain_names_of_their_domain() -> None:
    terms = [parse_term(f"ip4:10.{i // 256}.{i % 256}.0/24") for i in range(120)]
    mechanisms = [t for t in terms if isinstance(t, Mechanism)]
    records = pack(mechanisms, "mail.example.com")
    assert len(records) > 2
    assert not is_chain_name(records[0].name)  # the root
    for record in records[1:]:
        assert is_chain_name(record.name)
        assert is_chain_name(record.name, "mail.example.com")
        assert not is_chain_name(record.name, "example.com")
        assert chain_domain(record.name) == "mail.example.com"


@pytest.mark.parametrize("index", [1, 2, 12])
def test_chain_name_round_trips(index: int) -> None:
    name = chain_name("example.com", index, "0123abcd")
    assert name == f"_spf{index}-0123abcd.example.com"
    assert chain_domain(name) == "example.com" and is_chain_name(name, "example.com")


@pytest.mark.parametrize(
    "name",
    [
        "example.com",
        "_spf.example.com",  # a vendor's usual name, not ours
        "_spf-01234567.example.com",  # no index
        "_spf1-0123456.example.com",  # hash too short
        "_spf1-0123456789.example.com",  # hash too long
        "_spf1-0123456g.example.com",  # not hex
        "_spf1-0123ABCD.example.com",  # the packer writes lower-case hex
        "_spf1-01234567",  # no domain
        "x_spf1-01234567.example.com",
    ],
)
def test_other_names_are_not_chain_names(name: str) -> None:
    assert not is_chain_name(name)
    assert chain_domain(name) is None


def test_the_hash_length_is_the_format_s() -> None:
    assert is_chain_name(chain_name("example.com", 1, "a" * HASH_LENGTH))
    assert not is_chain_name(chain_name("example.com", 1, "a" * (HASH_LENGTH + 1)))
