"""``spfmanager init DOMAIN``: write a commented ``spfmanager.yaml`` to start from.

Without ``--from-dns`` the file is a skeleton that validates as it is (a domain with no
sender yet publishes ``v=spf1 -all``), with the catalog's usual services as comments. With
``--from-dns`` the domain's SPF record (live, or from ``--dns-snapshot``) is read back:
each term a catalog service puts there becomes that service, with the parameters that
render it (``include:_spf.eu.mailgun.org`` is ``{mailgun: {region: eu}}``); the other
``include``, ``a``, ``mx``, ``ip4`` and ``ip6`` terms are kept as the domain's own, the
final ``all`` is the policy, and what a config cannot say (``exists``, ``ptr``, qualified
terms) is listed in comments. The text is checked (loaded and compiled) before it is
written.
"""

# ruff: noqa: PLC0415  (the catalog, DNS and config are imported inside: --help needs none)

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from spfmanager.cli.app import app
from spfmanager.cli.common import (
    NameserverOption,
    PortOption,
    SnapshotOption,
    build_resolver,
    clean_errors,
    fail,
)

if TYPE_CHECKING:
    from spfmanager.config.starter import Imported

INIT_HELP = (
    "Write a commented spfmanager.yaml for DOMAIN: a skeleton to fill in, or with "
    "--from-dns the domain's published SPF record mapped onto the service catalog.\n\n"
    "Exit status: 0 written; 1 the file exists (without --force), DOMAIN has no usable SPF "
    "record, or DNS failed."
)


@app.command("init", help=INIT_HELP)
def init_command(
    domain: Annotated[str, typer.Argument(help="The domain to manage, e.g. example.com.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="FILE", help="The file to write.")
    ] = Path("spfmanager.yaml"),
    from_dns: Annotated[
        bool,
        typer.Option(
            "--from-dns", help="Start from DOMAIN's published SPF record instead of a skeleton."
        ),
    ] = False,
    snapshot: SnapshotOption = None,
    nameservers: NameserverOption = None,
    port: PortOption = 53,
    force: Annotated[bool, typer.Option("--force", help="Overwrite FILE if it exists.")] = False,
) -> None:
    if not from_dns and (snapshot is not None or nameservers):
        fail("--dns-snapshot and --nameserver read DNS: they need --from-dns")
    if output.exists() and not force:
        fail(f"{output} exists; use --force to overwrite it")
    from spfmanager.config.starter import import_record, render_config

    with clean_errors():
        name = _domain_name(domain)
        if from_dns:
            text, source = _fetch(name, snapshot, nameservers, port)
            found = import_record(text, name)
            config = render_config(name, found, source, output)
        else:
            found = None
            config = render_config(name, None, None, output)
        _check(config, output)
    try:
        output.write_text(config, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}")
    typer.echo(f"wrote {output}: {_summary(name, found)}")
    dns = f" --dns-snapshot {snapshot}" if snapshot is not None else ""
    typer.echo(f"next: spfmanager validate -c {output}")
    typer.echo(f"      spfmanager plan -c {output}{dns}")


def _domain_name(domain: str) -> str:
    from pydantic import TypeAdapter, ValidationError

    from spfmanager.config.models import DomainName

    try:
        return TypeAdapter(DomainName).validate_python(domain)
    except ValidationError as exc:
        fail(exc.errors(include_url=False)[0]["msg"])


def _fetch(
    domain: str, snapshot: Path | None, nameservers: list[str] | None, port: int
) -> tuple[str, str]:
    """The text of ``domain``'s one SPF record, and where it was read (for the comments)."""
    from spfmanager.dns.base import RRType
    from spfmanager.errors import DNSError
    from spfmanager.spf.select import select_record

    resolver = build_resolver(snapshot, nameservers, port)
    where = f"in {snapshot}" if snapshot is not None else "in DNS"
    try:
        answer = resolver.query(domain, RRType.TXT)
    except DNSError as exc:
        fail(f"cannot read the TXT records of {domain}: {exc}")
    records = select_record(answer.records).records
    if not records:
        missing = "does not exist" if answer.nxdomain else "has no SPF record"
        fail(f"{domain} {missing} {where}; 'spfmanager init {domain}' writes a skeleton")
    if len(records) > 1:
        fail(f"{domain} has {len(records)} SPF records {where} (receivers see a permerror)")
    try:
        return records[0].data.decode("ascii"), where
    except UnicodeDecodeError:
        fail(f"the SPF record of {domain} {where} is not ASCII")


def _check(text: str, output: Path) -> None:
    """Load and compile the text about to be written: it must validate as it is."""
    from spfmanager.compile import compile_config
    from spfmanager.config import parse_config

    compile_config(parse_config(text, str(output)))


def _summary(domain: str, found: Imported | None) -> str:
    if found is None:
        return f"a skeleton for {domain} (no sender yet: add its services)"
    parts = [f"{len(found.services)} catalog service(s)"]
    if found.services:
        parts[0] += f" ({', '.join(dict.fromkeys(m.id for m in found.services))})"
    own = len(found.ip4) + len(found.ip6) + len(found.a) + len(found.mx)
    if own:
        parts.append(f"{own} own ip4/ip6/a/mx term(s)")
    if found.include:
        parts.append(f"{len(found.include)} include(s) not in the catalog")
    if found.dropped:
        parts.append(f"{len(found.dropped)} term(s) not carried over (see the comments)")
    return f"{domain} from its SPF record: {', '.join(parts)}; policy {found.policy}"
