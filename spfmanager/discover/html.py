"""``discover --html FILE``: one self-contained page of the analysis.

The page loads nothing: CSS and the chart's script are inline, the chart (messages per day,
stacked by SPF result, for every source or one chosen) is an SVG the script draws from the
data embedded in the page. Report content is hostile input (reporter names, domains), so
Jinja2 autoescaping is on, and the embedded JSON has ``<``, ``>`` and ``&`` escaped, so
nothing in it can close its ``<script>`` element.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from spfmanager.discover.analyze import Analysis, Attributed, Status
from spfmanager.discover.model import Skipped
from spfmanager.discover.suggest import Suggestions

# Colours of the SPF results in the chart (and the legend): pass green, fail red.
COLOURS = {
    "pass": "#2e9d4f",
    "fail": "#d1342f",
    "softfail": "#f0a020",
    "neutral": "#8a8f98",
    "none": "#b9bec6",
    "temperror": "#7b3fb5",
    "permerror": "#4a2380",
}
OTHER_COLOUR = "#5b6b7f"
CHART_SOURCES = 50  # sources one can pick in the chart (the others count in "all")


def render_html(
    analysis: Analysis,
    suggestions: Suggestions,
    *,
    reports: int,
    skipped: Sequence[Skipped] = (),
    title: str = "Who sends as you",
) -> str:
    """The page, as text."""
    from jinja2 import Environment, PackageLoader, StrictUndefined  # noqa: PLC0415
    from markupsafe import Markup  # noqa: PLC0415

    env = Environment(
        loader=PackageLoader("spfmanager", "templates"),
        undefined=StrictUndefined,
        autoescape=True,  # report content is hostile input
        trim_blocks=True,
        lstrip_blocks=True,
    )
    chart = _chart_data(analysis)
    embedded = (
        json.dumps(chart, sort_keys=True)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )
    return env.get_template("discover.html.j2").render(
        title=title,
        reports=reports,
        skipped=list(skipped),
        messages=sum(s.stats.messages for s in analysis.sources),
        authorized=[_row(s) for s in analysis.with_status(Status.AUTHORIZED)],
        failing=[_row(s) for s in analysis.with_status(Status.FAILING)],
        unknown=[_row(s) for s in analysis.with_status(Status.UNKNOWN)],
        suggestions=[e.data for e in suggestions.edits],
        notes=[*analysis.notes, *suggestions.notes],
        colours=COLOURS,
        chart_json=Markup(embedded),  # escaped above: no "<" can end the script
    )


def _row(source: Attributed) -> dict[str, Any]:
    stats = source.stats
    return {
        "ip": str(stats.ip),
        "domain": stats.domain,
        "messages": stats.messages,
        "service": source.service or "",
        "spf": ", ".join(f"{k} {v}" for k, v in stats.spf.items()),
        "dkim": ", ".join(f"{k} {v}" for k, v in stats.dkim.items()),
        "envelope": ", ".join(stats.envelope_domains),
        "header_from": ", ".join(stats.header_from),
        "reporters": ", ".join(stats.reporters),
        "seen": f"{stats.first_seen:%Y-%m-%d} – {stats.last_seen:%Y-%m-%d}",
        "reason": source.reason,
        "status": source.status.value,
    }


def _chart_data(analysis: Analysis) -> dict[str, Any]:
    """Days, results and per source (and for all) messages per day and SPF result."""
    days = sorted({d.isoformat() for s in analysis.sources for d in s.stats.days})
    results: Counter[str] = Counter()
    total: dict[str, Counter[str]] = {d: Counter() for d in days}
    series: list[dict[str, Any]] = []
    for index, source in enumerate(analysis.sources):
        per_day: dict[str, dict[str, int]] = {}
        for day, counts in source.stats.days.items():
            key = day.isoformat()
            total[key].update(counts)
            results.update(counts)
            per_day[key] = dict(counts)
        if index < CHART_SOURCES:
            label = f"{source.stats.ip} ({source.service or source.status.value})"
            series.append({"label": label, "days": per_day})
    order = [r for r in COLOURS if r in results] + sorted(set(results) - set(COLOURS))
    return {
        "days": days,
        "results": order,
        "colours": {r: COLOURS.get(r, OTHER_COLOUR) for r in order},
        "all": {d: dict(c) for d, c in total.items()},
        "sources": series,
    }
