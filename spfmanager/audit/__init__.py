"""Audit a domain's SPF record: the include tree, limits, problems and receivers' verdict.

``audit_domain(domain, resolver)`` walks the tree (:mod:`.tree`), estimates the TXT answer
size (:mod:`.wire`), and evaluates a probe connection for the verdict (:mod:`.report`).
"""

from spfmanager.audit.findings import Code, Finding, Severity
from spfmanager.audit.report import PROBE_ADDRESS, Audit, Verdict, audit_domain
from spfmanager.audit.tree import Edge, Node, NodeStatus, Walk, walk_tree
from spfmanager.audit.wire import txt_answer_size

__all__ = [
    "PROBE_ADDRESS",
    "Audit",
    "Code",
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
