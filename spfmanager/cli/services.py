"""``spfmanager services [QUERY]`` and ``services show ID``: the bundled service catalog."""

# ruff: noqa: PLC0415  (the catalog is imported inside the commands: --help needs none of it)

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from spfmanager.cli.app import app
from spfmanager.cli.common import JsonOption, clean_errors, console, error_console, fail

if TYPE_CHECKING:
    from spfmanager.catalog import Catalog, Service

SERVICES_HELP = (
    "List the bundled catalog of sending services, or those matching QUERY (id, alias, name, "
    "category or include, any case); 'services show ID' prints one with all its fields.\n\n"
    "Exit status: 0 listed; 1 nothing matches QUERY, or an unknown ID."
)


class _ServicesGroup(TyperGroup):
    """``services QUERY`` lists what matches QUERY: a first argument that names no
    subcommand is the ``list`` command's query, so ``services google`` needs no ``list``."""

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        if args and not args[0].startswith("-") and self.get_command(ctx, args[0]) is None:
            return "list", self.get_command(ctx, "list"), args
        return super().resolve_command(ctx, args)


services_app = typer.Typer(
    name="services",
    cls=_ServicesGroup,
    help=SERVICES_HELP,
    invoke_without_command=True,
    no_args_is_help=False,
    subcommand_metavar="[QUERY | show ID]",
)
app.add_typer(services_app)

QueryArgument = Annotated[
    str | None,
    typer.Argument(
        metavar="QUERY",
        help="Only services whose id, alias, name, category or include contains it.",
    ),
]


@services_app.callback()
def services_group(ctx: typer.Context, as_json: JsonOption = False) -> None:
    if ctx.invoked_subcommand is None:
        _list(None, as_json)


@services_app.command("list")
def list_command(
    ctx: typer.Context, query: QueryArgument = None, as_json: JsonOption = False
) -> None:
    """List the services (those matching QUERY) with their includes, parameters and docs.

    Exit status: 0 listed; 1 nothing matches QUERY.
    """
    _list(query, as_json or _parent_json(ctx))


@services_app.command("show")
def show_command(
    ctx: typer.Context,
    service_id: Annotated[str, typer.Argument(metavar="ID", help="A service id, e.g. mailgun.")],
    as_json: JsonOption = False,
) -> None:
    """Print one service with all its fields, its regions' terms and its notes.

    Exit status: 0 shown; 1 unknown ID (the closest ids are suggested).
    """
    with clean_errors():
        catalog = _catalog()
        if service_id not in catalog:
            fail(catalog.unknown_message(service_id))
        service = catalog.get(service_id)
        entry = service_data(service)
    if as_json or _parent_json(ctx):
        from spfmanager.cli.common import print_json

        print_json(entry)
        return
    _print_service(entry)


def _parent_json(ctx: typer.Context) -> bool:
    """``services --json list``: the group's own --json counts for its subcommands."""
    return ctx.parent is not None and bool(ctx.parent.params.get("as_json"))


def _catalog() -> Catalog:
    from spfmanager.catalog import load_catalog

    return load_catalog()


