"""Structured logs for the daemon: JSON lines for machines, ``key=value`` text for people.

:func:`configure_logging` installs one handler on the root logger (so APScheduler's and
SQLAlchemy's records come out in the same format); :func:`log_run` writes the one record per
run per domain that dashboards and alerts read::

    {"time": "2024-05-01T12:00:00.123Z", "level": "INFO", "logger": "spfmanager.daemon",
     "message": "example.com: applied in 812.4 ms", "event": "run", "domain": "example.com",
     "outcome": "applied", "duration_ms": 812.4, "run_id": "..."}

Nothing in this module takes a secret, and the JSON formatter never fails on a field it
cannot serialise: such a value is written as its ``str()`` (``repr()`` if that fails too).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import logging
import math
import sys
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any, Final, Literal, TextIO

from spfmanager.daemon.metrics import OUTCOMES

__all__ = ["JSONFormatter", "TextFormatter", "configure_logging", "log_run"]

# The attributes every LogRecord has: anything else on a record came from ``extra=``.
_RECORD_ATTRS: Final = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None))
) | {"message", "asctime", "taskName"}
_CORE_KEYS: Final = ("time", "level", "logger", "message")
# How deep a nested extra is rendered before falling back to str().
_MAX_DEPTH: Final = 8
# Run outcomes -> the level of their line: a held change or an upstream outage wants
# attention, a failure is an error.
_RUN_LEVELS: Final[Mapping[str, int]] = {
    "applied": logging.INFO,
    "unchanged": logging.INFO,
    "skipped": logging.INFO,
    "held": logging.WARNING,
    "upstream-error": logging.WARNING,
    "failed": logging.ERROR,
}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _RECORD_ATTRS}


def _plain(value: object) -> str:
    try:
        return str(value)
    except Exception:
        try:
            return repr(value)
        except Exception:
            return f"<unprintable {type(value).__name__}>"


def _jsonable(value: object, depth: int = 0) -> Any:
    """``value`` as something :func:`json.dumps` writes as strict JSON (no NaN)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else _plain(value)
    if depth >= _MAX_DEPTH:
        return _plain(value)
    if isinstance(value, enum.Enum):
        return _jsonable(value.value, depth + 1)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "backslashreplace")
    if isinstance(value, Mapping):
        return {_plain(k): _jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v, depth + 1) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((_jsonable(v, depth + 1) for v in value), key=repr)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return _jsonable(fields, depth + 1)
    return _plain(value)


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # bad %-args: keep the template rather than lose the record
        return f"{_plain(record.msg)} (unformattable arguments: {_plain(record.args)})"


def _timestamp(record: logging.LogRecord) -> str:
    moment = dt.datetime.fromtimestamp(record.created, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JSONFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (UTC, ISO 8601), ``level``, ``logger``,
    ``message``, every ``extra`` field, and ``exception``/``stack`` when present.

    An extra field named like a core key is written as ``extra_<name>``.
    """

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": _message(record),
        }
        for key, value in _extras(record).items():
            data[f"extra_{key}" if key in _CORE_KEYS else key] = _jsonable(value)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            data["exception"] = record.exc_text
        if record.stack_info:
            data["stack"] = self.formatStack(record.stack_info)
        return json.dumps(data, ensure_ascii=False, allow_nan=False, default=_plain)


class TextFormatter(logging.Formatter):
    """``2024-05-01 12:00:00,123 INFO logger: message key=value ...`` for a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.message = _message(record)
        record.asctime = self.formatTime(record, self.datefmt)
        line = self.formatMessage(record)
        fields = " ".join(f"{k}={self._value(v)}" for k, v in _extras(record).items())
        if fields:
            line = f"{line} {fields}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        if record.stack_info:
            line = f"{line}\n{self.formatStack(record.stack_info)}"
        return line

    @staticmethod
    def _value(value: object) -> str:
        plain = _jsonable(value)
        text = plain if isinstance(plain, str) else json.dumps(plain, ensure_ascii=False)
        if not text or any(c.isspace() or c in '"=' for c in text):
            return json.dumps(text, ensure_ascii=False)
        return text


class _DaemonHandler(logging.StreamHandler[TextIO]):
    """The handler :func:`configure_logging` installs, so that a second call replaces it."""


def configure_logging(
    fmt: Literal["json", "text"],
    level: int | str = logging.INFO,
    *,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send every log record to ``stream`` (default: stderr) as JSON lines or text.

    ``level`` is a number or a name (``"info"``, ``"DEBUG"``) and becomes the root logger's
    level. Calling again replaces the handler an earlier call installed; handlers installed
    by anything else are left alone. Returns the handler. Raises :class:`ValueError` for an
    unknown format or level.
    """
    if fmt == "json":
        formatter: logging.Formatter = JSONFormatter()
    elif fmt == "text":
        formatter = TextFormatter()
    else:
        raise ValueError(f"unknown log format {fmt!r}: expected 'json' or 'text'")
    if isinstance(level, str):
        number = logging.getLevelNamesMapping().get(level.strip().upper())
        if number is None:
            names = "debug, info, warning, error, critical"
            raise ValueError(f"unknown log level {level!r}: expected one of {names}")
        level = number
    handler = _DaemonHandler(sys.stderr if stream is None else stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _DaemonHandler)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level)
    return handler


def log_run(
    logger: logging.Logger, domain: str, outcome: str, duration: float, **fields: Any
) -> None:
    """Write the record of one finished run of ``domain``: one line per run per domain.

    The record carries ``event="run"``, ``domain``, ``outcome`` (one of the metrics'
    outcomes), ``duration_ms`` and every keyword in ``fields`` (``run_id``, ``reason``,
    ``changes``...). Its level follows the outcome: INFO, WARNING for ``held`` and
    ``upstream-error``, ERROR for ``failed``. Raises :class:`ValueError` for an unknown
    outcome or a field that would overwrite a LogRecord attribute or these keys.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}: expected one of {', '.join(OUTCOMES)}")
    outcome = OUTCOMES[OUTCOMES.index(outcome)]
    clash = sorted(
        k for k in fields if k in _RECORD_ATTRS or k in {*_CORE_KEYS, "event", "duration_ms"}
    )
    if clash:
        raise ValueError(f"log_run fields {clash} would overwrite the record's own keys")
    duration_ms = round(duration * 1000, 1)
    extra = {"event": "run", "domain": domain, "outcome": outcome, "duration_ms": duration_ms}
    logger.log(
        _RUN_LEVELS[outcome],
        "%s: %s in %s ms",
        domain,
        outcome,
        duration_ms,
        extra={**extra, **fields},
    )
