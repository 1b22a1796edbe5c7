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
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import cloudflare
from cloudflare.types.dns import batch_patch_param, record_batch_params
from cloudflare.types.dns.txt_record_param import TXTRecordParam

from spfmanager.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimitError,
    ProviderServerError,
)
from spfmanager.providers.base import Change, Delete, Provider, TxtRecordSet, quote_txt, unquote_txt

log = logging.getLogger(__name__)

T = TypeVar("T")

# Cloudflare DNS docs: TXT content holds at most 2,048 characters. Quoting a value in
# 255-character strings adds 3 characters per string (minus one), so 2,025 characters of text
# is the longest value whose quoted content always fits.
MAX_CONTENT = 2048
TOKEN_ENV = "CLOUDFLARE_API_TOKEN"
MAX_LOGICAL_VALUE = 2025


@dataclass(frozen=True, slots=True)
class _Record:
    """One Cloudflare TXT record."""

    id: str
    name: str
    value: str
    ttl: int


@dataclass(slots=True)
class _Operations:
    """The per-record operations one apply needs, in the order they are safe to run."""

    patches: list[batch_patch_param.TXTRecord] = field(default_factory=list)
    posts: list[TXTRecordParam] = field(default_factory=list)
    deletes: list[record_batch_params.Delete] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.patches or self.posts or self.deletes)


def parse_content(content: str) -> str:
    """The logical text of a Cloudflare TXT ``content`` (quoted strings joined)."""
    if content.startswith('"'):
        try:
            return "".join(unquote_txt(content))
        except ValueError:
            log.warning("cloudflare: unparsable quoted TXT content kept as is: %r", content)
    return content


def render_content(value: str) -> str:
    """A logical TXT text as Cloudflare content: quoted strings of at most 255 bytes."""
    return quote_txt(value)


