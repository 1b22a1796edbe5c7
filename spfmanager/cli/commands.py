"""Imports every command module so that its commands register on the app."""

# One import per command module; keep sorted.
from spfmanager.cli import (
    approve,  # noqa: F401
    build,  # noqa: F401
    check,  # noqa: F401
    daemon,  # noqa: F401
    discover,  # noqa: F401
    explain,  # noqa: F401
    flatten,  # noqa: F401
    history,  # noqa: F401
    init,  # noqa: F401
    macro_server,  # noqa: F401
    plan,  # noqa: F401
    rollback,  # noqa: F401
    run_once,  # noqa: F401
    schema,  # noqa: F401
    services,  # noqa: F401
    snapshot,  # noqa: F401
    status,  # noqa: F401
    validate,  # noqa: F401
)
