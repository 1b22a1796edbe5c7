"""The --html page: self-contained, escaped, and drawn by a real headless Chromium."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from spfmanager.catalog import load_catalog
from spfmanager.config import parse_config
from spfmanager.discover.analyze import aggregate, attribute
from spfmanager.discover.html import COLOURS, render_html
from spfmanager.discover.model import Skipped
from spfmanager.discover.suggest import suggest
from spfmanager.dns.snapshot import SnapshotResolver
from tests.discover.test_analyze import (
    CONFIG_M365,
    SENDGRID_IP,
    UNKNOWN_IP,
    report,
    row,
    synthetic_reports,
)

HOSTILE = '</script><script>alert(1)</script><img src=x onerror=alert(2)> "&'


@pytest.fixture
def page(resolver: SnapshotResolver) -> str:
    config = parse_config(CONFIG_M365, "spfmanager.yaml")
    catalog = load_catalog()
    reports = [
        *synthetic_reports(),
        report(row(UNKNOWN_IP, 3, spf="fail"), day=3, org=HOSTILE),
        report(row(SENDGRID_IP, 5, spf="fail"), day=4),
    ]
    analysis = attribute(aggregate(reports), catalog, resolver, config=config)
    found = suggest(analysis, catalog, resolver, config=config)
    return render_html(analysis, found, reports=4, skipped=[Skipped("bad<file>.xml", HOSTILE)])


def test_report_content_is_escaped(page: str) -> None:
    text = page
    assert "alert(1)</script>" not in text
    assert "<img src=x" not in text
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in text  # in the tables, escaped
    # In the embedded JSON only \\u003c escapes, never a '<' that could end the script.
    embedded = re.search(
        r'<script type="application/json" id="chart-data">(.*?)</script>', text, re.S
    )
    assert embedded is not None and "<" not in embedded.group(1)


def test_the_page_loads_nothing(page: str) -> None:
    text = page
    assert not re.search(
        r"""(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//""", text, re.I
    )
    assert "@import" not in text and "url(" not in text
    assert "<link" not in text and "<iframe" not in text
    assert "default-src 'none'" in text  # and the CSP forbids loading anything anyway


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    pytest.skip("no Chromium (scripts/install-test-deps installs it)")


def _run(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            _chromium(),
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            f"--user-data-dir={tmp_path / 'profile'}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_chromium_runs_the_script_and_draws_the_chart(page: str, tmp_path: Path) -> None:
    html = tmp_path / "discover.html"
    html.write_text(page, encoding="utf-8")
    done = _run("--dump-dom", html.as_uri(), tmp_path=tmp_path)
    dom = done.stdout
    assert '<svg viewBox="0 0 960 360" id="volume-chart"' in dom, done.stderr[-2000:]
    assert dom.count('class="bar bar-pass"') == 2  # Microsoft 365, days 1 and 2
    assert 'class="bar bar-fail"' in dom
    assert "<option" in dom and SENDGRID_IP in dom
    assert "alert(" not in dom.split('id="chart-data"')[0].split("<body>")[0]


def test_the_screenshot_shows_the_chart_in_pass_and_fail_colours(page: str, tmp_path: Path) -> None:
    html = tmp_path / "discover.html"
    html.write_text(page, encoding="utf-8")
    shot = tmp_path / "out.png"
    done = _run(f"--screenshot={shot}", "--window-size=1200,900", html.as_uri(), tmp_path=tmp_path)
    assert shot.exists(), done.stderr[-2000:]
    width, height, pixels = _read_png(shot.read_bytes())
    assert (width, height) == (1200, 900)
    colours = set(pixels)
    assert len(colours) > 20  # text, tables, bars: not a blank page
    for result in ("pass", "fail"):
        wanted = _rgb(COLOURS[result])
        assert any(_close(c, wanted) for c in colours), f"no {result} colour {wanted}"


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    value = int(hex_colour.removeprefix("#"), 16)
    return (value >> 16, (value >> 8) & 255, value & 255)


def _close(a: tuple[int, int, int], b: tuple[int, int, int]) -> bool:
    return all(abs(x - y) <= 6 for x, y in zip(a, b, strict=True))


def _read_png(data: bytes) -> tuple[int, int, list[tuple[int, int, int]]]:
    """The RGB pixels of an 8-bit RGB or RGBA PNG (what Chromium writes), with zlib."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks, header = 8, b"", b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks += body
        position += 12 + length
    width, height, depth, colour_type = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour_type in (2, 6), (depth, colour_type)
    channels = 3 if colour_type == 2 else 4
    raw = zlib.decompress(chunks)
    stride = width * channels
    previous = bytearray(stride)
    pixels: list[tuple[int, int, int]] = []
    offset = 0
    for _ in range(height):
        kind = raw[offset]
        line = bytearray(raw[offset + 1 : offset + 1 + stride])
        offset += 1 + stride
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + predictor) & 255
        pixels.extend((line[i], line[i + 1], line[i + 2]) for i in range(0, stride, channels))
        previous = line
    return width, height, pixels
