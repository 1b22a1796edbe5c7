"""Macro mode: one ``include:%{ir}.%{v}.%{d}.<zone>`` answered per client by rbldnsd.

Instead of flattening an intent into ip4/ip6 terms, the root record names the client's
own reversed address under a macro zone, and an rbldnsd ``combined`` dataset answers that
name with a one-term record giving the intent's result for that address: one or two DNS
lookups per check whatever the number of senders.

``names`` (the expanded names and their length limits), ``zone`` (intent partition ->
root record and dataset), ``prove`` (receivers reading the dataset get the intent's
result), ``write`` (atomic replacement of the data file), ``build`` (all of it, proven).

May import :mod:`spfmanager.errors`, :mod:`~spfmanager.files`, :mod:`~spfmanager.dns`,
:mod:`~spfmanager.spf`, :mod:`~spfmanager.flatten` and :mod:`spfmanager.compile` only.
"""

from __future__ import annotations

from spfmanager.macro.build import MacroBuild, build_macro
from spfmanager.macro.names import check_names, domain_spec, max_domain_and_zone, query_name
from spfmanager.macro.prove import DatasetResolver, MacroProof, prove
from spfmanager.macro.write import write_dataset
from spfmanager.macro.zone import MacroRecord, Subzone, plan_form, plan_macro, render_dataset

__all__ = [
    "DatasetResolver",
    "MacroBuild",
    "MacroProof",
    "MacroRecord",
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
    "write_dataset",
]
