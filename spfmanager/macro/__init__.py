"""Macro mode: one ``include:%{ir}.%{v}.%{d}.<zone>`` answered per client.

Instead of flattening an intent into ip4/ip6 terms, the root record names the client's
own reversed address under a macro zone, which answers that name with a one-term record
giving the intent's result for that address: one or two DNS lookups per check whatever
the number of senders. Two backends serve the zone: an rbldnsd ``combined`` dataset
(longest-prefix tries), or plain TXT records with RFC 4592 wildcards that any
authoritative server (PowerDNS, BIND, a provider) answers alike.

``names`` (the expanded names and their length limits), ``zone`` (intent partition ->
root record, subzones and the rbldnsd dataset), ``records`` (subzones -> wildcard TXT
records, and their RFC 4592 reader), ``prove`` (receivers reading the served data get
the intent's result), ``write`` (atomic replacement of the data file), ``build`` (all of
it, proven).

May import :mod:`spfmanager.errors`, :mod:`~spfmanager.files`, :mod:`~spfmanager.dns`,
:mod:`~spfmanager.spf`, :mod:`~spfmanager.flatten` and :mod:`spfmanager.compile` only.
"""

from __future__ import annotations

from spfmanager.macro.build import Backend, MacroBuild, build_macro
from spfmanager.macro.names import check_names, domain_spec, max_domain_and_zone, query_name
from spfmanager.macro.prove import DatasetResolver, MacroProof, Served, prove, served_resolver
from spfmanager.macro.records import RecordsResolver, render_records
from spfmanager.macro.write import write_dataset
from spfmanager.macro.zone import MacroRecord, Subzone, plan_form, plan_macro, render_dataset

__all__ = [
    "Backend",
    "DatasetResolver",
    "MacroBuild",
    "MacroProof",
    "MacroRecord",
    "RecordsResolver",
    "Served",
    "Subzone",
    "build_macro",
    "check_names",
    "domain_spec",
    "max_domain_and_zone",
    "plan_form",
    "plan_macro",
    "prove",
    "query_name",
    "render_dataset",
    "render_records",
    "served_resolver",
    "write_dataset",
]
