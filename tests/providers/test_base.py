"""The Provider template: validation before any call, bounded retries with backoff."""

from __future__ import annotations

import base64
import logging
import traceback
from collections.abc import Sequence
from urllib.parse import quote, quote_plus

import pytest

from spfmanager.dns.txt import quote_txt, split_txt
from spfmanager.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimitError,
    ProviderServerError,
)
from spfmanager.providers.base import Provider
from spfmanager.providers.registry import provider_class
from spfmanager.publish.changes import Change, Create, Delete, RecordSet, Update


class MemoryProvider(Provider):
    """A complete in-memory adapter whose next calls can be made to fail."""

    name = "memory"

    def __init__(self, zone: str, failures: Sequence[Exception] = ()) -> None:
        super().__init__(zone)
        self.records: dict[str, RecordSet] = {}
        self.failures = list(failures)
        self.calls = 0
        self.sleeps: list[float] = []
        self.sleep = self.sleeps.append

    def _fail_maybe(self) -> None:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)

    def _list(self, names: set[str] | None) -> list[RecordSet]:
        self._fail_maybe()
        return list(self.records.values())

    def _apply(self, changes: Sequence[Change]) -> None:
        self._fail_maybe()
        for change in changes:
            if isinstance(change, Delete):
                self.records.pop(change.name, None)
            else:
                self.records[change.name] = change.new


SPF = RecordSet("example.com", ("v=spf1 -all",))


def test_apply_and_list_filtered() -> None:
    provider = MemoryProvider("Example.COM.")
    other = RecordSet("_spf.example.com", ("v=spf1 ip4:192.0.2.0/24 -all",))
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
        Create(RecordSet("example.com", ("v=spf1 ip4:192.0.2.1 ~all \u2013",))),
        Create(RecordSet("example.org", ("v=spf1 -all",))),
        Create(RecordSet("badexample.com", ("v=spf1 -all",))),
        Update(SPF, RecordSet("mail.example.net", ("v=spf1 -all",))),
        Delete(RecordSet("example.org", ())),
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
        provider.apply([Create(RecordSet("example.com", ("x" * 256,)))])
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


def test_adapters_without_a_lock_of_their_own_say_so() -> None:
    with MemoryProvider("example.com").exclusive(0.1) as held:
        assert held is False  # the caller falls back to the state store's lock


# -- secrets are scrubbed by the base class, for every adapter (issue 7.12) --------------

SECRET = "s3cr3t/Key+value=="


def chain(exc: BaseException) -> str:
    """Everything a user or a log could see of ``exc``: the CLI line, str and repr of each
    chained exception, and the full traceback."""
    parts = ["".join(traceback.format_exception(exc))]
    current: BaseException | None = exc
    while current is not None:
        parts += [str(current), repr(current)]
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


class ReflectingError(Exception):
    """An exception whose message is not in ``args`` (as urllib's HTTPError)."""

    def __str__(self) -> str:
        return f"reflected {SECRET}"


def failing(*errors: Exception) -> MemoryProvider:
    provider = MemoryProvider("example.com", failures=errors)
    provider.add_secret(SECRET, None, "")
    return provider


def test_errors_and_retry_warnings_are_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    encoded = base64.b64encode(SECRET.encode()).decode()
    text = " ".join([SECRET, quote(SECRET, safe=""), quote_plus(SECRET), encoded])
    provider = failing(*[ProviderServerError(f"down: {text}")] * 2, ProviderError(f"bad: {text}"))
    with caplog.at_level(logging.WARNING), pytest.raises(ProviderError) as info:
        provider.apply([Create(SPF)])
    assert str(info.value) == "bad: *** *** *** ***"
    assert len(caplog.records) == 2 and "down: *** *** *** ***" in caplog.text
    for form in (SECRET, "s3cr3t", "czNjcjN0"):
        assert form not in chain(info.value) and form not in caplog.text


def test_chained_causes_are_scrubbed_or_cut() -> None:
    def raise_chained() -> None:
        try:
            raise KeyError(f"key {SECRET}")
        except KeyError as key_error:
            try:
                raise ReflectingError() from key_error
            except ReflectingError as reflecting:
                raise ProviderError(f"failed with {SECRET}") from reflecting

    class Chained(MemoryProvider):
        def _list(self, names: set[str] | None) -> list[RecordSet]:
            raise_chained()
            return []

    provider = Chained("example.com")
    provider.add_secret(SECRET)
    with pytest.raises(ProviderError) as info:
        provider.list_records()
    assert str(info.value) == "failed with ***"
    assert SECRET not in chain(info.value)
    assert info.value.__cause__ is None  # ReflectingError could not be scrubbed: cut


def test_an_unscrubbable_error_is_replaced() -> None:
    provider = failing(ReflectingError())
    with pytest.raises(ProviderError, match=r"^reflected \*\*\*$") as info:
        provider.list_records()
    assert SECRET not in chain(info.value)


def test_no_secret_no_change() -> None:
    error = ProviderError("plain")
    provider = MemoryProvider("example.com", failures=[error])
    with pytest.raises(ProviderError) as info:
        provider.list_records()
    assert info.value is error
