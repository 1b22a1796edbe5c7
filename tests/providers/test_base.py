"""The Provider template: validation before any call, bounded retries with backoff."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from spfmanager.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimitError,
    ProviderServerError,
)
from spfmanager.providers.base import (
    Change,
    Create,
    Delete,
    Provider,
    TxtRecordSet,
    Update,
    quote_txt,
    split_txt,
)
from spfmanager.providers.registry import provider_class


class MemoryProvider(Provider):
    """A complete in-memory adapter whose next calls can be made to fail."""

    name = "memory"

    def __init__(self, zone: str, failures: Sequence[Exception] = ()) -> None:
        super().__init__(zone)
        self.records: dict[str, TxtRecordSet] = {}
        self.failures = list(failures)
        self.calls = 0
        self.sleeps: list[float] = []
        self.sleep = self.sleeps.append

    def _fail_maybe(self) -> None:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)

    def _list(self, names: set[str] | None) -> list[TxtRecordSet]:
        self._fail_maybe()
        return list(self.records.values())

    def _apply(self, changes: Sequence[Change]) -> None:
        self._fail_maybe()
        for change in changes:
            if isinstance(change, Delete):
                self.records.pop(change.name, None)
            else:
                self.records[change.name] = change.new


SPF = TxtRecordSet("example.com", ("v=spf1 -all",))


def test_apply_and_list_filtered() -> None:
    provider = MemoryProvider("Example.COM.")
    other = TxtRecordSet("_spf.example.com", ("v=spf1 ip4:192.0.2.0/24 -all",))
    provider.apply([Create(SPF), Create(other)])
    assert provider.list_records(["EXAMPLE.com."]) == {"example.com": SPF}
    assert set(provider.list_records()) == {"example.com", "_spf.example.com"}


@pytest.mark.parametrize(
    "error", [ProviderServerError("503"), ProviderRateLimitError("429")], ids=["5xx", "429"]
)
def test_transient_errors_are_retried_with_exponential_backoff(error: ProviderError) -> None:
    provider = MemoryProvider("example.com", failures=[error, error, error])
    provider.apply([Create(SPF)])
    assert provider.calls == 4
    assert provider.sleeps == [0.5, 1.0, 2.0]
    assert provider.records == {"example.com": SPF}


def test_retries_are_bounded() -> None:
    provider = MemoryProvider("example.com", failures=[ProviderServerError("down")] * 10)
    with pytest.raises(ProviderServerError, match="down"):
        provider.list_records()
    assert provider.calls == provider.retries + 1
    assert len(provider.sleeps) == provider.retries


def test_auth_errors_are_not_retried() -> None:
    provider = MemoryProvider("example.com", failures=[ProviderAuthError("bad key")])
    with pytest.raises(ProviderAuthError):
        provider.apply([Create(SPF)])
    assert provider.calls == 1
    assert provider.sleeps == []


@pytest.mark.parametrize(
    "change",
    [
        Create(TxtRecordSet("example.com", ("v=spf1 ip4:192.0.2.1 ~all \u2013",))),
        Create(TxtRecordSet("example.org", ("v=spf1 -all",))),
        Create(TxtRecordSet("badexample.com", ("v=spf1 -all",))),
        Update(SPF, TxtRecordSet("mail.example.net", ("v=spf1 -all",))),
        Delete(TxtRecordSet("example.org", ())),
    ],
    ids=["non-ascii", "other-zone", "suffix-not-label", "update-outside", "delete-outside"],
)
def test_validation_refuses_before_any_call(change: Change) -> None:
    provider = MemoryProvider("example.com")
    with pytest.raises(ProviderError) as info:
        provider.apply([Create(SPF), change])
    assert change.name in str(info.value)
    assert provider.calls == 0


def test_single_string_providers_refuse_long_values() -> None:
    class ShortOnly(MemoryProvider):
        multi_string = False

    provider = ShortOnly("example.com")
    with pytest.raises(ProviderError, match="multi-string"):
        provider.apply([Create(TxtRecordSet("example.com", ("x" * 256,)))])
    assert provider.calls == 0


def test_empty_apply_makes_no_call() -> None:
    provider = MemoryProvider("example.com")
    provider.apply([])
    assert provider.calls == 0


def test_split_and_quote() -> None:
    value = "a" * 255 + 'b"\\'
    assert split_txt(value) == ["a" * 255, 'b"\\']
    assert quote_txt(value) == '"' + "a" * 255 + '" "b\\"\\\\"'
    assert split_txt("") == [""]


@pytest.mark.parametrize("kind", ["zonefile", "rfc2136", "powerdns"])
def test_registry_loads_the_builtin_adapters(kind: str) -> None:
    cls = provider_class(kind)
    assert issubclass(cls, Provider)
    assert cls.name == kind
    assert cls.atomic_batches


def test_split_txt_cuts_between_terms_never_inside_one() -> None:
    terms = [f"ip4:198.51.{i}.0/24" for i in range(40)]
    value = "v=spf1 " + " ".join(terms) + " -all"
    strings = split_txt(value)
    assert "".join(strings) == value
    assert all(len(s) <= 255 for s in strings)
    for string in strings[:-1]:
        assert string.endswith(" ")  # the cut falls on a separator
