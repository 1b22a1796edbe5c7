"""Explain why a delivered, quarantined or bounced message passed or failed SPF.

``read_message`` (message.py) reads the receiver's trace headers, within the bounds of
mime.py (a hostile message is read in part, and the report says what was skipped),
``explain`` (report.py) re-evaluates the connection now, ``suggest_fix`` (fix.py)
proposes a verified record and ``suggest_config_edit`` (config_edit.py) the edit of
spfmanager.yaml that keeps the sender authorised. A diagnosis's cause is the evaluator's
:class:`~spfmanager.spf.results.Cause` (re-exported here).

May import :mod:`spfmanager.spf`, :mod:`spfmanager.dns`, :mod:`spfmanager.catalog` (the
services a fix may suggest), :mod:`spfmanager.audit` and :mod:`spfmanager.errors`.
"""

from spfmanager.errors import MessageError
from spfmanager.explain.config_edit import (
    ConfigEdit,
    ConfigView,
    EditKind,
    ManagedDomain,
    suggest_config_edit,
)
from spfmanager.explain.fix import Diagnosis, Fix, diagnose, suggest_fix
from spfmanager.explain.headers import HeaderKind, Hop, RecordedCheck
from spfmanager.explain.message import (
    Connection,
    Evidence,
    IPSource,
    connection,
    parse_message,
    read_message,
)
from spfmanager.explain.report import Change, Explanation, explain
from spfmanager.spf.results import Cause  # the diagnosis speaks the evaluator's vocabulary

__all__ = [
    "Cause",
    "Change",
    "ConfigEdit",
    "ConfigView",
    "Connection",
    "Diagnosis",
    "EditKind",
    "Evidence",
    "Explanation",
    "Fix",
    "HeaderKind",
    "Hop",
    "IPSource",
    "ManagedDomain",
    "MessageError",
    "RecordedCheck",
    "connection",
    "diagnose",
    "explain",
    "parse_message",
    "read_message",
    "suggest_config_edit",
    "suggest_fix",
]
