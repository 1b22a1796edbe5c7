"""Human renderings of a plan: a rich table for terminals, Markdown for pull-request comments.

(JSON is :attr:`spfmanager.publish.plan.Plan.data`.)
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from spfmanager.publish.changes import Create, Delete
from spfmanager.publish.plan import Plan, PlannedChange

_ACTION_STYLE = {"create": "green", "update": "yellow", "delete": "red"}


def _old_new(change: PlannedChange) -> tuple[str, str]:
    inner = change.change
    old = "" if isinstance(inner, Create) else " | ".join(inner.old.values)
    new = "" if isinstance(inner, Delete) else " | ".join(inner.new.values)
    return old, new


def plan_table(plan: Plan) -> RenderableType:
    """The plan as rich renderables: one table of changes and a summary per domain."""
    parts: list[RenderableType] = []
    table = Table(title="Planned changes", show_lines=True)
    for column in ("phase", "action", "name", "old", "new"):
        table.add_column(column, overflow="fold")
    for change in plan.changes:
        old, new = _old_new(change)
        style = _ACTION_STYLE[change.kind]
        table.add_row(
            change.phase.name.lower(), Text(change.kind, style=style), change.name, old, new
        )
    if plan.changes:
        parts.append(table)
    summary = Table(title="Domains")
    for column in ("domain", "provider", "zone", "records", "lookups", "bytes", "status"):
        summary.add_column(column)
    for domain in plan.domains:
        result = domain.build.result
        if domain.error:
            status = Text(f"error: {domain.error}", style="red")
        elif domain.unsafe:
            status = Text("UNSAFE: " + "; ".join(domain.unsafe), style="bold red")
        elif domain.changes:
            status = Text(f"{len(domain.changes)} change(s)", style="yellow")
        else:
            status = Text("in sync", style="green")
        summary.add_row(
            domain.domain,
            domain.provider,
            domain.zone,
            "-" if result is None else str(len(result.packed)),
            "-" if result is None else f"{result.lookups} (was {result.intent_lookups})",
            "-" if result is None else str(result.total_bytes),
            status,
        )
    parts.append(summary)
    for domain in plan.domains:
        for note in domain.notes:
            parts.append(Text(f"{domain.domain}: {note}", style="dim"))
        for pending in domain.waiting:
            parts.append(
                Text(
                    f"{domain.domain}: {pending.name} waits for deletion until "
                    f"{pending.not_before.isoformat()} (the old root may still be cached)",
                    style="yellow",
                )
            )
    return Group(*parts)


def plan_markdown(plan: Plan) -> str:
    """The plan as GitHub-flavoured Markdown."""
    lines = ["## spfmanager plan", ""]
    if not plan.has_changes and not plan.errors:
        lines.append(
            "No changes: DNS is in sync." if not plan.waiting else "No changes to apply now."
        )
    lines += ["| domain | records | lookups | bytes | status |", "| --- | --- | --- | --- | --- |"]
    for domain in plan.domains:
        result = domain.build.result
        status = (
            f"error: {domain.error}"
            if domain.error
            else ("**unsafe**: " + "; ".join(domain.unsafe))
            if domain.unsafe
            else f"{len(domain.changes)} change(s)"
            if domain.changes
            else "in sync"
        )
        lines.append(
            f"| `{domain.domain}` | {'-' if result is None else len(result.packed)} "
            f"| {'-' if result is None else result.lookups} "
            f"| {'-' if result is None else result.total_bytes} | {_cell(status)} |"
        )
    if plan.changes:
        lines += ["", "| phase | action | name | new value |", "| --- | --- | --- | --- |"]
        for change in plan.changes:
            _, new = _old_new(change)
            lines.append(
                f"| {change.phase.name.lower()} | {change.kind} | `{change.name}` "
                f"| {_cell(f'`{new}`' if new else '')} |"
            )
    if plan.waiting:
        lines += ["", "Retired names waiting for their deletion time (the old root may be cached):"]
        lines += [f"- `{p.name}` after {p.not_before.isoformat()}" for p in plan.waiting]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
