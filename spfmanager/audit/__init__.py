"""Audit a domain's SPF record: the include tree, limits, problems and receivers' verdict.

``audit_domain(domain, resolver)`` walks the tree (:mod:`.tree`), estimates the TXT answer
size (:mod:`.wire`), and evaluates a probe connection for the verdict (:mod:`.report`),
all within an optional deadline (:mod:`.deadline`). A finding's code is the evaluator's
:class:`~spfmanager.spf.results.Cause` when receivers fail for that reason (re-exported
here), else a :class:`Code` only an audit reports.

May import :mod:`spfmanager.spf`, :mod:`spfmanager.dns` and :mod:`spfmanager.errors` only.
"""

from spfmanager.audit.deadline import DEFAULT_CHECK_DEADLINE, DeadlineResolver
from spfmanager.audit.findings import Code, Finding, Severity
from spfmanager.audit.report import PROBE_ADDRESS, Audit, Verdict, audit_domain
from spfmanager.audit.tree import Edge, Node, NodeStatus, Walk, walk_tree
from spfmanager.audit.wire import txt_answer_size
from spfmanager.errors import DeadlineReached
from spfmanager.spf.results import Cause  # the failure codes of findings

__all__ = [
    "DEFAULT_CHECK_DEADLINE",
    "PROBE_ADDRESS",
    "Audit",
    "Cause",
    "Code",
    "DeadlineReached",
    "DeadlineResolver",
    "Edge",
    "Finding",
    "Node",
    "NodeStatus",
    "Severity",
    "Verdict",
    "Walk",
    "audit_domain",
    "txt_answer_size",
    "walk_tree",
]
