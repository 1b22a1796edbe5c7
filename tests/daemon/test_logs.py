"""Structured daemon logs: JSON lines that parse and carry their fields, or key=value text."""

from __future__ import annotations

import datetime as dt
import enum
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from spfmanager.daemon.logs import JSONFormatter, TextFormatter, configure_logging, log_run

LOG = logging.getLogger("spfmanager.daemon.test")


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


@pytest.fixture
def stream() -> io.StringIO:
    return io.StringIO()


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_run_is_one_json_line_with_its_fields(stream: io.StringIO) -> None:
    configure_logging("json", "info", stream=stream)
    log_run(LOG, "example.com", "applied", 0.8124, run_id="r-1", changes=2)
    (line,) = lines(stream)
    assert line["level"] == "INFO"
    assert line["logger"] == "spfmanager.daemon.test"
    assert line["message"] == "example.com: applied in 812.4 ms"
    assert {k: line[k] for k in ("event", "domain", "outcome", "duration_ms", "run_id")} == {
        "event": "run",
        "domain": "example.com",
        "outcome": "applied",
        "duration_ms": 812.4,
        "run_id": "r-1",
    }
    assert line["changes"] == 2
    stamp = dt.datetime.fromisoformat(line["time"])
    assert stamp.utcoffset() == dt.timedelta(0)
    assert abs((dt.datetime.now(dt.UTC) - stamp).total_seconds()) < 60


@pytest.mark.parametrize(
    ("outcome", "level"),
    [
        ("applied", "INFO"),
        ("unchanged", "INFO"),
        ("skipped", "INFO"),
        ("held", "WARNING"),
        ("upstream-error", "WARNING"),
        ("failed", "ERROR"),
    ],
)
def test_the_level_follows_the_outcome(stream: io.StringIO, outcome: str, level: str) -> None:
    configure_logging("json", logging.DEBUG, stream=stream)
    log_run(LOG, "example.com", outcome, 0.0)
    (line,) = lines(stream)
    assert (line["outcome"], line["level"]) == (outcome, level)


def test_the_level_filters_records(stream: io.StringIO) -> None:
    configure_logging("json", "warning", stream=stream)
    log_run(LOG, "example.com", "unchanged", 0.1)
    log_run(LOG, "example.com", "held", 0.1)
    assert [line["outcome"] for line in lines(stream)] == ["held"]


class Color(enum.Enum):
    RED = "red"


@dataclass
class Point:
    x: int
    y: float


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no")

    def __repr__(self) -> str:
        raise RuntimeError("no")


def test_extras_that_json_cannot_encode_still_give_a_valid_line(stream: io.StringIO) -> None:
    configure_logging("json", "info", stream=stream)
    loop: list[object] = []
    loop.append(loop)
    LOG.info(
        "odd fields",
        extra={
            "when": dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC),
            "took": dt.timedelta(seconds=1.5),
            "path": Path("/etc/spfmanager.yaml"),
            "names": {"b", "a"},
            "color": Color.RED,
            "point": Point(1, float("inf")),
            "raw": b"\xffok",
            "nan": float("nan"),
            "nested": {1: (2, 3)},
            "loop": loop,
            "thing": object(),
            "unprintable": Unprintable(),
        },
    )
    (line,) = lines(stream)  # json.loads is strict enough: NaN would be accepted, so check
    assert "NaN" not in stream.getvalue() and "Infinity" not in stream.getvalue()
    assert line["when"] == "2024-05-01T12:00:00+00:00"
    assert line["took"] == 1.5
    assert line["path"] == "/etc/spfmanager.yaml"
    assert line["names"] == ["a", "b"]
    assert line["color"] == "red"
    assert line["point"] == {"x": 1, "y": "inf"}
    assert line["raw"] == "\\xffok"
    assert line["nan"] == "nan"
    assert line["nested"] == {"1": [2, 3]}
    assert isinstance(line["loop"], list)
    assert line["thing"].startswith("<object object")
    assert line["unprintable"] == "<unprintable Unprintable>"


def test_a_field_named_like_a_core_key_does_not_replace_it(stream: io.StringIO) -> None:
    configure_logging("json", "info", stream=stream)
    LOG.info("hello", extra={"time": "yesterday", "level": "x", "logger": "y"})
    (line,) = lines(stream)
    assert line["message"] == "hello"
    assert line["level"] == "INFO"
    assert line["logger"] == LOG.name
    assert (line["extra_time"], line["extra_level"], line["extra_logger"]) == (
        "yesterday",
        "x",
        "y",
    )


def test_exceptions_and_bad_arguments_are_kept(stream: io.StringIO) -> None:
    configure_logging("json", "info", stream=stream)
    try:
        raise ZeroDivisionError("division by zero")
    except ZeroDivisionError:
        LOG.exception("run crashed", extra={"domain": "example.com"})
    (crashed,) = lines(stream)
    assert crashed["level"] == "ERROR"
    assert crashed["domain"] == "example.com"
    assert "ZeroDivisionError: division by zero" in crashed["exception"]
    # Formatted directly: pytest's own capture handler would raise on this record.
    record = LOG.makeRecord(LOG.name, logging.INFO, __file__, 1, "%d domains", ("many",), None)
    for formatter in (JSONFormatter(), TextFormatter()):
        text = formatter.format(record)
        assert "%d domains (unformattable arguments: ('many',))" in text
    assert json.loads(JSONFormatter().format(record))["message"].startswith("%d domains")


def test_text_format_is_one_human_line_with_the_fields(stream: io.StringIO) -> None:
    configure_logging("text", "info", stream=stream)
    log_run(LOG, "example.com", "held", 0.05, reason="lost 80 % of mailchimp", run_id="r-2")
    (line,) = stream.getvalue().splitlines()
    assert " WARNING spfmanager.daemon.test: example.com: held in 50.0 ms " in line
    assert "event=run domain=example.com outcome=held duration_ms=50.0" in line
    assert 'reason="lost 80 % of mailchimp" run_id=r-2' in line


def test_configuring_again_replaces_its_own_handler_only(stream: io.StringIO) -> None:
    other = logging.StreamHandler(io.StringIO())
    root = logging.getLogger()
    root.addHandler(other)
    first = configure_logging("text", "info", stream=io.StringIO())
    second = configure_logging("json", "info", stream=stream)
    assert first not in root.handlers
    assert second in root.handlers
    assert other in root.handlers
    LOG.info("once")
    assert [line["message"] for line in lines(stream)] == ["once"]


@pytest.mark.parametrize(
    ("fmt", "level", "message"),
    [
        ("xml", "info", "unknown log format 'xml'"),
        ("json", "loud", "unknown log level 'loud'"),
    ],
)
def test_unknown_formats_and_levels_are_refused(fmt: Any, level: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        configure_logging(fmt, level, stream=io.StringIO())


def test_log_run_refuses_an_unknown_outcome_or_a_clashing_field() -> None:
    with pytest.raises(ValueError, match="unknown outcome 'ok'"):
        log_run(LOG, "example.com", "ok", 0.1)
    with pytest.raises(ValueError, match=r"\['duration_ms', 'msg'\]"):
        log_run(LOG, "example.com", "applied", 0.1, msg="x", duration_ms=3)
