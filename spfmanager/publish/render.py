"""Human renderings of a plan: a rich table for terminals, Markdown for pull-request comments.

(JSON is :attr:`spfmanager.publish.plan.Plan.data`.) Both end with the plan's summary line
(:class:`~spfmanager.publish.plan.PlanSummary`) and show, per domain and service, the address
ranges that start (+) or stop (-) passing compared with the records published now: the
zone as the provider lists it at plan time (see :mod:`spfmanager.publish.plan`).
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from spfmanager.publish.changes import Create, Delete
from spfmanager.publish.plan import DomainPlan, Plan, PlannedChange

#: How the address ranges' old side is meant, in both renderings.
RANGES_VS = "vs the records published now (as the provider lists them)"
NO_ADDRESS_CHANGES = "no address changes"

_ACTION_STYLE = {"create": "green", "update": "yellow", "delete": "red"}


def _old_new(change: PlannedChange) -> tuple[str, str]:
    inner = change.change
    old = "" if isinstance(inner, Create) else " | ".join(inner.old.values)
    new = "" if isinstance(inner, Delete) else " | ".join(inner.new.values)
    return old, new


def plan_table(plan: Plan, *, summary: bool = True) -> RenderableType:
    """The plan as rich renderables: a table of changes, one of domains, the notes, the
    address ranges per domain and service, and (unless not ``summary``) the summary line."""
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
    domains = Table(title="Domains")
    for column in ("domain", "provider", "zone", "records", "lookups", "bytes", "status"):
        domains.add_column(column, overflow="fold")
    for domain in plan.domains:
        result = domain.build.result
        if domain.error:
            status = Text(f"error: {domain.error}", style="red")
        elif domain.unsafe:
            status = Text("UNSAFE: " + "; ".join(domain.unsafe), style="bold red")
        elif domain.changes:
            status = Text(f"{len(domain.changes)} change(s)", style="yellow")
        elif not plan.in_sync(domain):
            status = Text("macro data changes", style="yellow")
        else:
            status = Text("in sync", style="green")
        domains.add_row(
            domain.domain,
            domain.provider,
            domain.zone,
            "-" if result is None else str(len(result.packed)),
            "-" if result is None else f"{result.lookups} (was {result.intent_lookups})",
            "-" if result is None else str(result.total_bytes),
            status,
        )
    parts.append(domains)
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
    if plan.macro is not None:
        style = "red" if not plan.macro.data.built else "yellow" if plan.macro.changed else ""
        parts += [Text(line, style=style) for line in plan.macro.lines]
        parts += [Text(f"macro: {note}", style="yellow") for note in plan.macro.notes]
    ranges = _ranges_table(plan)
    if ranges is not None:
        parts += [ranges, Text(f"(+ passes, - stops passing, {RANGES_VS})", style="dim")]
    if summary:
        parts.append(plan_summary(plan))
    return Group(*parts)


def plan_summary(plan: Plan) -> Text:
    """The closing line: ``Plan: 2 to create, 1 to update, 0 to delete. ...``. (Print it
    with ``soft_wrap=True`` to keep it one line, for the terminal to wrap, and grep to find.)"""
    return Text(plan.summary.text, style="bold")


def _with_ranges(plan: Plan) -> list[DomainPlan]:
    """The domains whose address changes are known (a build with changes to publish)."""
    return [d for d in plan.domains if d.address_changes is not None]


def _ranges_table(plan: Plan) -> Table | None:
    domains = _with_ranges(plan)
    if not domains:
        return None
    table = Table(title="Address ranges", show_lines=True)
    for column in ("domain", "service", "ranges"):
        table.add_column(column, overflow="fold")
    for domain in domains:
        if not domain.address_changes:
            table.add_row(domain.domain, "", Text(NO_ADDRESS_CHANGES, style="dim"))
        for change in domain.address_changes or ():
            lines = Text()
            for index, line in enumerate(change.lines()):
                lines.append(("\n" if index else "") + line, style=_range_style(line))
            table.add_row(domain.domain, change.service, lines)
    return table


def _range_style(line: str) -> str:
    return "red" if line.startswith("-") else "green"


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
            if plan.in_sync(domain)
            else "macro data changes"
        )
        lines.append(
            f"| `{domain.domain}` | {'-' if result is None else len(result.packed)} "
            f"| {'-' if result is None else result.lookups} "
            f"| {'-' if result is None else result.total_bytes} | {_cell(status)} |"
        )
    if plan.changes:
        lines += [
            "",
            "| phase | action | name | old value | new value |",
            "| --- | --- | --- | --- | --- |",
        ]
        for change in plan.changes:
            old, new = _old_new(change)
            lines.append(
                f"| {change.phase.name.lower()} | {change.kind} | `{change.name}` "
                f"| {_code_cell(old)} | {_code_cell(new)} |"
            )
    if plan.macro is not None:
        lines += ["", *(f"`{line}`" for line in plan.macro.lines)]
        lines += [f"- macro: {_cell(note)}" for note in plan.macro.notes]
    domains = _with_ranges(plan)
    if domains:
        lines += ["", "### Address ranges", "", f"`+` passes, `-` stops passing, {RANGES_VS}."]
        for domain in domains:
            lines += ["", f"**`{domain.domain}`**", ""]
            if not domain.address_changes:
                lines.append(f"- {NO_ADDRESS_CHANGES}")
            for ranged in domain.address_changes or ():
                ranges = ", ".join(f"`{line}`" for line in ranged.lines())
                lines.append(f"- `{ranged.service}`: {ranges}")
    if plan.waiting:
        lines += ["", "Retired names waiting for their deletion time (the old root may be cached):"]
        lines += [f"- `{p.name}` after {p.not_before.isoformat()}" for p in plan.waiting]
    lines += ["", f"**{plan.summary.text}**"]
    return "\n".join(lines) + "\n"


def _code_cell(text: str) -> str:
    return _cell(f"`{text}`") if text else ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
