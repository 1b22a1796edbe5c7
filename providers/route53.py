"""Amazon Route 53 adapter (boto3).

A TXT record set maps to one Route 53 resource record set; every change list is sent as
ONE ``ChangeResourceRecordSets`` batch, which Route 53 applies atomically, then the adapter
polls ``GetChange`` until the batch is ``INSYNC`` (bounded by ``wait_timeout``).

Route 53 stores TXT values in presentation form (``"abc" "def"``, octal ``\\ooo`` escapes)
and enforces limits that local emulators do not, so every batch is checked here first
(:func:`check_change_batch`); the limits come from the Route 53 API reference and quotas.
botocore's own retries are switched off: :meth:`Provider.apply` owns retrying. A response
botocore cannot parse, or one without the fields used here, is a clean ProviderError.

Besides SPF's TXT it manages the NS, A and AAAA record sets of a delegation (a macro zone's
NS below the apex and its glue); the apex NS set belongs to the hosted zone and is refused.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import os
from collections.abc import Sequence
from typing import Any, ClassVar

import boto3  # type: ignore[import-untyped]
from botocore import exceptions as boto_errors  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.parsers import ResponseParserError  # type: ignore[import-untyped]
from pydantic import BaseModel, Field, SecretStr

from spfmanager.dns.txt import MAX_TXT_STRING, quote_txt, unquote_txt
from spfmanager.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimitError,
    ProviderServerError,
)
from spfmanager.providers.base import Provider, ProviderOptions, canonical_value
from spfmanager.publish.changes import Change, Delete, RecordSet

log = logging.getLogger(__name__)

MAX_VALUE_CHARS = 4000  # API reference, ResourceRecord.Value: at most 4,000 characters
MAX_BATCH_RECORDS = 1000  # quotas: ResourceRecord elements per request (UPSERT counts twice)
MAX_BATCH_CHARS = 32000  # quotas: characters in all Value elements (UPSERT counts twice)
# The longest logical value whose quoted 255-character strings fit in MAX_VALUE_CHARS.
MAX_LOGICAL_VALUE = 3953
# Developer guide, DNS domain name format: labels of at most 63 bytes, at most 255 bytes in
# all, dots included (an NS value is a domain name).
MAX_LABEL = 63
MAX_NAME = 255

AUTH_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "ExpiredToken",
        "IncompleteSignature",
        "InvalidClientTokenId",
        "MissingAuthenticationToken",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
    }
)
THROTTLE_CODES = frozenset(
    {"Throttling", "ThrottlingException", "PriorRequestNotComplete", "RequestLimitExceeded"}
)
SERVER_CODES = frozenset({"ServiceUnavailable", "InternalFailure", "InternalError"})
CREDENTIAL_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def render_value(value: str) -> str:
    """A logical TXT value as Route 53 wants it: quoted strings of at most 255 characters,
    control characters as octal ``\\ooo`` escapes (Route 53 developer guide, TXT format)."""
    quoted = quote_txt(value, MAX_TXT_STRING)
    return "".join(f"\\{ord(c):03o}" if ord(c) < 0x20 or ord(c) == 0x7F else c for c in quoted)


def parse_value(value: str) -> str:
    """The logical TXT text of a Route 53 value (presentation form, strings joined)."""
    return "".join(unquote_txt(value, octal=True))


def decode_name(name: str) -> str:
    """A Route 53 record name as a lower-case FQDN without trailing dot (``\\052`` is ``*``)."""
    return "".join(unquote_txt(name.rstrip("."), octal=True)).lower()


def check_change_batch(zone: str, changes: Sequence[dict[str, Any]]) -> None:
    """Refuse a ``Changes`` list Route 53 would reject, naming the zone and record."""
    records = chars = 0
    for change in changes:
        rrset = change["ResourceRecordSet"]
        name = rrset["Name"].rstrip(".")
        rtype = rrset.get("Type", "TXT")
        weight = 2 if change["Action"] == "UPSERT" else 1
        where = f"route53: zone {zone}: record {name}"
        if rtype == "NS" and name.split(".")[0] == "*":
            # developer guide, record name: no * wildcard for record sets of type NS
            raise ProviderError(f"{where}: Route 53 has no wildcard NS record sets")
        for rr in rrset.get("ResourceRecords", []):
            value: str = rr["Value"]
            if len(value) > MAX_VALUE_CHARS:
                raise ProviderError(
                    f"{where}: {rtype} value of {len(value)} characters in presentation form "
                    f"exceeds Route 53's limit of {MAX_VALUE_CHARS}"
                )
            if rtype == "TXT":
                _check_txt(where, value)
            else:
                _check_rdata(where, rtype, value)
            records += weight
            chars += weight * len(value)
    if records > MAX_BATCH_RECORDS:
        raise ProviderError(
            f"route53: zone {zone}: change batch has {records} resource records "
            f"(UPSERT counted twice); Route 53 accepts at most {MAX_BATCH_RECORDS}"
        )
    if chars > MAX_BATCH_CHARS:
        raise ProviderError(
            f"route53: zone {zone}: change batch has {chars} characters of values "
            f"(UPSERT counted twice); Route 53 accepts at most {MAX_BATCH_CHARS}"
        )


def _check_txt(where: str, value: str) -> None:
    try:
        strings = unquote_txt(value, octal=True)
    except ValueError as exc:
        raise ProviderError(f"{where}: malformed TXT value: {exc}") from None
    for string in strings:
        if len(string.encode("latin-1")) > MAX_TXT_STRING:
            raise ProviderError(
                f"{where}: TXT character-string of {len(string)} characters exceeds "
                f"{MAX_TXT_STRING}"
            )


def _check_rdata(where: str, rtype: str, value: str) -> None:
    """An NS value must be a domain name; A dotted-decimal IPv4, AAAA colon-hex IPv6
    (developer guide, supported record types)."""
    if rtype == "NS":
        labels = value.rstrip(".").split(".")
        if not value.rstrip(".") or not all(labels):
            raise ProviderError(f"{where}: NS value {value!r} is not a domain name")
        if any(len(label.encode()) > MAX_LABEL for label in labels):
            raise ProviderError(f"{where}: NS value {value!r} has a label over {MAX_LABEL} bytes")
        if len(value.rstrip(".").encode()) + 1 > MAX_NAME:
            raise ProviderError(f"{where}: NS value {value!r} is over {MAX_NAME} bytes")
        return
    if rtype not in ("A", "AAAA"):
        raise ProviderError(f"{where}: record type {rtype} is not managed here")
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        address = None
    version = 4 if rtype == "A" else 6
    if address is None or address.version != version or "%" in value:  # no IPv6 zone index
        kind = "dotted-decimal IPv4" if rtype == "A" else "colon-separated IPv6"
        raise ProviderError(f"{where}: {rtype} value {value!r} is not a {kind} address")


def check_credentials(zone: str, key_id: str | None, secret: str | None) -> None:
    """Refuse a key id without its secret (or the reverse) before boto3 sees them: boto3
    would sign with half a key, or fall back to another identity's credentials."""
    if bool(key_id) == bool(secret):
        return
    given, missing = (
        ("aws_access_key_id", "aws_secret_access_key")
        if key_id
        else ("aws_secret_access_key", "aws_access_key_id")
    )
    raise ProviderAuthError(
        f"route53: zone {zone}: AWS credentials incomplete: {missing} is missing "
        f"({given} is set); set both in the provider's options (e.g. {missing}: "
        f'"env:{missing.upper()}"), or neither to use boto3\'s own credential chain'
    )


