"""The per-implementation drivers: each reads queries as JSON lines on stdin and writes one
JSON line per query on stdout (``{"result": <the library's own name>, "detail": ...}``).

Run by :mod:`tests.conformance.receivers`, never imported by tests.
"""
