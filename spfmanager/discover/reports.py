"""One DMARC aggregate report, XML bytes -> :class:`~spfmanager.discover.model.Report`.

The format is RFC 7489 appendix C and its successor RFC 9990 (namespace
``urn:ietf:params:xml:ns:dmarc-2.0``: ``np``, ``testing``, ``discovery_method``, no
``pct``, ``pass`` as a disposition). The parser is defusedxml's (no DTD, no entity
declarations, no external references: billion laughs and XXE are refused before any
expansion) driven as a pull parser: each ``record`` becomes a :class:`Row` when it closes
and is then dropped from the tree, so a report's memory is its input bytes plus its rows.

What real reporters send is tolerated where the meaning is clear:

* values padded with spaces, tabs and newlines (Yahoo) are stripped;
* results, dispositions and policies in any case (``Pass``, ``None``) are lower-cased;
  domains are lower-cased without a trailing dot;
* namespaces of any kind on ``feedback`` and its children (Microsoft's ``xmlns:xsd``,
  RFC 9990's default namespace), elements matched by local name;
* no ``version`` (Google), a decimal one (``1.0``); missing optional elements
  (``envelope_from``, ``selector``, ``scope``, ``reason``) and empty ones;
* ``feedback`` wrapped in one unclosed element (IKEA's stray ``<xs:schema>``): reading
  stops when ``feedback`` closes;
* an empty ``org_name``: the domain of ``report_metadata/email`` instead;
* bytes that are not valid UTF-8 in a document declared (or defaulting to) UTF-8, and
  UTF-16 with a byte-order mark whatever its declaration says: read again with the bytes
  replaced (U+FFFD) or transcoded, and said so in ``Report.warnings``.

A record that cannot be used (an invalid ``source_ip``, no ``count``...) is left out and
counted in ``Report.warnings``; the rest of the report is kept. What makes the report as a
whole unusable raises :class:`~spfmanager.errors.ReportError` with the reason.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from ipaddress import ip_address
from typing import Any
from xml.etree.ElementTree import Element, ParseError

# No stubs in the test extra (types-defusedxml is not in pyproject): its values are Any here.
import defusedxml  # type: ignore[import-untyped, unused-ignore]
import defusedxml.ElementTree as DefusedET  # type: ignore[import-untyped, unused-ignore]

from spfmanager.discover.limits import Limits, size
from spfmanager.discover.model import AuthResult, Report, Row
from spfmanager.errors import ReportError

NAMESPACE_2 = "urn:ietf:params:xml:ns:dmarc-2.0"  # RFC 9990 section 4.3 (the XML schema)
MAX_TIMESTAMP = 253_402_300_799  # 9999-12-31T23:59:59Z: the last second datetime holds
_DECLARED_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)""")
_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_NUMBER = re.compile(r"\d+(?:\.0*)?")


def parse_report(data: bytes, source: str, limits: Limits = Limits()) -> Report:  # noqa: B008
    """The report in ``data`` (XML bytes); ``source`` names where it was read, for
    ``Report.source`` and error messages.

    Raises :class:`~spfmanager.errors.ReportError` when ``data`` is not a DMARC aggregate
    report, is hostile (a DTD, entity declarations), goes over a limit of ``limits`` or
    lacks a required element; its ``reason`` says which.
    """
    if len(data) > limits.max_member_bytes:
        raise ReportError(
            source,
            f"larger than {size(limits.max_member_bytes)} (Limits.max_member_bytes)",
        )
    try:
        return _Reader(source, limits).read(data)
    except ParseError as first:
        recoded = _recode(data)
        if recoded is None:
            raise ReportError(source, f"not well-formed XML: {first}") from None
        data, note = recoded
    try:
        report = _Reader(source, limits, [note]).read(data)
    except ParseError as second:
        raise ReportError(source, f"not well-formed XML ({note}): {second}") from None
    return report


def _recode(data: bytes) -> tuple[bytes, str] | None:
    """``data`` made readable after a parse error, with what was done; None when no
    encoding problem explains the error."""
    if data.startswith(_UTF16_BOMS):
        text = data.decode("utf-16", "replace")
        return _DECLARATION.sub("", text, count=1).encode("utf-8"), "read as UTF-16 (its BOM)"
    declared = _DECLARED_ENCODING.match(data[:512])
    if declared is not None and declared.group(1).lower().replace(b"_", b"-") not in (
        b"utf-8",
        b"utf8",
    ):
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8", "replace")
        replaced = text.count("\ufffd") - data.count("\ufffd".encode())
        return text.encode("utf-8"), (
            f"not valid UTF-8 (first bad byte at offset {exc.start}): "
            f"{replaced} invalid sequence(s) replaced by U+FFFD"
        )
    return None


