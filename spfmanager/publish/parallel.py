"""Spread a large build over processes: the same builds, in the same order, sooner.

Flattening distinct intents is CPU-bound (the proof evaluates each one): a fleet of
thousands of them uses every core. After the run's DNS is resolved (the prefetch), the
build forks ``jobs`` workers, which inherit the warm cache and flatten contiguous chunks
of the domains; the parent gathers the outcomes in order. Only processes that can fork
(Linux) do so, and only for builds of at least :data:`PARALLEL_MIN` domains: a daemon's
chunk, or a small config, is built in-process.

Each domain's ``dns_queries`` is recounted in the parent as a single process counts it
(the queries no earlier domain used), from the queries each worker saw it ask. Query
budgets are charged in the workers, against what the worker has used: a domain may be
charged for a query another worker's domain used first (never for fewer).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from typing import Any

from spfmanager.dns.memo import Key
from spfmanager.flatten import Flattener, FlattenResult

PARALLEL_MIN = 200  # domains before a build is spread over processes
MAX_JOBS = 8
CHUNKS_PER_JOB = 8  # smaller chunks even out the workers' shares

# (result, error, transient, cause, affected, queries asked) for one domain.
Outcome = tuple[FlattenResult | None, str | None, bool, Any, float | None, set[Key]]
BuildOne = Callable[[int], Outcome]

_JOB: dict[str, BuildOne] = {}  # the build function the forked workers inherit


def default_jobs(domains: int) -> int:
    """Processes for a build of ``domains``: every core (at most :data:`MAX_JOBS`) for a
    large build where processes can fork, else 1. ``SPFMANAGER_JOBS`` overrides."""
    configured = os.environ.get("SPFMANAGER_JOBS", "").strip()
    if configured.isdigit():
        return max(1, int(configured))
    if domains < PARALLEL_MIN or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_JOBS))


def run_in_processes(
    build_one: BuildOne,
    count: int,
    jobs: int,
    flattener: Flattener,
    done: Callable[[int], None] | None = None,
) -> list[Outcome]:
    """``build_one(i)`` for every i < ``count`` in ``jobs`` forked processes, in order;
    ``done(i)`` as each outcome arrives. ``dns_queries`` recounted as one process counts."""
    known = flattener.resolver.used()
    size = max(1, -(-count // (jobs * CHUNKS_PER_JOB)))
    chunks = [range(start, min(start + size, count)) for start in range(0, count, size)]
    outcomes: list[Outcome | None] = [None] * count
    _JOB["build"] = build_one  # (the caller freezes the run's objects: batch_collector)
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            futures = {pool.submit(_chunk, chunk.start, chunk.stop): chunk for chunk in chunks}
            for future in as_completed(futures):
                for index, outcome in zip(futures[future], future.result(), strict=True):
                    outcomes[index] = outcome
                    if done is not None:
                        done(index)
    finally:
        _JOB.clear()
    gathered = [o for o in outcomes if o is not None]
    assert len(gathered) == count
    return _recount(gathered, known)


def _chunk(start: int, stop: int) -> list[Outcome]:
    build_one = _JOB["build"]  # set before the fork
    return [build_one(index) for index in range(start, stop)]


def _recount(outcomes: list[Outcome], known: set[Key]) -> list[Outcome]:
    """Each result's ``dns_queries``: the queries it asked that no earlier domain did."""
    seen = set(known)
    recounted: list[Outcome] = []
    for result, error, transient, cause, affected, asked in outcomes:
        counted = None if result is None else replace(result, dns_queries=len(asked - seen))
        seen |= asked
        recounted.append((counted, error, transient, cause, affected, asked))
    return recounted
