"""The embedded default provider: records in a BIND-syntax zone file.

It manages TXT records, and the NS and A/AAAA records of a delegation below the apex (a
macro zone's NS and its glue, docs/macro.md); NS at the apex belongs to the zone's
operator and is refused. Reading uses dnspython's zone parser (which keeps glue occluded
by a delegation). Writing is line-oriented so that everything the adapter does not manage
survives byte for byte: only the lines of the changed record sets (name and type) are
replaced (in place; new ones are appended; NS targets absolute), the SOA serial is
bumped, and the result is parsed again before it atomically replaces the file.
``$INCLUDE`` is not supported.

A symlinked zone file is written through the link: the temporary is made beside the link's
final target and renamed over it, so the link stays a link. Writers of one zone file take
its lock (:meth:`ZoneFileProvider.exclusive`): an ``flock`` on ``.<name>.lock`` beside the
real file (never the zone file itself, whose inode every write replaces). The lock file is
never deleted (deleting it would let two writers lock different inodes). Under the lock no
other writer runs, so temporaries left by an interrupted write
(``.<name>.spfmanager-XXXXXXXX.tmp``) are stale and removed before writing. Older versions
named them ``.<name>.XXXXXXXX``, which a person's file may match too: those are only
reported, for a person to remove.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import ipaddress
import logging
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.NS
import dns.rdtypes.ANY.SOA
import dns.rdtypes.ANY.TXT
import dns.rdtypes.IN.A
import dns.rdtypes.IN.AAAA
import dns.ttl
import dns.zone
from pydantic import BaseModel, Field

from spfmanager.dns.txt import quote_txt
from spfmanager.errors import ProviderError
from spfmanager.files.atomic import write_atomic
from spfmanager.providers.base import Provider, ProviderOptions
from spfmanager.publish.changes import Change, Delete, RecordSet

log = logging.getLogger(__name__)

SERIAL_MODULUS = 2**32  # RFC 1982 serial number arithmetic
LOCK_POLL_SECONDS = 0.05
TEMP_TAG = ".spfmanager-"  # temporaries: .<name>.spfmanager-XXXXXXXX.tmp
TEMP_SUFFIX = ".tmp"
_TYPES = {
    "TXT": dns.rdatatype.TXT,
    "NS": dns.rdatatype.NS,
    "A": dns.rdatatype.A,
    "AAAA": dns.rdatatype.AAAA,
}
_DEFAULT_ZONE = """\
$TTL 3600
@\t3600\tIN\tSOA\t{ns} hostmaster.{zone}. ( {serial} 3600 900 1209600 300 )
@\t3600\tIN\tNS\t{ns}
"""


@dataclass(frozen=True, slots=True)
class _Token:
    line: int
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class _Entry:
    """One logical line (a directive or a record), spanning ``first``..``last`` in parentheses."""

    first: int
    last: int
    tokens: tuple[_Token, ...]
    owner_implicit: bool
    owner: dns.name.Name | None = None  # None for directives
    rdtype: dns.rdatatype.RdataType | None = None
    rdata_index: int = 0  # index in ``tokens`` of the first rdata field
    origin: dns.name.Name | None = None  # the $ORIGIN its relative names are under


def _tokenize(line: str, number: int, depth: int) -> tuple[list[_Token], int]:
    """Split one physical line into tokens, skipping comments; track parenthesis depth."""
    tokens: list[_Token] = []
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if c in " \t\r\n":
            i += 1
        elif c == ";":
            break
        elif c in "()":
            depth += 1 if c == "(" else -1
            i += 1
        else:
            start = i
            if c == '"':
                i += 1
                while i < n and line[i] != '"':
                    i += 2 if line[i] == "\\" else 1
                i += 1
            else:
                while i < n and line[i] not in ' \t\r\n;()"':
                    i += 2 if line[i] == "\\" else 1
            tokens.append(_Token(number, start, min(i, n), line[start:i]))
    return tokens, depth


def _record_type(tokens: Sequence[_Token], first: int) -> tuple[dns.rdatatype.RdataType, int]:
    """The type of a record whose TTL/class/type fields start at ``tokens[first]``."""
    for index in range(first, len(tokens)):
        text = tokens[index].text
        try:
            dns.ttl.from_text(text)
            continue
        except dns.exception.DNSException:
            pass
        try:
            dns.rdataclass.from_text(text)
            continue
        except dns.exception.DNSException:
            pass
        return dns.rdatatype.from_text(text), index + 1
    raise ValueError("record without a type")


def _scan(lines: Sequence[str], origin: dns.name.Name) -> list[_Entry]:
    """The directives and records of a zone file, with their owners resolved."""
    entries: list[_Entry] = []
    depth, start = 0, 0
    pending: list[_Token] = []
    owner: dns.name.Name | None = None
    for number, line in enumerate(lines):
        if depth == 0:
            start, pending = number, []
        tokens, depth = _tokenize(line, number, depth)
        pending.extend(tokens)
        if depth > 0 or not pending:
            continue
        implicit = lines[start][:1] in (" ", "\t")
        head = pending[0].text
        if not implicit and head.startswith("$"):
            if head.upper() == "$INCLUDE":
                raise ValueError("$INCLUDE is not supported")
            if head.upper() == "$ORIGIN" and len(pending) > 1:
                origin = dns.name.from_text(pending[1].text, origin=origin)
            entries.append(_Entry(start, number, tuple(pending), implicit))
            continue
        if not implicit:
            owner = dns.name.from_text(head, origin=origin)
        if owner is None:
            raise ValueError(f"line {start + 1}: record without an owner name")
        rdtype, rdata_index = _record_type(pending, 0 if implicit else 1)
        entries.append(
            _Entry(start, number, tuple(pending), implicit, owner, rdtype, rdata_index, origin)
        )
    return entries


def _next_serial(serial: int, today: datetime.date) -> int:
    """``serial`` + 1, or today's YYYYMMDD00 when the serial is date-based and older."""
    dated = int(today.strftime("%Y%m%d")) * 100
    if 1970010100 <= serial < dated:
        return dated
    return (serial + 1) % SERIAL_MODULUS