def _local(tag: Any) -> str:
    # Comments and processing instructions are not elements; callers skip "" names.
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _namespace(tag: str) -> str | None:
    return tag[1:].partition("}")[0] if tag.startswith("{") else None


def _children(element: Element) -> dict[str, Element]:
    """Children by local name, the first of each name."""
    found: dict[str, Element] = {}
    for child in element:
        found.setdefault(_local(child.tag), child)
    return found


def _text(children: dict[str, Element], name: str) -> str | None:
    """The stripped text of child ``name``: None when absent, "" when empty."""
    child = children.get(name)
    if child is None:
        return None
    return (child.text or "").strip()


def _lower(children: dict[str, Element], name: str) -> str | None:
    value = _text(children, name)
    return None if value is None else value.lower()


def _domain(value: str | None) -> str | None:
    return None if value is None else value.lower().rstrip(".")


def _timestamp(value: str | None) -> datetime | None:
    if value is None or not _NUMBER.fullmatch(value):
        return None
    seconds = int(value.partition(".")[0])
    if seconds > MAX_TIMESTAMP:
        return None
    return datetime.fromtimestamp(seconds, tz=UTC)


@dataclass
class _Reader:
    """One pass of the pull parser over one document."""

    source: str
    limits: Limits
    warnings: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    records: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    dropped_messages: int = 0
    first_dropped: dict[str, str] = field(default_factory=dict)

    def fail(self, reason: str) -> ReportError:
        return ReportError(self.source, reason)

    def read(self, data: bytes) -> Report:
        events = DefusedET.iterparse(
            io.BytesIO(data),
            events=("start", "end"),
            forbid_dtd=True,
            forbid_entities=True,
            forbid_external=True,
        )
        metadata: dict[str, Element] | None = None
        policy: dict[str, Element] | None = None
        version: str | None = None
        feedback: Element | None = None
        feedback_depth = 0
        depth = 0
        closed = False
        try:
            for event, element in events:
                if event == "start":
                    depth += 1
                    if depth > self.limits.max_element_depth:
                        raise self.fail(
                            f"elements nested deeper than {self.limits.max_element_depth} "
                            "(Limits.max_element_depth)"
                        )
                    if feedback is None:
                        if _local(element.tag) == "feedback":
                            feedback, feedback_depth = element, depth
                        elif depth >= 2:
                            raise self.fail(
                                "not a DMARC aggregate report: no <feedback> element "
                                f"(found <{_local(element.tag)}>)"
                            )
                    continue
                depth -= 1
                if feedback is None:
                    # The root closed before any <feedback> opened.
                    raise self.fail(
                        "not a DMARC aggregate report: no <feedback> element "
                        f"(root <{_local(element.tag)}>)"
                    )
                if element is feedback:
                    closed = True
                    break  # what follows (an unclosed wrapper, junk) is not the report's
                if depth != feedback_depth:
                    continue
                name = _local(element.tag)
                if name == "record":
                    self.records += 1
                    if self.records > self.limits.max_rows:
                        raise self.fail(
                            f"more than {self.limits.max_rows:,} records (Limits.max_rows)"
                        )
                    self._record(element)
                elif name == "report_metadata" and metadata is None:
                    metadata = _children(element)
                elif name == "policy_published" and policy is None:
                    policy = _children(element)
                elif name == "version" and version is None:
                    version = (element.text or "").strip() or None
                if name not in ("report_metadata", "policy_published"):
                    element.clear()
                # The tree keeps only what is still needed: no record stays in memory.
                del feedback[:]
        except defusedxml.DTDForbidden:
            raise self.fail("has a DTD (<!DOCTYPE>), which reports never need: refused") from None
        except defusedxml.EntitiesForbidden:
            raise self.fail(
                "declares XML entities (billion laughs, external entities): refused"
            ) from None
        except defusedxml.ExternalReferenceForbidden:
            raise self.fail("refers to an external resource: refused") from None
        except defusedxml.DefusedXmlException as exc:
            raise self.fail(f"forbidden XML construct: {exc}") from None
        if feedback is None:
            raise self.fail("not a DMARC aggregate report: no <feedback> element")
        if not closed:  # pragma: no cover - the parser reports an unclosed element first
            raise self.fail("not well-formed XML: <feedback> is not closed")
        namespace = _namespace(feedback.tag) if isinstance(feedback.tag, str) else None
        if version is None and namespace == NAMESPACE_2:
            version = "2.0"
        return self._report(metadata, policy, version)

    def _report(
        self,
        metadata: dict[str, Element] | None,
        policy: dict[str, Element] | None,
        version: str | None,
    ) -> Report:
        if metadata is None:
            raise self.fail("no <report_metadata>")
        if policy is None:
            raise self.fail("no <policy_published>")
        org_name = _text(metadata, "org_name") or ""
        if not org_name:
            email = _text(metadata, "email") or ""
            org_name = email.rpartition("@")[2].strip("<> ").lower()
        report_id = _text(metadata, "report_id")
        if not report_id:
            raise self.fail("no report_metadata/report_id")
        date_range = metadata.get("date_range")
        if date_range is None:
            raise self.fail("no report_metadata/date_range")
        times = _children(date_range)
        begin, end = _text(times, "begin"), _text(times, "end")
        begin_time, end_time = _timestamp(begin), _timestamp(end)
        if begin_time is None or end_time is None:
            raise self.fail(
                f"date_range begin {begin!r} / end {end!r}: not seconds since the epoch"
            )
        domain = _domain(_text(policy, "domain"))
        if not domain:
            raise self.fail("no policy_published/domain")
        if self.dropped:
            shown = "; ".join(
                f"{count} {problem} (first: {self.first_dropped[problem]})"
                for problem, count in sorted(self.dropped.items())
            )
            total = sum(self.dropped.values())
            self.warnings.append(
                f"{total} of {self.records} records left out ({self.dropped_messages} "
                f"messages): {shown}"
            )
        return Report(
            source=self.source,
            org_name=org_name,
            report_id=report_id,
            begin=begin_time,
            end=end_time,
            domain=domain,
            policy=_lower(policy, "p") or None,
            rows=tuple(self.rows),
            version=version,
            warnings=tuple(self.warnings),
        )

    def _drop(self, problem: str, example: str, count: int = 0) -> None:
        self.dropped[problem] += 1
        self.dropped_messages += count
        self.first_dropped.setdefault(problem, f"record {self.records}: {example}")

    def _record(self, record: Element) -> None:
        parts = _children(record)
        row = parts.get("row")
        if row is None:
            self._drop("without <row>", "no row")
            return
        fields = _children(row)
        count_text = _text(fields, "count")
        if count_text is None or not count_text.isdigit():
            self._drop("with an invalid count", repr(count_text))
            return
        count = int(count_text)
        address_text = _text(fields, "source_ip")
        try:
            address = ip_address(address_text or "")
        except ValueError:
            self._drop("with an invalid source_ip", repr(address_text), count)
            return
        evaluated_element = fields.get("policy_evaluated")
        evaluated = {} if evaluated_element is None else _children(evaluated_element)
        disposition = _lower(evaluated, "disposition")
        dkim_aligned = _lower(evaluated, "dkim")
        spf_aligned = _lower(evaluated, "spf")
        if disposition is None or dkim_aligned is None or spf_aligned is None:
            self._drop("without policy_evaluated disposition/dkim/spf", str(address), count)
            return
        identifiers_element = parts.get("identifiers")
        identifiers = {} if identifiers_element is None else _children(identifiers_element)
        header_from = _domain(_text(identifiers, "header_from"))
        if not header_from:
            self._drop("without identifiers/header_from", str(address), count)
            return
        spf: list[AuthResult] = []
        dkim: list[AuthResult] = []
        results = parts.get("auth_results")
        for entry in () if results is None else results:
            kind = _local(entry.tag)
            if kind not in ("spf", "dkim"):
                continue
            values = _children(entry)
            result = _lower(values, "result")
            if not result:
                self._drop_auth(kind, address)
                continue
            domain = _domain(_text(values, "domain")) or ""
            if kind == "spf":
                spf.append(AuthResult(domain, result, scope=_lower(values, "scope") or None))
            else:
                dkim.append(AuthResult(domain, result, selector=_text(values, "selector") or None))
        self.rows.append(
            Row(
                source_ip=address,
                count=count,
                disposition=disposition,
                dkim_aligned=dkim_aligned,
                spf_aligned=spf_aligned,
                header_from=header_from,
                envelope_from=_domain(_text(identifiers, "envelope_from")) or None,
                spf=tuple(spf),
                dkim=tuple(dkim),
            )
        )

    def _drop_auth(self, kind: str, address: object) -> None:
        note = f"an auth_results/{kind} without a result (record {self.records}, {address}) "
        note += "left out"
        if not any(w.startswith(f"an auth_results/{kind} without") for w in self.warnings):
            self.warnings.append(note)
