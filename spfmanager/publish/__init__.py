"""The publish stage: build every domain of a config, plan the DNS changes, apply them.

``build`` (flatten each intent) -> ``plan`` (changes, safety, ``drift``) -> ``apply`` (per
zone, locked, phased) over the ``changes`` model, with ``state`` (what was published, what
is pending), ``connect`` (open the configured providers), ``render`` (plan as text/Markdown),
``export`` (records as BIND/octoDNS/Terraform), ``macro`` (macro-mode domains: their macro
root records and the shared rbldnsd data file) and ``workflow`` (the whole job for a config).

May import :mod:`spfmanager.flatten`, :mod:`spfmanager.macro`, :mod:`spfmanager.spf`,
:mod:`spfmanager.dns`, the config/compile layer and :mod:`spfmanager.providers`. Adapters
import only :mod:`spfmanager.publish.changes` from here (this ``__init__`` stays empty for
them).
"""
