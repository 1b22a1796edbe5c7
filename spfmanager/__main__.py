"""``python -m spfmanager``: the same as the ``spfmanager`` command."""

from spfmanager.cli import main

main()
