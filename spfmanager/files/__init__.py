"""Reading users' files safely (YAML with bounded aliases and nesting, located errors).

Imports nothing from spfmanager but :mod:`spfmanager.errors`: config and DNS snapshot
loading both build on it.
"""
