"""DNS provider adapters, installed as ``spfmanager.providers``.

Adapters may import only the change model (:mod:`spfmanager.publish.changes`),
:mod:`spfmanager.dns`, :mod:`spfmanager.errors` and :mod:`spfmanager.files` (atomic file
replacement); the contract is in :mod:`.base`.
"""