class ZoneFileOptions(ProviderOptions):
    """``providers.NAME`` of ``kind: zonefile``."""

    directory: str = Field(
        "zones", description="Directory of the zone files, relative to the config's directory"
    )
    filename: str | None = Field(
        None, description="The zone file's name in `directory`; default `ZONE.zone`"
    )
    nameserver: str = Field(
        "localhost.",
        description="NS of a zone file spfmanager creates (an out-of-zone placeholder keeps "
        "it loadable; replace it with the real servers when serving the file)",
    )


class ZoneFileProvider(Provider):
    """TXT records, and delegations' NS/A/AAAA, in ``<directory>/<zone>.zone`` (or
    ``filename``), created when missing."""

    name: ClassVar[str] = "zonefile"
    Options: ClassVar[type[BaseModel] | None] = ZoneFileOptions
    atomic_batches: ClassVar[bool] = True
    record_types: ClassVar[frozenset[str]] = frozenset(_TYPES)
    lock_timeout: ClassVar[float] = 60.0  # an apply outside exclusive() waits this long

    def __init__(
        self,
        zone: str,
        directory: str | os.PathLike[str] = ".",
        filename: str | None = None,
        nameserver: str = "localhost.",
    ) -> None:
        super().__init__(zone)
        self.path = Path(directory) / (filename or f"{self.zone}.zone")
        self.nameserver = nameserver
        self.origin = dns.name.from_text(self.zone)

    @property
    def target(self) -> Path:
        """The real file: ``path`` with every symlink resolved (it may not exist yet)."""
        return Path(os.path.realpath(self.path))

    @property
    def lock_path(self) -> Path:
        target = self.target
        return target.with_name(f".{target.name}.lock")

    def exclusive(self, timeout: float) -> contextlib.AbstractContextManager[bool]:
        """Hold the zone file's lock (``flock`` on :attr:`lock_path`), polling for up to
        ``timeout`` seconds; re-entrant for the holding thread, across instances."""
        return _hold(self.lock_path, timeout, self.target)

    def _list(self, names: set[str] | None) -> list[RecordSet]:
        return self._records("TXT")

    def _list_type(self, names: set[str], rtype: str) -> list[RecordSet]:
        return [rs for rs in self._records(rtype) if rs.name in names]

    def _records(self, rtype: str) -> list[RecordSet]:
        if not self.path.exists():
            return []
        return list(self._parse(self._read(), {rtype}).values())

    def _apply(self, changes: Sequence[Change]) -> None:
        with self.exclusive(self.lock_timeout):
            self._remove_stale_temporaries()
            self._apply_locked(changes)

    def _apply_locked(self, changes: Sequence[Change]) -> None:
        exists = self.path.exists()
        text = self._read() if exists else self._default_text()
        current = self._parse(text, self.record_types)
        desired: dict[_Key, RecordSet | None] = {}
        for change in changes:  # the last change to a record set decides its final state
            desired[change.name, change.rtype] = None if isinstance(change, Delete) else change.new
        if exists and all(_same(current.get(k), rs) for k, rs in desired.items()):
            log.info("zonefile %s: already up to date", self.path)
            return
        new_text = self._bump_serial(self._rewrite(text, desired, current))
        self._check(new_text, desired)
        self._write(new_text)
        log.info("zonefile %s: wrote %d record set change(s)", self.path, len(desired))

    def _read(self) -> str:
        """The file as it is: line endings untranslated."""
        try:
            return self.path.read_bytes().decode("ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise ProviderError(f"zonefile: {self.path}: cannot read: {exc}") from exc

    def _default_text(self) -> str:
        serial = int(datetime.date.today().strftime("%Y%m%d")) * 100
        # An out-of-zone placeholder name server keeps the new zone loadable (an in-zone
        # NS would need glue); replace it with the real servers when serving the file.
        return _DEFAULT_ZONE.format(ns=self.nameserver, zone=self.zone, serial=serial)

    def _load(self, text: str) -> dns.zone.Zone:
        try:
            return dns.zone.from_text(
                text, origin=self.origin, relativize=False, filename=str(self.path)
            )
        except (dns.exception.DNSException, ValueError) as exc:
            raise ProviderError(f"zonefile: {self.path}: cannot parse zone: {exc}") from exc

    def _parse(self, text: str, rtypes: Iterable[str]) -> dict[_Key, RecordSet]:
        """The record sets of types ``rtypes`` in ``text``, occluded glue included."""
        zone = self._load(text)
        found: dict[_Key, RecordSet] = {}
        for rtype in sorted(rtypes):
            for owner, rdataset in zone.iterate_rdatasets(_TYPES[rtype]):
                name = owner.to_text(omit_final_dot=True).lower()
                values = tuple(sorted(v for rd in rdataset if (v := _value(rd)) is not None))
                found[name, rtype] = RecordSet(name, values, rdataset.ttl, rtype)
        return found

    def _rewrite(
        self,
        text: str,
        desired: dict[_Key, RecordSet | None],
        current: dict[_Key, RecordSet],
    ) -> str:
        """``text`` (whose managed sets are ``current``) with the lines of the ``desired``
        record sets replaced, the rest kept."""
        lines = _lines(text)
        eol = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
        try:
            entries = {e.first: e for e in _scan(lines, self.origin)}
        except (dns.exception.DNSException, ValueError) as exc:
            raise ProviderError(f"zonefile: {self.path}: cannot edit zone: {exc}") from exc
        out: list[str] = []
        origin, last_owner = self.origin, None
        placed: set[_Key] = set()
        verbatim = _verbatim(entries.values(), desired, current)
        kept = {key: {v for k, v in verbatim.values() if k == key} for key in desired}

        def emit(key: _Key) -> None:
            nonlocal last_owner
            placed.add(key)
            rrset = desired[key]
            if rrset is None:
                return
            owner = dns.name.from_text(rrset.name)
            for value in rrset.values:
                if value in kept[key]:
                    continue  # its own line stays as it is, comment and all
                rdata = _rdata_text(rrset.rtype, value)
                out.append(
                    f"{_relative(owner, origin)}\t{rrset.ttl}\tIN\t{rrset.rtype}\t{rdata}{eol}"
                )
            last_owner = owner

        number = 0
        while number < len(lines):
            entry = entries.get(number)
            if entry is None:
                out.append(lines[number])
                number += 1
                continue
            block = lines[entry.first : entry.last + 1]
            number = entry.last + 1
            if entry.owner is None:  # a directive
                if entry.tokens[0].text.upper() == "$ORIGIN":
                    origin = dns.name.from_text(entry.tokens[1].text, origin=origin)
                out.extend(block)
                continue
            key = _key(entry)
            if key is not None and key in desired:
                if key not in placed:
                    emit(key)
                if entry.first in verbatim:
                    if entry.owner_implicit and entry.owner != last_owner:
                        block[0] = _relative(entry.owner, origin) + block[0]
                    last_owner = entry.owner
                    out.extend(block)
                continue
            if entry.owner_implicit and entry.owner != last_owner:
                # the line used to inherit an owner we removed: name it explicitly
                block[0] = _relative(entry.owner, origin) + block[0]
            last_owner = entry.owner
            out.extend(block)
        if out and not out[-1].endswith("\n"):
            out[-1] += eol
        for key in desired:
            if key not in placed:
                emit(key)
        return "".join(out)

    def _bump_serial(self, text: str) -> str:
        lines = _lines(text)
        for entry in _scan(lines, self.origin):
            if entry.rdtype == dns.rdatatype.SOA and entry.owner == self.origin:
                token = entry.tokens[entry.rdata_index + 2]
                serial = _next_serial(int(token.text), datetime.date.today())
                line = lines[token.line]
                lines[token.line] = line[: token.start] + str(serial) + line[token.end :]
                return "".join(lines)
        raise ProviderError(f"zonefile: {self.path}: no SOA record at {self.zone}")

    def _check(self, text: str, desired: dict[_Key, RecordSet | None]) -> None:
        """Refuse to write a file that does not parse or does not hold the desired state."""
        result = self._parse(text, self.record_types)
        for (name, rtype), rrset in desired.items():
            if not _same(result.get((name, rtype)), rrset):
                raise ProviderError(
                    f"zonefile: {self.path}: {name}: rewritten zone does not hold the new "
                    f"{rtype} records (unsupported zone file layout?); file left unchanged"
                )

    def _write(self, text: str) -> None:
        """Replace the real file (through any symlink) atomically: temporary, fsync, rename."""
        target = self.target
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(
            target, text, encoding="ascii", prefix=f".{target.name}{TEMP_TAG}", suffix=TEMP_SUFFIX
        )

    def _remove_stale_temporaries(self) -> None:
        """Delete temporaries of this zone file left by interrupted writes (call under the
        lock: then no other writer's temporary can exist); report older versions' ones."""
        target = self.target
        prefix = re.escape(f".{target.name}")
        ours = re.compile(prefix + re.escape(TEMP_TAG) + r"[a-z0-9_]{8}" + re.escape(TEMP_SUFFIX))
        legacy = re.compile(prefix + r"\.[a-z0-9_]{8}")  # tempfile.mkstemp's random suffix
        try:
            entries = [e for e in os.scandir(target.parent) if e.is_file(follow_symlinks=False)]
        except FileNotFoundError:
            return
        for entry in entries:
            if ours.fullmatch(entry.name):
                log.warning("zonefile %s: removing %s (an interrupted write)", target, entry.name)
                Path(entry.path).unlink(missing_ok=True)
            elif legacy.fullmatch(entry.name):
                log.warning(
                    "zonefile %s: %s looks like a temporary left by an older spfmanager; "
                    "not removed (remove it if it is)",
                    target,
                    entry.name,
                )


@dataclass(slots=True)
class _Held:
    fd: int
    owner: int  # threading.get_ident() of the holder
    depth: int


_HELD: dict[Path, _Held] = {}  # lock files this process holds
_HELD_GUARD = threading.Lock()


def _forget_after_fork() -> None:
    """A forked child does not hold its parent's locks: drop its copies of the descriptors
    (the parent keeps the lock) so the child waits like any other process."""
    global _HELD_GUARD  # noqa: PLW0603  (the parent's guard may have been held at fork)
    _HELD_GUARD = threading.Lock()
    for held in _HELD.values():
        os.close(held.fd)
    _HELD.clear()


os.register_at_fork(after_in_child=_forget_after_fork)


@contextlib.contextmanager
def _hold(lock_path: Path, timeout: float, target: Path) -> Iterator[bool]:
    """``flock`` ``lock_path`` for the block: re-entrant for the thread holding it; other
    threads and processes wait, polling, for up to ``timeout`` seconds."""
    _acquire(lock_path, timeout, target)
    try:
        yield True
    finally:
        _release(lock_path)


def _acquire(lock_path: Path, timeout: float, target: Path) -> None:
    me = threading.get_ident()
    deadline = time.monotonic() + timeout
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProviderError(
            f"zonefile: {target}: cannot create lock file {lock_path}: {exc}"
        ) from exc
    while True:
        with _HELD_GUARD:
            held = _HELD.get(lock_path)
            if held is not None and held.owner == me:
                held.depth += 1
                return
            if held is None and _try_flock(lock_path, target, me):
                return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ProviderError(
                f"zonefile: {target}: zone file is locked by another writer ({lock_path}); "
                f"gave up after {timeout:g}s"
            )
        time.sleep(min(LOCK_POLL_SECONDS, remaining))


def _try_flock(lock_path: Path, target: Path, me: int) -> bool:
    """Lock ``lock_path`` without waiting; True (and registered in ``_HELD``) when locked."""
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise ProviderError(
            f"zonefile: {target}: cannot open lock file {lock_path}: {exc}"
        ) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    except OSError as exc:
        os.close(fd)
        raise ProviderError(f"zonefile: {target}: cannot lock {lock_path}: {exc}") from exc
    _HELD[lock_path] = _Held(fd, me, 1)
    return True


def _release(lock_path: Path) -> None:
    with _HELD_GUARD:
        held = _HELD[lock_path]
        held.depth -= 1
        if held.depth == 0:
            del _HELD[lock_path]
            os.close(held.fd)  # closing the only descriptor releases the flock


_Key = tuple[str, str]  # a record set's (name, type)


def _key(entry: _Entry) -> _Key | None:
    """The (name, type) of a record line; None for a directive."""
    if entry.owner is None or entry.rdtype is None:
        return None
    return entry.owner.to_text(omit_final_dot=True).lower(), dns.rdatatype.to_text(entry.rdtype)


def _verbatim(
    entries: Iterable[_Entry],
    desired: dict[_Key, RecordSet | None],
    current: dict[_Key, RecordSet],
) -> dict[int, tuple[_Key, str]]:
    """The lines of ``desired`` record sets that stay as written (first line -> key, value):
    a value the set keeps, while the set (``current``) keeps its TTL. Only spfmanager's
    values are rewritten; a verification string keeps its line, comment and all."""
    verbatim: dict[int, tuple[_Key, str]] = {}
    left: dict[_Key, list[str]] = {}
    for entry in sorted(entries, key=lambda e: e.first):
        key = _key(entry)
        if key is None:
            continue
        wanted, have = desired.get(key), current.get(key)
        if wanted is None or have is None or have.ttl != wanted.ttl:
            continue
        value = _line_value(entry, dns.rdatatype.from_text(key[1]))
        remaining = left.setdefault(key, list(wanted.values))
        if value is not None and value in remaining:
            remaining.remove(value)
            verbatim[entry.first] = (key, value)
    return verbatim


def _line_value(entry: _Entry, rdtype: dns.rdatatype.RdataType) -> str | None:
    """The value of a record line of type ``rdtype``, as :meth:`ZoneFileProvider._parse`
    reads it (None when dnspython cannot read it alone: it is rewritten)."""
    rdata = " ".join(t.text for t in entry.tokens[entry.rdata_index :])
    try:
        parsed = dns.rdata.from_text(dns.rdataclass.IN, rdtype, rdata, origin=entry.origin)
    except (dns.exception.DNSException, ValueError):
        return None
    return _value(parsed)


def _value(rdata: dns.rdata.Rdata) -> str | None:
    """A managed record's value in the change model's form (None for other types)."""
    if isinstance(rdata, dns.rdtypes.ANY.TXT.TXT):
        return _joined(rdata)
    if isinstance(rdata, dns.rdtypes.ANY.NS.NS):
        return rdata.target.to_text(omit_final_dot=True).lower()
    if isinstance(rdata, dns.rdtypes.IN.A.A | dns.rdtypes.IN.AAAA.AAAA):
        return str(ipaddress.ip_address(rdata.address))
    return None


def _rdata_text(rtype: str, value: str) -> str:
    """The presentation form of a value: TXT quoted (and split), an NS target absolute."""
    if rtype == "TXT":
        return quote_txt(value)
    if rtype == "NS":
        return value + "."
    return value


def _joined(rdata: dns.rdtypes.ANY.TXT.TXT) -> str:
    """A TXT record's value: its strings joined (RFC 7208 3.3), as the file's text."""
    return b"".join(rdata.strings).decode("ascii", "replace")


def _lines(text: str) -> list[str]:
    """Physical lines with their endings; unlike str.splitlines, split only at line feeds."""
    return [line for line in re.split(r"(?<=\n)", text) if line]


def _relative(name: dns.name.Name, origin: dns.name.Name) -> str:
    """``name`` as written under ``$ORIGIN origin``: ``@``, relative, or absolute."""
    if name == origin:
        return "@"
    return name.relativize(origin).to_text()


def _same(current: RecordSet | None, wanted: RecordSet | None) -> bool:
    if current is None or wanted is None:
        return current is None and wanted is None
    return sorted(current.values) == sorted(wanted.values) and current.ttl == wanted.ttl
