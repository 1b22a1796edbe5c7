"""The library defaults that command options show in ``--help``, as plain values.

Importing them from where they are defined (:mod:`spfmanager.flatten`,
:mod:`spfmanager.audit`) would load the flattener and the audit, whose package
``__init__`` modules import everything, on every ``spfmanager --help``: about 80 ms, more
than all of typer. ``tests/cli/test_startup.py`` checks that each value here equals the
library's.
"""

from __future__ import annotations

LOOKUP_BUDGET = 8  # spfmanager.flatten.DEFAULT_LOOKUP_BUDGET
QUERY_BUDGET = 5000  # spfmanager.flatten.budget.DEFAULT_QUERY_BUDGET
FLATTEN_DEADLINE = 60.0  # spfmanager.flatten.budget.DEFAULT_DEADLINE
CHECK_DEADLINE = 60.0  # spfmanager.audit.DEFAULT_CHECK_DEADLINE
