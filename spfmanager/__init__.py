"""spfmanager: sender-side SPF record manager, flattener and RFC 7208 evaluator."""

from spfmanager._source_layout import mount_source_providers
from spfmanager.dns.base import Answer, Resolver, RRType
from spfmanager.dns.snapshot import SnapshotResolver
from spfmanager.errors import (
    DNSTemporaryError,
    FlattenError,
    SPFManagerError,
    SPFSyntaxError,
    VerificationError,
)
from spfmanager.flatten import Flattener, FlattenResult, flatten
from spfmanager.spf.evaluate import SPFResult, evaluate
from spfmanager.spf.parser import parse_record
from spfmanager.spf.results import Cause, Qualifier, Result

__version__ = "0.1.0"

mount_source_providers()

__all__ = [
    "Answer",
    "Cause",
    "DNSTemporaryError",
    "FlattenError",
    "FlattenResult",
    "Flattener",
    "Qualifier",
    "RRType",
    "Resolver",
    "Result",
    "SPFManagerError",
    "SPFResult",
    "SPFSyntaxError",
    "SnapshotResolver",
    "VerificationError",
    "evaluate",
    "flatten",
    "parse_record",
]
