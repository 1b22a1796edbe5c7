"""Reading users' files safely (YAML with bounded aliases and nesting, located errors).

May import only :mod:`spfmanager.errors`: config and DNS snapshot loading both build on it.
"""
