"""DNS provider adapters, installed as ``spfmanager.providers``.

Adapters may import only the change model (:mod:`spfmanager.publish.changes`),
:mod:`spfmanager.dns` and :mod:`spfmanager.errors`; the contract is in :mod:`.base`.
"""
