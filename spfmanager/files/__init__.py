"""Reading users' files safely (YAML with bounded aliases and nesting, located errors) and
replacing files atomically (:mod:`.atomic`: readers see the old file or the new, never half).

May import only :mod:`spfmanager.errors`: config and DNS snapshot loading both build on it.
"""
