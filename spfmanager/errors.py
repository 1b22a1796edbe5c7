"""The exception tree of spfmanager.

Every error the package raises on purpose derives from :class:`SPFManagerError`,
so callers (and the CLI) can catch one type and print a clean message::

    SPFManagerError
    ├── SPFSyntaxError          a record or macro-string that breaks RFC 7208 section 12
    ├── DNSError
    │   └── DNSTemporaryError   timeout, SERVFAIL, refused: "try again later"
    ├── SnapshotError           a --dns-snapshot file that cannot be read
    ├── ConfigError             a config file with problems (file, line, field; all at once)
    ├── FlattenError            no equivalent record fits the limits, or upstream is broken
    ├── VerificationError       published records would not behave like the intent
    ├── StateError              the state store cannot be opened, read, written or locked
    └── ProviderError           a DNS provider refused or failed a change
        ├── ProviderAuthError
        ├── ProviderRateLimitError
        └── ProviderServerError
"""

from __future__ import annotations


class SPFManagerError(Exception):
    """Base class of every error spfmanager raises on purpose."""


class SPFSyntaxError(SPFManagerError):
    """A record or macro-string that does not follow the RFC 7208 grammar.

    ``position`` is the 0-based character offset of the problem in ``text``.
    """

    def __init__(self, message: str, text: str = "", position: int = 0) -> None:
        self.message = message
        self.text = text
        self.position = position
        super().__init__(f"{message} (at character {position + 1})" if text else message)

    def pointer(self) -> str:
        """The offending text with a caret under the problem, for humans."""
        return f"{self.text}\n{' ' * self.position}^"


class DNSError(SPFManagerError):
    """A DNS query that could not be answered."""


class DNSTemporaryError(DNSError):
    """A transient DNS failure (timeout, SERVFAIL): RFC 7208 temperror."""


class SnapshotError(SPFManagerError):
    """An offline DNS snapshot file that cannot be read or has a bad entry."""


class ConfigError(SPFManagerError):
    """A configuration file with one or more problems.

    ``problems`` lists every problem found, each already naming file, line and field.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class FlattenError(SPFManagerError):
    """No record set equivalent to the intent fits the limits, or upstream is broken.

    ``transient`` is True when the cause may go away by itself (a DNS timeout upstream):
    the right reaction is to keep the last good published record and retry later.
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        self.transient = transient
        super().__init__(message)


class VerificationError(SPFManagerError):
    """The published records would not give the same results as the intent."""


class StateError(SPFManagerError):
    """The state store failed: a corrupt or locked database, a missing driver, a lock held."""


class ProviderError(SPFManagerError):
    """A DNS provider refused or failed a change."""


class ProviderAuthError(ProviderError):
    """The provider rejected the credentials."""


class ProviderRateLimitError(ProviderError):
    """The provider asked us to slow down."""


class ProviderServerError(ProviderError):
    """The provider failed on its side (5xx, timeout)."""
