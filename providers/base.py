"""The DNS provider contract.

A provider publishes record sets (all values of one type at one owner name) in one zone:
TXT for SPF, and, in adapters whose ``record_types`` include them, NS and A/AAAA for the
delegation of a macro zone (docs/macro.md). :class:`Provider` fixes the public methods;
adapters implement these hooks:

``_list(names)``
    Return the current TXT record sets of the zone (all of them, or only ``names``).
    Values are the logical TXT texts: character-strings already joined.
``_list_type(names, rtype)``
    Return the current record sets of type ``rtype`` (NS, A or AAAA) at ``names`` (always
    given). NS values are lower-case targets without trailing dot; A/AAAA values are
    addresses in short form (:func:`canonical_value`). Only called for a type in
    ``record_types``; NS at a name below the apex is a delegation, and the A/AAAA beneath
    it are its glue.
``_apply(changes)``
    Carry out the changes, in order. Every change must be idempotent: ``Create`` and
    ``Update`` set the record set of the change's name and type (``change.rtype``) to
    exactly ``new.values`` (replacing what is there), ``Delete`` removes that record set
    and is a no-op when it is gone; other types at the name are left alone. Adapters with
    ``atomic_batches`` apply the whole list in one transaction. NS at the zone apex is the
    zone operator's: :meth:`Provider.validate` refuses it before anything is sent.

Adapters map their API's failures to :class:`~spfmanager.errors.ProviderAuthError`
(credentials, never retried), :class:`~spfmanager.errors.ProviderRateLimitError` and
:class:`~spfmanager.errors.ProviderServerError` (both retried with bounded backoff by
:meth:`Provider.apply`), or a plain :class:`~spfmanager.errors.ProviderError`. Messages name
the provider, the zone and the record; they never contain a credential.

A response the adapter cannot read (a 200 whose body is not JSON/XML, JSON of the wrong
shape, a record without its content, TXT content that is not valid presentation form) is a
:class:`~spfmanager.errors.ProviderError` naming the provider, the zone and what was wrong
(:meth:`Provider._malformed`), never a KeyError or TypeError, and never read as "no records".

Secrets: an adapter registers its credential values with :meth:`Provider.add_secret` in its
``__init__``. Every exception raised out of :meth:`Provider.list_records` and
:meth:`Provider.apply` (its message, and the messages of its chained ``__cause__`` /
``__context__``) and every retry warning is scrubbed by :meth:`Provider.scrub`: each secret,
and its URL-, JSON- and base64-encoded forms, becomes ``***``. Adapters do no scrubbing of
their own.

Zone lock: :meth:`Provider.exclusive` ``(timeout)`` is a context manager. An adapter with a
lock of its own (the zone file's ``flock``) holds the zone against other processes and
threads for the ``with`` block and returns True; it raises
:class:`~spfmanager.errors.ProviderError` when ``timeout`` seconds pass first. The lock is
re-entrant for the thread holding it, across adapter instances of the same zone, so an
apply run inside it may take it again. The default returns False without locking anything:
the caller then uses the state store's lock instead.

Capabilities are class attributes: ``max_string_length`` (one TXT character-string),
``max_value_length`` (one TXT value; None when unlimited), ``multi_string`` (a value may be
several strings), ``atomic_batches``, ``record_types`` (TXT only by default).

Options: ``Options`` is the pydantic model of what a config may write under
``providers.NAME`` besides ``kind`` (subclass :class:`ProviderOptions`), one field per
keyword argument of ``__init__`` that a config may set, each with a ``description`` (the
reference tables of docs/config.md are generated from them). Credentials are typed
``SecretStr``. The config loader validates ``providers.NAME`` against the model, so a
misspelled or missing option is a located config error; the adapter is then opened with
every field of the model (defaults filled in) as keyword arguments, credentials read from
their ``env:``/``file:`` references as plain strings. An adapter whose ``Options`` is None
(a plugin that declares nothing) gets the options as written, unchecked.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

from spfmanager.dns.base import in_zone
from spfmanager.dns.txt import MAX_TXT_STRING
from spfmanager.errors import (
    ProviderError,
    ProviderRateLimitError,
    ProviderServerError,
    secret_forms,
)
from spfmanager.publish.changes import Change, Delete, RecordSet

log = logging.getLogger(__name__)

SCRUBBED = "***"
T = TypeVar("T")


class ProviderOptions(BaseModel):
    """Base of an adapter's ``Options`` model: frozen, unknown keys refused, strict types
    (YAML's ``yes`` is no integer, ``"53"`` no port)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class Provider(ABC):
    """Base of every DNS provider adapter; see the module docstring for the contract."""

    name: ClassVar[str] = "provider"
    #: The options a config may set (see the module docstring); None: unchecked.
    Options: ClassVar[type[BaseModel] | None] = None
    max_string_length: ClassVar[int] = MAX_TXT_STRING
    max_value_length: ClassVar[int | None] = None
    multi_string: ClassVar[bool] = True
    atomic_batches: ClassVar[bool] = False
    record_types: ClassVar[frozenset[str]] = frozenset({"TXT"})
    retries: ClassVar[int] = 4
    backoff_seconds: ClassVar[float] = 0.5

    def __init__(self, zone: str, **options: Any) -> None:
        self.zone = zone.rstrip(".").lower()
        self.options = options
        self.sleep: Callable[[float], None] = time.sleep
        self._secret_forms: set[str] = set()

    def list_records(
        self, names: Iterable[str] | None = None, rtype: str = "TXT"
    ) -> dict[str, RecordSet]:
        """The current record sets of type ``rtype`` (TXT: all of them, or at ``names``;
        other types only at ``names``), by name."""
        wanted = None if names is None else {n.rstrip(".").lower() for n in names}
        if rtype == "TXT":
            found = self._scrubbed(lambda: self._with_retries("list", lambda: self._list(wanted)))
        else:
            self._supports(rtype, "list")
            if not wanted:
                return {}
            asked = wanted
            found = self._scrubbed(
                lambda: self._with_retries("list", lambda: self._list_type(asked, rtype))
            )
        return {
            rs.name: rs
            for rs in found
            if rs.rtype == rtype and (wanted is None or rs.name in wanted)
        }

    def apply(self, changes: Sequence[Change]) -> None:
        """Apply ``changes`` in order, retrying transient failures with backoff."""

        def run() -> None:
            for change in changes:
                self.validate(change)
            if changes:
                self._with_retries("apply", lambda: self._apply(changes))

        self._scrubbed(run)

    def exclusive(self, timeout: float) -> contextlib.AbstractContextManager[bool]:
        """Hold this zone's lock for a ``with`` block (see the module docstring).

        The base class has no lock: it returns False at once and the caller uses the state
        store's lock. Adapters with a lock of their own return True while holding it.
        """
        del timeout
        return contextlib.nullcontext(False)

    # -- secrets -------------------------------------------------------------------------

    def add_secret(self, *values: str | None) -> None:
        """Register credential values (empty ones are ignored) to scrub from errors and logs."""
        for value in values:
            if value:
                self._secret_forms.update(secret_forms(value))

    def scrub(self, text: str) -> str:
        """``text`` with every registered secret, in any of its encodings, as ``***``."""
        for form in sorted(self._secret_forms, key=len, reverse=True):
            text = text.replace(form, SCRUBBED)
        return text

    def _leaks(self, exc: BaseException) -> bool:
        text = f"{exc}\n{exc!r}"
        return any(form in text for form in self._secret_forms)

    def _scrubbed(self, call: Callable[[], T]) -> T:
        """``call()``; the exception leaving it, and those chained to it, scrubbed."""
        try:
            return call()
        except Exception as exc:
            if not self._secret_forms:
                raise
            self._scrub_chain(exc)
            if not self._leaks(exc):
                raise
            replacement = ProviderError(self.scrub(str(exc)))  # its message is not in args
        raise replacement from None  # outside the handler: no __context__ to the original

    def _scrub_chain(self, exc: BaseException) -> None:
        """Scrub the ``args`` (and notes) of ``exc`` and of every exception chained to it, as
        a traceback would print them; drop suppressed contexts; cut the chain before an
        exception that still shows a secret."""
        current: BaseException | None = exc
        parent: BaseException | None = None
        seen: set[int] = set()
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            current.args = tuple(self.scrub(a) if isinstance(a, str) else a for a in current.args)
            notes = getattr(current, "__notes__", None)
            if isinstance(notes, list):
                notes[:] = [self.scrub(n) if isinstance(n, str) else n for n in notes]
            if parent is not None and self._leaks(current):
                parent.__cause__ = parent.__context__ = None
                parent.__suppress_context__ = True
                return
            if current.__suppress_context__:  # never printed, but it may hold the raw reply
                current.__context__ = None
            parent = current
            current = current.__cause__ or current.__context__

    def _malformed(self, what: str, detail: str) -> ProviderError:
        """The error for a response the adapter cannot read: provider, zone and the problem."""
        return ProviderError(f"{self.name}: zone {self.zone}: {what}: malformed response: {detail}")

    def validate(self, change: Change) -> None:
        """Refuse values this provider cannot store faithfully, before anything is sent."""
        if not in_zone(change.name, self.zone):
            raise ProviderError(f"{self.name}: {change.name} is outside zone {self.zone}")
        self._supports(change.rtype, "publish")
        if change.rtype == "NS" and change.name == self.zone:
            raise ProviderError(
                f"{self.name}: zone {self.zone}: refusing to change the apex NS records: they "
                "belong to the zone's operator (spfmanager publishes only delegations below "
                "the apex)"
            )
        if isinstance(change, Delete):
            return
        if change.rtype != "TXT":
            for value in change.new.values:
                _check_value(self.name, change.name, change.rtype, value)
            return
        for value in change.new.values:
            try:
                value.encode("ascii")
            except UnicodeEncodeError:
                raise ProviderError(f"{self.name}: {change.name}: TXT value is not ASCII") from None
            limit = self.max_value_length
            if limit is not None and len(value) > limit:
                raise ProviderError(
                    f"{self.name}: {change.name}: TXT value of {len(value)} characters "
                    f"exceeds the provider's limit of {limit}"
                )
            if not self.multi_string and len(value) > self.max_string_length:
                raise ProviderError(
                    f"{self.name}: {change.name}: TXT value over {self.max_string_length} "
                    "characters and the provider has no multi-string TXT support"
                )

    def _supports(self, rtype: str, what: str) -> None:
        if rtype not in self.record_types:
            kinds = ", ".join(sorted(self.record_types))
            raise ProviderError(
                f"{self.name}: zone {self.zone}: cannot {what} {rtype} records with this "
                f"provider (it manages {kinds} only)"
            )

    def _with_retries(self, what: str, call: Callable[[], Any]) -> Any:
        delay = self.backoff_seconds
        for attempt in range(self.retries + 1):
            try:
                return call()
            except (ProviderRateLimitError, ProviderServerError) as exc:
                if attempt == self.retries:
                    raise
                log.warning(
                    "%s %s (zone %s) failed: %s; retry in %.1fs",
                    self.name,
                    what,
                    self.zone,
                    self.scrub(str(exc)),
                    delay,
                )
                self.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    @abstractmethod
    def _list(self, names: set[str] | None) -> list[RecordSet]:
        """Current TXT record sets (all, or those at ``names``)."""

    def _list_type(self, names: set[str], rtype: str) -> list[RecordSet]:
        """Current ``rtype`` record sets at ``names`` (adapters listing it in
        ``record_types`` override this)."""
        raise NotImplementedError(f"{self.name}: {rtype} records")

    @abstractmethod
    def _apply(self, changes: Sequence[Change]) -> None:
        """Carry out ``changes`` idempotently, in order."""


def canonical_value(rtype: str, content: str) -> str | None:
    """A provider's NS or A/AAAA content in the change model's form: an NS target as a
    lower-case name without trailing dot, an address in short form; None when the content
    is no address of the type's family."""
    if rtype == "NS":
        return content.rstrip(".").lower()
    try:
        address = ipaddress.ip_address(content)
    except ValueError:
        return None
    return str(address) if address.version == (4 if rtype == "A" else 6) else None


def _check_value(provider: str, name: str, rtype: str, value: str) -> None:
    """ProviderError unless ``value`` is a canonical NS target or A/AAAA address."""
    if rtype == "NS":
        labels = value.split(".")
        if (
            value != value.lower()
            or value.endswith(".")
            or not all(0 < len(label) <= 63 for label in labels)
        ):
            raise ProviderError(f"{provider}: {name}: NS value {value!r} is not a host name")
        return
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        address = None
    if address is None or address.version != (4 if rtype == "A" else 6) or str(address) != value:
        raise ProviderError(f"{provider}: {name}: {rtype} value {value!r} is not an address")
