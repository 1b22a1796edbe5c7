"""The flatten stage: resolve a record's includes into address ranges, encode them in the
fewest terms, pack them into chained TXT records, and prove the result equivalent.

``analyze`` (record -> :mod:`program`) -> ``decisions`` (normal form) -> ``cover`` (fewest
ip4/ip6 terms) -> ``pack`` (records, chained names) -> ``verify`` (proof); ``flattener``
drives them, ``budget`` bounds the DNS work per domain.

May import :mod:`spfmanager.spf`, :mod:`spfmanager.dns` and :mod:`spfmanager.errors` only.
"""

from spfmanager.flatten.flattener import DEFAULT_LOOKUP_BUDGET, Flattener, FlattenResult, flatten

__all__ = ["DEFAULT_LOOKUP_BUDGET", "FlattenResult", "Flattener", "flatten"]