class Route53Options(ProviderOptions):
    """``providers.NAME`` of ``kind: route53``."""

    hosted_zone_id: str | None = Field(
        None, description="The hosted zone's id; default: found by the zone's name"
    )
    aws_access_key_id: str | None = Field(
        None, description="Access key id; default: boto3's own credential chain"
    )
    aws_secret_access_key: SecretStr | None = Field(
        None, description="Secret access key; default: boto3's own credential chain"
    )
    region_name: str = Field("us-east-1", description="AWS region of the API endpoint")
    endpoint_url: str | None = Field(
        None, description="Another Route 53 API endpoint (e.g. a local emulator)"
    )
    wait: bool = Field(True, description="Wait until each change batch is `INSYNC`")
    wait_timeout: float = Field(300.0, gt=0, description="Seconds to wait for `INSYNC`")
    poll_interval: float = Field(5.0, gt=0, description="Seconds between `GetChange` polls")


class Route53Provider(Provider):
    """TXT (and delegation NS/A/AAAA) record sets in one Route 53 hosted zone, found by
    name unless its id is given."""

    name: ClassVar[str] = "route53"
    Options: ClassVar[type[BaseModel] | None] = Route53Options
    max_value_length: ClassVar[int | None] = MAX_LOGICAL_VALUE
    atomic_batches: ClassVar[bool] = True
    record_types: ClassVar[frozenset[str]] = frozenset({"TXT", "NS", "A", "AAAA"})

    def __init__(
        self,
        zone: str,
        hosted_zone_id: str | None = None,
        *,
        client: Any = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        region_name: str = "us-east-1",
        endpoint_url: str | None = None,
        wait: bool = True,
        wait_timeout: float = 300.0,
        poll_interval: float = 5.0,
    ) -> None:
        super().__init__(zone)
        self.add_secret(aws_access_key_id, aws_secret_access_key)
        self.add_secret(*(os.environ.get(var) for var in CREDENTIAL_ENV))  # boto3's fallback
        self._hosted_zone_id = hosted_zone_id.split("/")[-1] if hosted_zone_id else None
        self.wait = wait
        self.wait_timeout = wait_timeout
        self.poll_interval = poll_interval
        if client is None:
            check_credentials(self.zone, aws_access_key_id, aws_secret_access_key)
            try:
                client = self._client(
                    aws_access_key_id, aws_secret_access_key, region_name, endpoint_url
                )
            except (boto_errors.ClientError, boto_errors.BotoCoreError) as exc:
                raise self.map_error(exc, "open the API client") from None
            except ValueError as exc:  # botocore's "Invalid endpoint: ..."
                raise ProviderError(
                    f"route53: zone {self.zone}: endpoint_url {endpoint_url!r} is not usable: {exc}"
                ) from None
        self.client = client

    @staticmethod
    def _client(
        key_id: str | None, secret: str | None, region_name: str, endpoint_url: str | None
    ) -> Any:
        # boto3 resolves its credential chain (environment, files, instance metadata) here:
        # a half-set environment fails now, as a BotoCoreError that _call maps
        session = boto3.session.Session(
            aws_access_key_id=key_id, aws_secret_access_key=secret, region_name=region_name
        )
        return session.client(
            "route53",
            endpoint_url=endpoint_url,
            config=Config(
                retries={"mode": "standard", "total_max_attempts": 1},
                connect_timeout=10,
                read_timeout=60,
            ),
        )

    # -- hooks ---------------------------------------------------------------------------

    def _list_type(self, names: set[str], rtype: str) -> list[RecordSet]:
        found: list[RecordSet] = []
        for name in sorted(names):
            rrset = self._current_rrset(name, rtype)
            if rrset is not None and "ResourceRecords" in rrset:  # an alias has no values
                found.append(self._typed_set(name, rtype, rrset))
        return found

    def _list(self, names: set[str] | None) -> list[RecordSet]:
        zone_id = self.hosted_zone_id()
        found: list[RecordSet] = []

        def pages() -> list[dict[str, Any]]:
            paginator = self.client.get_paginator("list_resource_record_sets")
            return list(paginator.paginate(HostedZoneId=zone_id))

        for page in self._call("list records", pages):
            rrsets = page.get("ResourceRecordSets")
            if not isinstance(rrsets, list):
                raise self._malformed("list records", "no ResourceRecordSets in the response")
            for rrset in rrsets:
                record = self._record_set(rrset)
                if record is not None and (names is None or record.name in names):
                    found.append(record)
        return found

    def _apply(self, changes: Sequence[Change]) -> None:
        final: dict[tuple[str, str], Change] = {}
        for change in changes:  # applying in order == applying each set's last change
            final[(change.name, change.rtype)] = change
        upserts = {
            key: {"Action": "UPSERT", "ResourceRecordSet": self._rrset(change.new)}
            for key, change in final.items()
            if not isinstance(change, Delete) and change.new.values
        }
        check_change_batch(self.zone, list(upserts.values()))  # before any request
        zone_id = self.hosted_zone_id()
        batch: list[dict[str, Any]] = []
        for key in sorted(final):
            if key in upserts:
                batch.append(upserts[key])
                continue
            name, rtype = key
            current = self._current_rrset(name, rtype)  # DELETE must carry the exact rrset
            if current is None:
                log.info("route53: %s has no %s record set; nothing to delete", name, rtype)
            else:
                batch.append({"Action": "DELETE", "ResourceRecordSet": current})
        if not batch:
            return
        check_change_batch(self.zone, batch)
        what = "change " + ", ".join(
            name if rtype == "TXT" else f"{name} {rtype}" for name, rtype in sorted(final)
        )
        response = self._call(
            what,
            lambda: self.client.change_resource_record_sets(
                HostedZoneId=zone_id,
                ChangeBatch={"Comment": "spfmanager", "Changes": batch},
            ),
        )
        change_id = _change_info(response).get("Id")
        if not isinstance(change_id, str):
            raise self._malformed(what, "no ChangeInfo Id: the change may or may not be applied")
        log.info("route53: zone %s: submitted %d changes as %s", self.zone, len(batch), change_id)
        if self.wait:
            self._wait_insync(change_id)

    # -- helpers -------------------------------------------------------------------------

    def hosted_zone_id(self) -> str:
        """The hosted zone's id, looked up by name on first use."""
        if self._hosted_zone_id is None:
            response = self._call(
                "find hosted zone",
                lambda: self.client.list_hosted_zones_by_name(DNSName=self.zone + "."),
            )
            zones = response.get("HostedZones")
            if not isinstance(zones, list) or not all(
                isinstance(z.get("Id"), str) and isinstance(z.get("Name"), str) for z in zones
            ):
                raise self._malformed("find hosted zone", "no HostedZones with Id and Name")
            matches = [
                z["Id"].split("/")[-1] for z in zones if z["Name"].rstrip(".").lower() == self.zone
            ]
            if not matches:
                raise ProviderError(f"route53: no hosted zone named {self.zone}")
            if len(matches) > 1:
                raise ProviderError(
                    f"route53: {len(matches)} hosted zones are named {self.zone} "
                    f"({', '.join(matches)}); set hosted_zone_id"
                )
            self._hosted_zone_id = matches[0]
        return self._hosted_zone_id

    def _record_set(self, rrset: dict[str, Any]) -> RecordSet | None:
        if not isinstance(rrset.get("Type"), str) or not isinstance(rrset.get("Name"), str):
            raise self._malformed("list records", "a record set without Name or Type")
        if rrset["Type"] != "TXT" or "ResourceRecords" not in rrset:
            return None
        name = decode_name(rrset["Name"])
        if "SetIdentifier" in rrset:
            log.warning("route53: skipping routing-policy TXT record set at %s", name)
            return None
        records = rrset["ResourceRecords"]
        if not all(isinstance(rr.get("Value"), str) for rr in records):
            raise self._malformed("list records", f"record {name}: a TXT record without Value")
        try:
            values = tuple(parse_value(rr["Value"]) for rr in records)
        except ValueError as exc:
            raise self._malformed("list records", f"record {name}: {exc}") from None
        return RecordSet(name, values, int(rrset.get("TTL", 300)))

    def _typed_set(self, name: str, rtype: str, rrset: dict[str, Any]) -> RecordSet:
        """An NS/A/AAAA record set: NS targets lower-case without dot, addresses short."""
        records = rrset["ResourceRecords"]
        if not isinstance(records, list) or not all(
            isinstance(rr, dict) and isinstance(rr.get("Value"), str) for rr in records
        ):
            raise self._malformed("list records", f"record {name}: a {rtype} record without Value")
        values: set[str] = set()
        for rr in records:
            value = rr["Value"]
            if rtype == "NS":
                values.add(decode_name(value))
                continue
            address = canonical_value(rtype, value)
            if address is None:
                raise self._malformed(
                    "list records", f"record {name}: {rtype} value {value!r:.60} is not an address"
                )
            values.add(address)
        ttl = rrset.get("TTL", 300)
        if not isinstance(ttl, int) or isinstance(ttl, bool):
            raise self._malformed("list records", f"record {name}: bad TTL {ttl!r:.20}")
        return RecordSet(name, tuple(sorted(values)), ttl, rtype)

    def _rrset(self, record: RecordSet) -> dict[str, Any]:
        if record.rtype == "TXT":
            values = [render_value(v) for v in record.values]
        else:  # NS targets absolute; addresses as they are
            values = [v + "." if record.rtype == "NS" else v for v in record.values]
        return {
            "Name": record.name + ".",
            "Type": record.rtype,
            "TTL": record.ttl,
            "ResourceRecords": [{"Value": v} for v in values],
        }

    def _current_rrset(self, name: str, rtype: str = "TXT") -> dict[str, Any] | None:
        """The exact ``rtype`` rrset at ``name`` as Route 53 has it (DELETE must match it)."""
        response = self._call(
            f"read {name}",
            lambda: self.client.list_resource_record_sets(
                HostedZoneId=self.hosted_zone_id(),
                StartRecordName=name + ".",
                StartRecordType=rtype,
                MaxItems="1",
            ),
        )
        rrsets = response.get("ResourceRecordSets")
        if not isinstance(rrsets, list):
            raise self._malformed(f"read {name}", "no ResourceRecordSets in the response")
        for rrset in rrsets:
            if (
                rrset.get("Type") == rtype
                and decode_name(str(rrset.get("Name", ""))) == name
                and "SetIdentifier" not in rrset
            ):
                return dict(rrset)
        return None

    def _wait_insync(self, change_id: str) -> None:
        polls = max(1, math.ceil(self.wait_timeout / self.poll_interval))
        for poll in range(polls + 1):
            response = self._call(
                f"wait for {change_id}", lambda: self.client.get_change(Id=change_id)
            )
            status = _change_info(response).get("Status")
            if not isinstance(status, str):
                raise self._malformed(f"wait for {change_id}", "no ChangeInfo Status")
            if status == "INSYNC":
                return
            if poll < polls:
                self.sleep(self.poll_interval)
        raise ProviderError(
            f"route53: zone {self.zone}: change {change_id} was accepted but not INSYNC "
            f"after {self.wait_timeout:.0f}s"
        )

    def _call(self, what: str, call: Any) -> Any:
        try:
            return call()
        except (boto_errors.ClientError, boto_errors.BotoCoreError) as exc:
            raise self.map_error(exc, what) from None
        except (ResponseParserError, ValueError) as exc:
            # a 200 whose body is not Route 53's XML (a proxy's page), or a field botocore
            # cannot convert (a TTL that is not a number)
            detail = (str(exc) or type(exc).__name__).splitlines()[0]
            detail = detail.split(". Further retries")[0]  # botocore's; we do not retry these
            raise self._malformed(what, detail) from None

    def map_error(self, exc: Exception, what: str) -> ProviderError:
        """Translate a botocore failure into the provider error tree (credentials are
        scrubbed by :meth:`Provider.list_records` / :meth:`Provider.apply`)."""
        prefix = f"route53: zone {self.zone}: {what} failed"
        if isinstance(exc, boto_errors.ClientError):
            error = exc.response.get("Error") or {}
            if not error.get("Code"):  # query-protocol shape: <Errors><Error>…</Error></Errors>
                error = (exc.response.get("Errors") or {}).get("Error") or {}
            code = str(error.get("Code") or "Unknown")
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            message = f"{prefix}: {code}: {error.get('Message', '')}"
            if code in AUTH_CODES or (code == "Unknown" and status in {401, 403}):
                return ProviderAuthError(message)
            if code in THROTTLE_CODES or status == 429:
                return ProviderRateLimitError(message)
            if code in SERVER_CODES or status >= 500:
                return ProviderServerError(message)
            return ProviderError(message)
        if isinstance(exc, boto_errors.PartialCredentialsError):
            kwargs = getattr(exc, "kwargs", {})
            missing = str(kwargs.get("cred_var") or "a credential")
            found_in = str(kwargs.get("provider") or "boto3's credential chain")
            return ProviderAuthError(
                f"{prefix}: AWS credentials incomplete: {missing} is missing (the others were "
                f"found in {found_in}); set it, or set aws_access_key_id and "
                "aws_secret_access_key in the provider's options"
            )
        if isinstance(exc, boto_errors.NoCredentialsError):
            return ProviderAuthError(
                f"{prefix}: no AWS credentials: set aws_access_key_id and aws_secret_access_key "
                "in the provider's options (as env: or file: references), or configure boto3's "
                "credential chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ~/.aws, a role)"
            )
        if isinstance(exc, boto_errors.CredentialRetrievalError | boto_errors.ProfileNotFound):
            return ProviderAuthError(f"{prefix}: AWS credentials unavailable: {exc}")
        if isinstance(exc, boto_errors.EndpointConnectionError):
            return ProviderServerError(
                f"{prefix}: cannot connect to the Route 53 API ({exc}); check endpoint_url "
                "and the network"
            )
        if isinstance(exc, boto_errors.ConnectionError | boto_errors.HTTPClientError):
            return ProviderServerError(f"{prefix}: {exc}")
        return ProviderError(f"{prefix}: {exc}")


def _change_info(response: Any) -> dict[str, Any]:
    """The ``ChangeInfo`` of a ChangeResourceRecordSets or GetChange response, or {}."""
    info = response.get("ChangeInfo") if isinstance(response, dict) else None
    return info if isinstance(info, dict) else {}
