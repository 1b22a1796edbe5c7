"""Cloudflare adapter (the official ``cloudflare`` SDK, API v4).

Cloudflare stores one DNS record per TXT value, so the TXT record set at a name is every
TXT record there. A change is turned into per-record operations: records already holding a
wanted value are kept, unwanted records are patched in place to the missing values (never an
empty name, never two SPF records), then extra values are posted and extra records deleted.
All operations of one ``apply`` go in ONE ``dns.records.batch`` request, which Cloudflare runs
in a single transaction. Without a batch endpoint the operations run one by one in that order
(patches, posts, deletes), so a failure half-way leaves every name with a valid record.

TXT content is sent as RFC 1035 quoted character-strings of at most 255 bytes (``"…" "…"``),
the form the API documents; content read back is joined again. Legacy unquoted content (as
older API versions stored it) is read as the text itself.

Without ``api_token`` the token is read from ``$CLOUDFLARE_API_TOKEN``. The SDK's own retries
are off by default (``max_retries=0``): :meth:`Provider.apply` retries.

Besides SPF's TXT it manages the NS, A and AAAA records of a delegation (Cloudflare serves NS
records below the apex as a delegation of that subdomain, and the A/AAAA beneath as its glue),
planned the same way per (name, type). A/AAAA records are written unproxied: a proxied record
answers with Cloudflare's addresses, so it is never taken for glue. The apex NS records are
the zone's own and are refused.

The SDK validates responses loosely (a non-JSON 200 comes back as a string, a missing
``result`` as an empty page), so every answer is checked here: the v4 envelope
(``success: true`` and a ``result``) and each field of each record used.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar, Literal, TypeVar

import cloudflare
from cloudflare.types.dns import batch_patch_param, record_batch_params
from cloudflare.types.dns.a_record_param import ARecordParam
from cloudflare.types.dns.aaaa_record_param import AAAARecordParam
from cloudflare.types.dns.batch_patch_param import BatchPatchParam
from cloudflare.types.dns.ns_record_param import NSRecordParam
from cloudflare.types.dns.txt_record_param import TXTRecordParam
from pydantic import BaseModel, Field, SecretStr

from spfmanager.dns.txt import quote_txt, unquote_txt
from spfmanager.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimitError,
    ProviderServerError,
)
from spfmanager.providers.base import Provider, ProviderOptions, canonical_value
from spfmanager.publish.changes import Change, Delete, RecordSet

log = logging.getLogger(__name__)

T = TypeVar("T")
RType = Literal["TXT", "NS", "A", "AAAA"]
RTYPES: dict[str, RType] = {"TXT": "TXT", "NS": "NS", "A": "A", "AAAA": "AAAA"}

# Cloudflare DNS docs: TXT content holds at most 2,048 characters. Quoting a value in
# 255-character strings adds 3 characters per string (minus one), so 2,025 characters of text
# is the longest value whose quoted content always fits.
MAX_CONTENT = 2048
TOKEN_ENV = "CLOUDFLARE_API_TOKEN"
MAX_LOGICAL_VALUE = 2025


@dataclass(frozen=True, slots=True)
class _Record:
    """One Cloudflare record: its logical TXT text, NS target or address."""

    id: str
    name: str
    value: str
    ttl: int
    rtype: RType = "TXT"
    proxied: bool = False


@dataclass(slots=True)
class _Operations:
    """The per-record operations one apply needs, in the order they are safe to run."""

    patches: list[BatchPatchParam] = field(default_factory=list)
    posts: list[record_batch_params.Post] = field(default_factory=list)
    deletes: list[record_batch_params.Delete] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.patches or self.posts or self.deletes)


def parse_content(content: str) -> str:
    """The logical text of a Cloudflare TXT ``content`` (quoted strings joined; legacy
    unquoted content is the text itself). Raises ValueError on a bad quoted string."""
    return "".join(unquote_txt(content)) if content.startswith('"') else content


def render_content(value: str) -> str:
    """A logical TXT text as Cloudflare content: quoted strings of at most 255 bytes."""
    return quote_txt(value)


def _patch(record_id: str, name: str, rtype: RType, ttl: int, value: str) -> BatchPatchParam:
    """The batch patch setting record ``record_id`` to ``value``."""
    if rtype == "NS":
        return batch_patch_param.NSRecord(
            id=record_id, name=name, type="NS", ttl=ttl, content=value
        )
    if rtype == "A":
        return batch_patch_param.ARecord(
            id=record_id, name=name, type="A", ttl=ttl, content=value, proxied=False
        )
    if rtype == "AAAA":
        return batch_patch_param.AAAARecord(
            id=record_id, name=name, type="AAAA", ttl=ttl, content=value, proxied=False
        )
    return batch_patch_param.TXTRecord(
        id=record_id, name=name, type="TXT", ttl=ttl, content=render_content(value)
    )


def _post(name: str, rtype: RType, ttl: int, value: str) -> record_batch_params.Post:
    """The batch post creating a record of ``value``."""
    if rtype == "NS":
        return NSRecordParam(name=name, type="NS", ttl=ttl, content=value)
    if rtype == "A":
        return ARecordParam(name=name, type="A", ttl=ttl, content=value, proxied=False)
    if rtype == "AAAA":
        return AAAARecordParam(name=name, type="AAAA", ttl=ttl, content=value, proxied=False)
    return TXTRecordParam(name=name, type="TXT", ttl=ttl, content=render_content(value))


class CloudflareOptions(ProviderOptions):
    """``providers.NAME`` of ``kind: cloudflare``."""

    api_token: SecretStr | None = Field(
        None, description=f"API token with DNS edit rights; default: `${TOKEN_ENV}`"
    )
    zone_id: str | None = Field(None, description="The zone's id; default: found by its name")
    base_url: str | None = Field(None, description="Another API endpoint; default: the SDK's")
    max_retries: int = Field(
        0, ge=0, description="The SDK's own retries (spfmanager retries transient failures)"
    )
    timeout: float = Field(30.0, gt=0, description="Seconds per API request")
    use_batch: bool | None = Field(
        None, description="Send each apply as one batch request; default: when the SDK can"
    )
    per_page: int = Field(100, ge=1, description="Records per page when listing")


class CloudflareProvider(Provider):
    """TXT (and delegation NS/A/AAAA) record sets in one Cloudflare zone, found by name
    unless ``zone_id`` is given."""

    name: ClassVar[str] = "cloudflare"
    Options: ClassVar[type[BaseModel] | None] = CloudflareOptions
    max_value_length: ClassVar[int | None] = MAX_LOGICAL_VALUE
    atomic_batches: ClassVar[bool] = True
    record_types: ClassVar[frozenset[str]] = frozenset({"TXT", "NS", "A", "AAAA"})

    def __init__(
        self,
        zone: str,
        api_token: str | None = None,
        *,
        zone_id: str | None = None,
        base_url: str | None = None,
        client: cloudflare.Cloudflare | None = None,
        max_retries: int = 0,
        timeout: float = 30.0,
        use_batch: bool | None = None,
        per_page: int = 100,
    ) -> None:
        super().__init__(zone)
        self._token = api_token or os.environ.get(TOKEN_ENV, "")
        self.add_secret(self._token)
        if client is None and not self._token:
            raise ProviderAuthError(f"cloudflare: zone {self.zone}: no API token (set {TOKEN_ENV})")
        self._zone_id = zone_id
        self.per_page = per_page
        if client is None:
            try:
                client = cloudflare.Cloudflare(
                    api_token=self._token,
                    base_url=base_url,
                    max_retries=max_retries,
                    timeout=timeout,
                )
            except (cloudflare.CloudflareError, ValueError) as exc:  # e.g. a bad base_url
                raise ProviderError(
                    f"cloudflare: zone {self.zone}: cannot open the API client: "
                    f"{type(exc).__name__}: {exc}; check base_url and api_token"
                ) from None
        self.client = client
        has_batch = callable(getattr(self.client.dns.records, "batch", None))
        self.use_batch = has_batch if use_batch is None else use_batch and has_batch

    def validate(self, change: Change) -> None:
        """Also refuse TXT values whose quoted content (escapes included) would be too long."""
        super().validate(change)
        if isinstance(change, Delete) or change.rtype != "TXT":
            return
        for value in change.new.values:
            if len(render_content(value)) > MAX_CONTENT:
                raise ProviderError(
                    f"cloudflare: zone {self.zone}: record {change.name}: TXT content of "
                    f"{len(render_content(value))} characters exceeds {MAX_CONTENT}"
                )

    # -- hooks ---------------------------------------------------------------------------

    def _list(self, names: set[str] | None) -> list[RecordSet]:
        grouped: dict[str, list[_Record]] = {}
        for record in self._records():
            if names is None or record.name in names:
                grouped.setdefault(record.name, []).append(record)
        return [
            RecordSet(name, tuple(r.value for r in records), min(r.ttl for r in records))
            for name, records in sorted(grouped.items())
        ]

    def _list_type(self, names: set[str], rtype: str) -> list[RecordSet]:
        found: list[RecordSet] = []
        for name in sorted(names):
            records = []
            for record in self._records(RTYPES[rtype], name):
                if record.proxied:  # answered with Cloudflare's addresses: not this value
                    log.warning("cloudflare: %s: ignoring proxied %s record", name, rtype)
                else:
                    records.append(record)
            if records:
                values = tuple(sorted({r.value for r in records}))
                found.append(RecordSet(name, values, min(r.ttl for r in records), rtype))
        return found

    def _apply(self, changes: Sequence[Change]) -> None:
        final: dict[tuple[str, str], Change] = {}
        for change in changes:  # applying in order == applying each set's last change
            final[(change.name, change.rtype)] = change
        current: dict[tuple[str, str], list[_Record]] = {}
        if any(rtype == "TXT" for _, rtype in final):
            for record in self._records():
                current.setdefault((record.name, "TXT"), []).append(record)
        for name, rtype in final:
            if rtype != "TXT":
                current[(name, rtype)] = self._records(RTYPES[rtype], name)
        ops = _Operations()
        for key, change in sorted(final.items()):
            self._plan_name(ops, key[0], change, current.get(key, []))
        if not ops:
            log.info("cloudflare: zone %s already up to date", self.zone)
            return
        what = "change " + ", ".join(
            name if rtype == "TXT" else f"{name} {rtype}" for name, rtype in sorted(final)
        )
        zone_id = self.zone_id()
        raw = self.client.dns.records.with_raw_response  # the envelope says if it worked
        calls: list[Callable[[], Any]]
        if self.use_batch:
            calls = [
                partial(
                    raw.batch,
                    zone_id=zone_id,
                    patches=ops.patches,
                    posts=ops.posts,
                    deletes=ops.deletes,
                )
            ]
        else:
            calls = [
                *(
                    partial(
                        raw.edit,
                        p["id"],
                        zone_id=zone_id,
                        name=p["name"],
                        type=p["type"],
                        ttl=p["ttl"],
                        content=p.get("content", ""),
                        **_unproxied(p["type"]),
                    )
                    for p in ops.patches
                ),
                *(
                    partial(
                        raw.create,
                        zone_id=zone_id,
                        name=p["name"],
                        type=p["type"],
                        ttl=p["ttl"],
                        content=p.get("content", ""),
                        **_unproxied(p["type"]),
                    )
                    for p in ops.posts
                ),
                *(partial(raw.delete, d["id"], zone_id=zone_id) for d in ops.deletes),
            ]
        for call in calls:
            self._check_envelope(what, self._call(what, partial(_json, call)))
        log.info(
            "cloudflare: zone %s: %d patched, %d created, %d deleted",
            self.zone,
            len(ops.patches),
            len(ops.posts),
            len(ops.deletes),
        )

    # -- helpers -------------------------------------------------------------------------

    def zone_id(self) -> str:
        """The zone's id, looked up by name on first use."""
        if self._zone_id is None:
            zones = self._all(
                "find zone", lambda: self.client.zones.list(name=self.zone, per_page=50)
            )
            if not all(isinstance(getattr(z, "id", None), str) for z in zones) or not all(
                isinstance(getattr(z, "name", None), str) for z in zones
            ):
                raise self._malformed("find zone", "a zone without id or name")
            matches = [z.id for z in zones if z.name.rstrip(".").lower() == self.zone]
            if not matches:
                raise ProviderError(f"cloudflare: no zone named {self.zone} for this token")
            if len(matches) > 1:
                raise ProviderError(
                    f"cloudflare: {len(matches)} zones are named {self.zone} "
                    f"({', '.join(matches)}); set zone_id"
                )
            self._zone_id = matches[0]
        return self._zone_id

    def _records(self, rtype: RType = "TXT", name: str | None = None) -> list[_Record]:
        """The zone's ``rtype`` records (TXT: all of them; other types: at ``name``)."""
        zone_id = self.zone_id()
        if name is None:
            items = self._all(
                "list records",
                lambda: self.client.dns.records.list(
                    zone_id=zone_id, type=rtype, per_page=self.per_page
                ),
            )
        else:
            items = self._all(
                f"list {rtype} records at {name}",
                lambda: self.client.dns.records.list(
                    zone_id=zone_id, type=rtype, name={"exact": name}, per_page=self.per_page
                ),
            )
        found = [record for item in items if (record := self._record(item, rtype)) is not None]
        return [r for r in found if name is None or r.name == name]

    def _all(self, what: str, first_page: Callable[[], Any]) -> list[Any]:
        """Every item of a paginated list, each page's envelope checked before the next."""

        def fetch() -> list[Any]:
            items: list[Any] = []
            for number, page in enumerate(first_page().iter_pages(), 1):
                result = page.result if "result" in page.model_fields_set else None
                if not isinstance(result, list):
                    raise self._malformed(what, f"page {number} has no 'result' list")
                self._check_envelope(what, {**(page.model_extra or {}), "result": result})
                if result and items and _ids(result) <= _ids(items):  # else: pages forever
                    raise self._malformed(what, f"page {number} repeats records already listed")
                items.extend(result)
            return items

        result: list[Any] = self._call(what, fetch)
        return result

    def _record(self, item: Any, rtype: RType = "TXT") -> _Record | None:
        """An ``rtype`` record of a listing, every field used checked; None for other types."""
        kind = getattr(item, "type", None)
        if not isinstance(kind, str):
            raise self._malformed("list records", f"not a DNS record: {item!r:.60}")
        if kind != rtype:
            return None
        record_id, name, content, ttl = (
            getattr(item, k, None) for k in ("id", "name", "content", "ttl")
        )
        if not isinstance(name, str) or not name:
            raise self._malformed("list records", f"a {rtype} record without a name: {item!r:.60}")
        if not isinstance(record_id, str) or not isinstance(content, str):
            raise self._malformed("list records", f"{rtype} record {name}: no 'id' or no 'content'")
        if not isinstance(ttl, int | float) or isinstance(ttl, bool):
            raise self._malformed(
                "list records", f"{rtype} record {name}: no valid 'ttl' ({ttl!r:.20})"
            )
        owner = name.rstrip(".").lower()
        if rtype == "TXT":
            return _Record(record_id, owner, self._content(name, content), int(ttl))
        value = self._typed_content(rtype, name, content)
        proxied = getattr(item, "proxied", False) is True
        return _Record(record_id, owner, value, int(ttl), rtype, proxied)

    def _typed_content(self, rtype: RType, name: str, content: str) -> str:
        """NS content as a lower-case name without trailing dot; A/AAAA in short form."""
        value = canonical_value(rtype, content)
        if value is None:
            raise self._malformed(
                "list records", f"{rtype} record {name}: content {content!r:.60} is no address"
            )
        return value

    def _content(self, name: str, content: str) -> str:
        """The logical text of a record's content; quoted content must be valid."""
        try:
            return parse_content(content)
        except ValueError as exc:
            raise self._malformed(
                "list records", f"TXT record {name}: content {content!r:.60} is not valid: {exc}"
            ) from None

    def _check_envelope(self, what: str, payload: Any) -> None:
        """Refuse a 2xx answer that is not a successful v4 envelope."""
        if not isinstance(payload, dict):
            raise self._malformed(what, f"expected a JSON object, got {type(payload).__name__}")
        if payload.get("success") is not True or "result" not in payload:
            raise self._malformed(what, "no 'success': true and 'result' in the answer")

    def _plan_name(
        self, ops: _Operations, name: str, change: Change, existing: list[_Record]
    ) -> None:
        """Add the operations that make ``name`` hold exactly the change's values (of the
        change's type)."""
        rtype = RTYPES[change.rtype]
        wanted = [] if isinstance(change, Delete) else list(dict.fromkeys(change.new.values))
        ttl = 300 if isinstance(change, Delete) else change.new.ttl
        missing = list(wanted)
        unwanted: list[_Record] = []
        for record in existing:
            if record.value in missing and record.ttl == ttl and not record.proxied:
                missing.remove(record.value)
            else:
                unwanted.append(record)
        for record, value in zip(unwanted, missing, strict=False):
            ops.patches.append(_patch(record.id, name, rtype, ttl, value))
        for value in missing[len(unwanted) :]:
            ops.posts.append(_post(name, rtype, ttl, value))
        for record in unwanted[len(missing) :]:
            ops.deletes.append(record_batch_params.Delete(id=record.id))

    def _call(self, what: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except cloudflare.APIError as exc:
            raise self.map_error(exc, what) from None
        except cloudflare.CloudflareError as exc:  # the SDK's other failures
            raise ProviderError(
                f"cloudflare: zone {self.zone}: {what} failed: {type(exc).__name__}: {exc}"
            ) from None
        except (ValueError, AttributeError, TypeError) as exc:
            # the SDK chokes on a 200 that is not JSON, or JSON of another shape
            raise self._malformed(what, f"{type(exc).__name__}: {exc}") from None

    def map_error(self, exc: cloudflare.APIError, what: str) -> ProviderError:
        """Translate an SDK failure into the provider error tree (the token is scrubbed by
        :meth:`Provider.list_records` / :meth:`Provider.apply`)."""
        prefix = f"cloudflare: zone {self.zone}: {what} failed"
        if isinstance(exc, cloudflare.APITimeoutError):
            return ProviderServerError(f"{prefix}: request timed out")
        if isinstance(exc, cloudflare.APIConnectionError):
            return ProviderServerError(f"{prefix}: cannot connect to the Cloudflare API")
        status = getattr(exc, "status_code", None)
        detail = _describe(exc)
        message = f"{prefix}: HTTP {status}: {detail}" if status else f"{prefix}: {detail}"
        if isinstance(exc, cloudflare.AuthenticationError | cloudflare.PermissionDeniedError):
            return ProviderAuthError(message)
        if isinstance(exc, cloudflare.RateLimitError):
            return ProviderRateLimitError(message)
        if isinstance(exc, cloudflare.InternalServerError):
            return ProviderServerError(message)
        return ProviderError(message)


def _unproxied(rtype: str) -> dict[str, bool]:
    """``proxied: false`` for address records (glue must answer its own address)."""
    return {"proxied": False} if rtype in ("A", "AAAA") else {}


def _json(call: Callable[[], Any]) -> Any:
    """The JSON body of a raw SDK response."""
    return call().json()


def _ids(records: list[Any]) -> set[Any]:
    return {getattr(r, "id", None) for r in records}


def _describe(exc: cloudflare.APIError) -> str:
    """The API's error list (``code: message; …``), or the SDK's message."""
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"]:
        return "; ".join(
            f"{e.get('code', '?')}: {e.get('message', '')}" if isinstance(e, dict) else str(e)
            for e in body["errors"]
        )
    return exc.message