def _list(query: str | None, as_json: bool) -> None:
    with clean_errors():
        services = [s for s in _catalog() if query is None or matches(s, query)]
        entries = [service_data(s) for s in services]
    if not entries:
        catalog = _catalog()
        close = catalog.close_matches(query or "")
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        fail(f"no service matches {query!r}{hint} ('spfmanager services' lists them all)")
    if as_json:
        from spfmanager.cli.common import print_json

        print_json(entries)
        return
    table = Table(
        title=Text(f"spfmanager services{'' if query is None else f' matching {query!r}'}")
    )
    columns = ("id", "name", "category", "root", "terms", "parameters", "regions", "verified")
    for column in (*columns, "docs"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        cells = (
            entry["id"],
            entry["name"],
            entry["category"],
            entry["root"],
            "\n".join(_example_prefix(entry) + t for t in entry["terms"]) or "(none)",
            "\n".join(_parameter_line(n, p) for n, p in entry["parameters"].items()) or "-",
            ", ".join(r["region"] for r in entry["regions"]) or "-",
            "yes" if entry["verified"] else "no",
            entry["docs"] or "-",
        )
        table.add_row(*(Text(cell) for cell in cells))  # Text: catalog text is no markup
    console().print(table)
    error_console().print(
        f"{len(entries)} service(s); 'spfmanager services show ID' for one service's details",
        style="dim",
    )


def matches(service: Service, query: str) -> bool:
    """True when ``query`` is in the service's id, an alias, its name, its category or
    its include/a targets (any case)."""
    wanted = query.lower()
    texts = [service.id, *service.aliases, service.name, service.category.value]
    texts += [*service.include, *service.a]
    texts += [t.render() for t in _terms(service)]
    return any(wanted in text.lower() for text in texts)


def _terms(service: Service) -> list[Any]:
    """The terms with the default parameters, and each required one's example."""
    examples = {n: p.example for n, p in service.parameters.items() if p.required}
    return list(service.terms(examples))


def service_data(service: Service) -> dict[str, Any]:
    """One catalog entry as JSON: its fields as written, its terms as rendered (defaults,
    and the example of each required parameter), and the terms of each region."""
    from spfmanager.catalog import parameter_values

    parameters: dict[str, Any] = {}
    for name, parameter in service.parameters.items():
        parameters[name] = {
            "description": parameter.description,
            "required": parameter.required,
            "default": parameter.default,
            "example": parameter.example,
            "pattern": parameter.pattern,
            "values": list(values) if (values := parameter_values(parameter)) else None,
        }
    regions: list[dict[str, Any]] = []
    region = service.parameters.get("region") or service.parameters.get("datacenter")
    examples = {n: p.example for n, p in service.parameters.items() if p.required}
    region_name = "region" if "region" in service.parameters else "datacenter"
    for value in (parameter_values(region) or ()) if region is not None else ():
        terms = service.terms(examples | {region_name: value})
        regions.append({"region": value, "terms": [t.render() for t in terms]})
    return {
        "id": service.id,
        "name": service.name,
        "aliases": list(service.aliases),
        "category": service.category.value,
        "root": service.root.value,
        "description": service.description,
        "docs": service.docs,
        "sources": list(service.sources),
        "verified": service.verified,
        "last_verified": (
            None if service.last_verified is None else service.last_verified.isoformat()
        ),
        "include": list(service.include),
        "a": list(service.a),
        "ip4": [str(n) for n in service.ip4],
        "ip6": [str(n) for n in service.ip6],
        "terms": [t.render() for t in _terms(service)],
        "terms_parameters": examples,  # the required parameters' examples "terms" used
        "parameters": parameters,
        "regions": regions,
        "notes": service.notes,
        "reverse_dns": list(service.reverse_dns),
        "config": _config_example(service),
    }


def _config_example(service: Service) -> str:
    """How a domain lists this service under ``services:``, in YAML flow style."""
    required = {n: p.example for n, p in service.parameters.items() if p.required}
    if not required:
        return service.id
    params = ", ".join(f'{n}: "{v}"' for n, v in required.items())
    return f"{{{service.id}: {{{params}}}}}"


def _example_prefix(entry: dict[str, Any]) -> str:
    return "e.g. " if entry["terms_parameters"] else ""


def _parameter_line(name: str, parameter: dict[str, Any]) -> str:
    if parameter["required"]:
        return f"{name} (required, e.g. {parameter['example']})"
    if parameter["default"] is not None:
        return f"{name} (default {parameter['default']})"
    return f"{name} (optional, e.g. {parameter['example']})"


ROOT_MEANING = {
    "required": "required: its terms go in your domain's own record",
    "optional": "optional: needed only if you set a custom return-path on your domain",
    "none": "none: not in your root record (it checks SPF on its own return-path domain)",
}


def _print_service(entry: dict[str, Any]) -> None:
    rows: list[tuple[str, str]] = [("id", entry["id"]), ("name", entry["name"])]
    if entry["aliases"]:
        rows.append(("aliases", ", ".join(entry["aliases"])))
    rows.append(("category", entry["category"]))
    if entry["description"]:
        rows.append(("description", entry["description"]))
    rows.append(("root", ROOT_MEANING[entry["root"]]))
    rows.append(("docs", entry["docs"] or "-"))
    if entry["sources"]:
        rows.append(("sources", "\n".join(entry["sources"])))
    verified = (
        "yes: terms confirmed on the provider's own documentation"
        if entry["verified"]
        else "no: not confirmed on the provider's own documentation (see sources)"
    )
    rows.append(("verified", verified))
    rows.append(("last verified", entry["last_verified"] or "-"))
    rows += [
        (field, "\n".join(entry[field])) for field in ("include", "a", "ip4", "ip6") if entry[field]
    ]
    if not entry["terms"]:
        notes = entry["notes"] or "the service needs nothing in SPF"
        rows.append(("terms", f"nothing to add to your SPF record: {notes}"))
    else:
        used = ", ".join(f"{n}={v}" for n, v in entry["terms_parameters"].items())
        rows.append(("terms", "\n".join(entry["terms"]) + (f"\n(with {used})" if used else "")))
    for name, parameter in entry["parameters"].items():
        lines = [parameter["description"], _parameter_line(name, parameter)]
        if parameter["pattern"] is not None:
            lines.append(f"must match: {parameter['pattern']}")
        rows.append((f"parameter {name}", "\n".join(lines)))
    rows += [(f"region {r['region']}", "\n".join(r["terms"])) for r in entry["regions"]]
    if entry["notes"] and entry["terms"]:
        rows.append(("notes", entry["notes"]))
    if entry["reverse_dns"]:
        rows.append(("reverse dns", "\n".join(entry["reverse_dns"])))
    rows.append(("in a config", f"services: [{entry['config']}]"))
    table = Table(title=Text(f"{entry['id']}: {entry['name']}"), show_header=False)
    table.add_column("field", style="bold", overflow="fold")
    table.add_column("value", overflow="fold")
    for field, value in rows:
        table.add_row(Text(field), Text(value))  # Text: catalog text is no markup
    console().print(table)
