"""Macro mode as plain DNS TXT records with wildcards (RFC 4592), for any authoritative server.

The same subzones rbldnsd serves as tries (:mod:`spfmanager.macro.zone`) become ordinary
records, so PowerDNS, BIND or a provider's zone answers per client with longest-prefix
semantics. Under ``<subzone>.<zone>`` the labels are the client's octets (IPv4) or nibbles
(IPv6), most significant nearest the subzone, as ``%{ir}`` names them:

* an entry of prefix ``p`` becomes the aligned blocks at depth ``D = ceil(p / w)`` (``w``
  = 8 bits per octet, 4 per nibble), ``2 ** (D * w - p)`` of them: a block at full depth
  (4 octets, 32 nibbles) is an exact name, any other the wildcard ``*.<block node>``
  (``192.0.2.0/25`` is the 128 names ``0.2.0.192`` to ``127.2.0.192``; ``/17`` is 128
  wildcards ``*.<c>.<b>.<a>``);
* ``*.<subzone>.<zone>`` answers the subzone's default (0/0, ::/0);
* **every** proper ancestor node of a generated name, down from the subzone root, carries
  ``*.<node>`` with the default answer. RFC 4592 synthesizes only from the wildcard at the
  *closest encloser* (the deepest existing ancestor of the query name): an ancestor that
  exists only because a record lies beneath it (an empty non-terminal) and has no
  wildcard of its own answers NXDOMAIN for every other name below it, instead of the
  default that a wildcard further up would have given. ``1.2.3.5/32`` fail inside the
  default pass needs ``*.3.2.1``, ``*.2.1``, ``*.1`` besides the root's wildcard, or
  1.2.3.6 gets NXDOMAIN.

Those ancestor wildcards never contradict an entry: entries are disjoint, and an entry's
blocks partition it (``p <= D * w``), so a node above a generated name cannot lie inside
another entry's block (that block would then hold both entries' addresses), and the
addresses synthesized from ``*.<node>`` (those under no deeper existing node) get the
default, as the longest matching prefix gives them.

The trade-off against rbldnsd: one record per block rather than one line per CIDR, and
ancestor wildcards on top. A ``/17`` costs 128 records, a ``/25`` 128 exact names, an
IPv6 prefix off a nibble boundary up to 8; each deep entry adds up to 3 (IPv4) or 31
(IPv6) ancestor wildcards, shared with its neighbours. In exchange any server and any
provider that takes wildcard TXT records can serve macro mode, with TCP, DNSSEC and
secondaries included.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from ipaddress import IPv4Address, IPv6Address

from spfmanager.dns.base import Answer, Resolver, RRType, TXTRecord, in_zone, normalize_name
from spfmanager.errors import MacroError

from .zone import MAX_ANSWER, MacroRecord, Subzone, all_subzones, answer_text

WILDCARD = "*"  # RFC 4592 2.1.1: the asterisk label
_WIDTH = {4: 8, 6: 4}  # bits per label: an octet, a nibble
_DEPTH = {4: 4, 6: 32}  # labels of a full address
_Path = tuple[int, ...]  # label values from the subzone root down


def render_records(records: Sequence[MacroRecord], zone: str) -> dict[str, str]:
    """Owner name (lower-case FQDN, no trailing dot, maybe ``*.``-prefixed) -> the one TXT
    text at that name, serving every record's subzones under ``zone``.

    MacroError for two subzones of one name, or a record under another zone.
    """
    zone = normalize_name(zone)
    out: dict[str, str] = {}
    for _, sub in all_subzones(records, zone):
        for name, text in _subzone_records(sub, zone).items():
            if out.setdefault(name, text) != text:
                raise MacroError(f"{name}: two subzones give it different answers")
    return out


def _subzone_records(sub: Subzone, zone: str) -> dict[str, str]:
    width, depth = _WIDTH[sub.version], _DEPTH[sub.version]
    blocks: dict[_Path, str] = {}
    for entry in sub.entries:
        text = answer_text(entry.answer)
        level = -(-entry.network.prefixlen // width)  # ceil(p / w)
        for block in entry.network.subnets(new_prefix=level * width):
            path = _path(int(block.network_address), level, sub.version)
            assert path not in blocks, f"{sub.name}: entries overlap at {block}"
            blocks[path] = text
    default = answer_text(sub.default)
    wildcards = {path: text for path, text in blocks.items() if len(path) < depth}
    exact = {path: text for path, text in blocks.items() if len(path) == depth}
    fill: dict[_Path, str] = {}
    if () not in wildcards:  # the root: every address no entry holds (a /0 entry: all)
        fill[()] = default
    for path in blocks:
        for k in range(len(path)):  # every proper ancestor of the generated owner name
            # Disjoint entries: no entry's block holds a node above another's (docstring).
            assert path[:k] not in wildcards, f"{sub.name}: an entry holds a node above another"
            fill[path[:k]] = default
    root = f"{sub.name}.{zone}"
    out: dict[str, str] = {}
    for path, text in (*wildcards.items(), *fill.items()):
        out[_owner(f"{WILDCARD}.", path, root, sub.version)] = text
    for path, text in exact.items():
        out[_owner("", path, root, sub.version)] = text
    for text in out.values():
        assert len(text.encode("ascii")) <= MAX_ANSWER  # one character-string, one answer
    return out


def _path(address: int, level: int, version: int) -> _Path:
    width, depth = _WIDTH[version], _DEPTH[version]
    mask = (1 << width) - 1
    return tuple((address >> (width * (depth - 1 - i))) & mask for i in range(level))


def _owner(prefix: str, path: _Path, root: str, version: int) -> str:
    form = "{}" if version == 4 else "{:x}"
    labels = [form.format(v) for v in reversed(path)]
    return prefix + ".".join([*labels, root])


def answer_edges(
    records: Mapping[str, str], subzone: str, version: int, zone: str
) -> Iterator[IPv4Address | IPv6Address]:
    """Both ends of every address run one record of ``<subzone>.<zone>`` answers.

    Under each node the records make exist (the root included), its wildcard answers the
    runs of child labels that do not exist; a full-depth node answers its own address.
    With the intent's edges and their neighbours, these make the proof exhaustive: every
    interval on which both the intent and the answering record are constant has a probed
    end. ``*`` labels and non-address labels are skipped.
    """
    root = f"{normalize_name(subzone)}.{normalize_name(zone)}"
    width, depth = _WIDTH[version], _DEPTH[version]
    children: dict[_Path, set[int]] = {(): set()}
    for owner in records:
        name = normalize_name(owner)
        if not name.endswith(f".{root}"):
            continue
        labels = name[: -len(root) - 1].split(".")
        if labels[0] == WILDCARD:
            labels = labels[1:]
        path = _parse(list(reversed(labels)), version)
        if path is None or len(path) > depth:
            continue
        for k in range(len(path)):
            children.setdefault(path[:k], set()).add(path[k])
        children.setdefault(path, set())
    address = IPv4Address if version == 4 else IPv6Address
    for path, below in children.items():
        base = 0
        for label in path:
            base = (base << width) | label
        if len(path) == depth:
            yield address(base)
            continue
        span = 1 << (width * (depth - len(path) - 1))  # addresses under one child label
        first = None
        for label in range(1 << width):
            if label not in below and first is None:
                first = label
            if first is not None and (label + 1 in below or label + 1 == 1 << width):
                yield address(((base << width) | first) * span)
                yield address(((base << width) | label) * span + span - 1)
                first = None


def _parse(labels: list[str], version: int) -> _Path | None:
    out = []
    for label in labels:
        if version == 4:
            if not label.isdigit() or int(label) > 255 or (len(label) > 1 and label[0] == "0"):
                return None
            out.append(int(label))
        else:
            if len(label) != 1 or label not in "0123456789abcdef":
                return None
            out.append(int(label, 16))
    return tuple(out)


class RecordsResolver:
    """Answers the macro zone from owner name -> TXT text records with RFC 4592 semantics,
    other names from ``base``.

    An exact owner answers its TXT (NODATA for other types). Otherwise the closest encloser
    is the deepest existing ancestor (a name exists when it or a descendant owns a record:
    empty non-terminals exist, RFC 4592 2.2.2); ``*.<closest encloser>`` answers when it
    exists, else NXDOMAIN. An existing name without a record (an empty non-terminal, the
    zone apex) is NODATA. ``queries`` counts the macro zone's queries.
    """

    def __init__(self, base: Resolver, records: Mapping[str, str], zone: str) -> None:
        self.base = base
        self.zone = normalize_name(zone)
        self.records = {normalize_name(n): t for n, t in records.items()}
        self.queries = 0
        self.existing = {self.zone}
        for owner in self.records:
            if not in_zone(owner, self.zone):
                raise MacroError(f"record {owner} is not under the macro zone {self.zone}")
            name = owner
            while name not in self.existing:  # the owner and its ancestors exist
                self.existing.add(name)
                name = name.split(".", 1)[1]

    def query(self, name: str, rrtype: RRType) -> Answer:
        key = normalize_name(name)
        if not in_zone(key, self.zone):
            return self.base.query(name, rrtype)
        self.queries += 1
        if key in self.existing:
            return self._answer(name, rrtype, self.records.get(key))
        encloser = key.split(".", 1)[1]
        while encloser not in self.existing:  # ends at the zone apex, which exists
            encloser = encloser.split(".", 1)[1]
        source = f"{WILDCARD}.{encloser}"
        if source not in self.existing:
            return Answer(name, rrtype, nxdomain=True)
        return self._answer(name, rrtype, self.records.get(source))

    @staticmethod
    def _answer(name: str, rrtype: RRType, text: str | None) -> Answer:
        if text is None or rrtype is not RRType.TXT:
            return Answer(name, rrtype)
        data = text.encode("ascii")
        strings = tuple(data[i : i + MAX_ANSWER] for i in range(0, len(data), MAX_ANSWER))
        return Answer(name, rrtype, (TXTRecord(strings or (b"",)),))