class CloudflareProvider(Provider):
    """TXT record sets in one Cloudflare zone, found by name unless ``zone_id`` is given."""

    name: ClassVar[str] = "cloudflare"
    max_value_length: ClassVar[int | None] = MAX_LOGICAL_VALUE
    atomic_batches: ClassVar[bool] = True

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
        **options: Any,
    ) -> None:
        super().__init__(zone, **options)
        self._token = api_token or os.environ.get(TOKEN_ENV, "")
        if client is None and not self._token:
            raise ProviderAuthError(f"cloudflare: zone {self.zone}: no API token (set {TOKEN_ENV})")
        self._zone_id = zone_id
        self.per_page = per_page
        self.client = client or cloudflare.Cloudflare(
            api_token=self._token, base_url=base_url, max_retries=max_retries, timeout=timeout
        )
        has_batch = callable(getattr(self.client.dns.records, "batch", None))
        self.use_batch = has_batch if use_batch is None else use_batch and has_batch

    def validate(self, change: Change) -> None:
        """Also refuse values whose quoted content (escapes included) would be too long."""
        super().validate(change)
        if isinstance(change, Delete):
            return
        for value in change.new.values:
            if len(render_content(value)) > MAX_CONTENT:
                raise ProviderError(
                    f"cloudflare: zone {self.zone}: record {change.name}: TXT content of "
                    f"{len(render_content(value))} characters exceeds {MAX_CONTENT}"
                )

    # -- hooks ---------------------------------------------------------------------------

    def _list(self, names: set[str] | None) -> list[TxtRecordSet]:
        grouped: dict[str, list[_Record]] = {}
        for record in self._records():
            if names is None or record.name in names:
                grouped.setdefault(record.name, []).append(record)
        return [
            TxtRecordSet(name, tuple(r.value for r in records), min(r.ttl for r in records))
            for name, records in sorted(grouped.items())
        ]

    def _apply(self, changes: Sequence[Change]) -> None:
        final: dict[str, Change] = {}
        for change in changes:  # applying in order == applying each name's last change
            final[change.name] = change
        current: dict[str, list[_Record]] = {}
        for record in self._records():
            current.setdefault(record.name, []).append(record)
        ops = _Operations()
        for name, change in sorted(final.items()):
            self._plan_name(ops, name, change, current.get(name, []))
        if not ops:
            log.info("cloudflare: zone %s already up to date", self.zone)
            return
        what = "change " + ", ".join(sorted(final))
        zone_id = self.zone_id()
        records = self.client.dns.records
        if self.use_batch:
            self._call(
                what,
                lambda: records.batch(
                    zone_id=zone_id, patches=ops.patches, posts=ops.posts, deletes=ops.deletes
                ),
            )
        else:
            for patch in ops.patches:
                self._call(
                    what,
                    lambda p=patch: records.edit(
                        p["id"],
                        zone_id=zone_id,
                        name=p["name"],
                        type="TXT",
                        ttl=p["ttl"],
                        content=p.get("content", ""),
                    ),
                )
            for post in ops.posts:
                self._call(
                    what,
                    lambda p=post: records.create(
                        zone_id=zone_id,
                        name=p["name"],
                        type="TXT",
                        ttl=p["ttl"],
                        content=p.get("content", ""),
                    ),
                )
            for delete in ops.deletes:
                self._call(what, lambda d=delete: records.delete(d["id"], zone_id=zone_id))
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
            zones = self._call(
                "find zone", lambda: list(self.client.zones.list(name=self.zone, per_page=50))
            )
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

    def _records(self) -> list[_Record]:
        zone_id = self.zone_id()

        def fetch() -> list[_Record]:
            found = []
            for item in self.client.dns.records.list(
                zone_id=zone_id, type="TXT", per_page=self.per_page
            ):
                if item.type != "TXT" or item.id is None:
                    continue
                found.append(
                    _Record(
                        id=item.id,
                        name=item.name.rstrip(".").lower(),
                        value=parse_content(item.content or ""),
                        ttl=int(item.ttl),
                    )
                )
            return found

        return self._call("list records", fetch)

    def _plan_name(
        self, ops: _Operations, name: str, change: Change, existing: list[_Record]
    ) -> None:
        """Add the operations that make ``name`` hold exactly the change's values."""
        wanted = [] if isinstance(change, Delete) else list(dict.fromkeys(change.new.values))
        ttl = 300 if isinstance(change, Delete) else change.new.ttl
        missing = list(wanted)
        unwanted: list[_Record] = []
        for record in existing:
            if record.value in missing and record.ttl == ttl:
                missing.remove(record.value)
            else:
                unwanted.append(record)
        for record, value in zip(unwanted, missing, strict=False):
            ops.patches.append(
                batch_patch_param.TXTRecord(
                    id=record.id, name=name, type="TXT", ttl=ttl, content=render_content(value)
                )
            )
        for value in missing[len(unwanted) :]:
            ops.posts.append(
                TXTRecordParam(name=name, type="TXT", ttl=ttl, content=render_content(value))
            )
        for record in unwanted[len(missing) :]:
            ops.deletes.append(record_batch_params.Delete(id=record.id))

    def _call(self, what: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except cloudflare.APIError as exc:
            raise self.map_error(exc, what) from None

    def map_error(self, exc: cloudflare.APIError, what: str) -> ProviderError:
        """Translate an SDK failure into the provider error tree, without the token."""
        prefix = f"cloudflare: zone {self.zone}: {what} failed"
        if isinstance(exc, cloudflare.APITimeoutError):
            return ProviderServerError(f"{prefix}: request timed out")
        if isinstance(exc, cloudflare.APIConnectionError):
            return ProviderServerError(f"{prefix}: cannot connect to the Cloudflare API")
        status = getattr(exc, "status_code", None)
        detail = self._scrub(_describe(exc))
        message = f"{prefix}: HTTP {status}: {detail}" if status else f"{prefix}: {detail}"
        if isinstance(exc, cloudflare.AuthenticationError | cloudflare.PermissionDeniedError):
            return ProviderAuthError(message)
        if isinstance(exc, cloudflare.RateLimitError):
            return ProviderRateLimitError(message)
        if isinstance(exc, cloudflare.InternalServerError):
            return ProviderServerError(message)
        return ProviderError(message)

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text


def _describe(exc: cloudflare.APIError) -> str:
    """The API's error list (``code: message; …``), or the SDK's message."""
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"]:
        return "; ".join(
            f"{e.get('code', '?')}: {e.get('message', '')}" if isinstance(e, dict) else str(e)
            for e in body["errors"]
        )
    return exc.message
