"""The re-flatten daemon: keeps every domain's SPF fresh as its senders' addresses change.

``scheduler`` (APScheduler 3: one job per domain, due domains in one pass) -> ``runner``
(one guarded pass: the same build/plan/apply path as the CLI; ``applied``, ``unchanged``,
``held``, ``upstream-error``, ``failed``, ``skipped``) -> ``history`` (runs, upstream
snapshots, holds in the state store) and ``observers`` (``notify``: webhook, Slack and
e-mail alerts from jinja2 templates; ``metrics`` and ``http``: Prometheus ``/metrics`` and
``/healthz``; ``logs``: one structured line per run). ``rollback`` republishes an earlier
run's proven records.

May import :mod:`spfmanager.publish`, :mod:`spfmanager.flatten`, :mod:`spfmanager.config`,
:mod:`spfmanager.compile` and the layers below them (:mod:`spfmanager.spf`,
:mod:`spfmanager.dns`, :mod:`spfmanager.catalog`, :mod:`spfmanager.files`,
:mod:`spfmanager.errors`). Nothing but the CLI imports the daemon.
"""
