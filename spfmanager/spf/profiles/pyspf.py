"""pyspf (PyPI ``pyspf``): postfix-policyd-spf-python and other Python MTAs' policy daemons.

Read from pyspf 2.0.14 ``spf.py`` (strict mode, the default) and pinned against it by
``tests/spf/test_profiles.py`` and ``tests/spf/test_differential_pyspf.py``.
"""

from __future__ import annotations

from spfmanager.spf.profiles.base import Departure, Profile

_SRC = "pyspf 2.0.14 spf.py"

PYSPF = Profile(
    name="pyspf",
    title="pyspf (postfix-policyd-spf-python)",
    receivers=("postfix-policyd-spf-python", "spf-engine (policyd-spf milter)"),
    void_mx_hosts=True,
    void_ptr_hosts=True,
    rejects_self_include=True,
    counts_unreached_redirect=True,
    ptr_query_error_is_temperror=True,
    ptr_name_error_is_temperror=True,
    departures=(
        Departure(
            "4.6.4",
            "counts each MX host and each PTR name with no address as a void lookup",
            f"{_SRC}: query.dns() counts every empty answer (l. 1388), dns_mx() and "
            "validated_ptrs() look up each name through it (l. 1248, 1286); "
            "test_profiles.py::void-mx-hosts, test_profiles.py::void-mx-hosts-and-a, "
            "test_profiles.py::void-mx-hosts-aaaa-only, test_profiles.py::void-ptr-names, "
            "test_profiles.py::void-ptr-foreign-names",
        ),
        Departure(
            "5.2",
            "rejects a record holding include: of its own domain, reached or not",
            f"{_SRC}: validate_mechanism() runs on every term at parse time, 'include has "
            "trivial recursion' (l. 809); test_profiles.py::self-include, "
            "test_profiles.py::self-include-macro",
        ),
        Departure(
            "6.1",
            "counts redirect= toward the lookup limit even when not reached",
            f"{_SRC}: check0() calls check_lookups() for redirect= while parsing (l. 895); "
            "test_profiles.py::unreached-redirect, test_profiles.py::unreached-redirect-with-all",
        ),
        Departure(
            "5.5",
            "a DNS error on the PTR query or on a PTR name's address lookup is temperror",
            f"{_SRC}: query.dns() lets TempError through validated_ptrs(); "
            "test_profiles.py::ptr-query-error, test_profiles.py::ptr-name-error, "
            "test_profiles.py::ptr-name-error-then-valid",
        ),
    ),
)
