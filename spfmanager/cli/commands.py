"""Imports every command module so that its commands register on the app."""

# One import per command module; keep sorted.
from spfmanager.cli import (
    check,  # noqa: F401
    explain,  # noqa: F401
    flatten,  # noqa: F401
    schema,  # noqa: F401
)
