"""Compile and flatten every domain of a config (the "build" stage), sharing one run's DNS."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from spfmanager.compile import Intent
from spfmanager.dns.base import Resolver
from spfmanager.dns.memo import Key
from spfmanager.errors import FlattenError, RefusalCause, VerificationError
from spfmanager.flatten import Flattener, FlattenResult
from spfmanager.flatten.prefetch import Root
from spfmanager.publish.collector import batch_collector
from spfmanager.publish.parallel import Outcome, default_jobs, run_in_processes

if TYPE_CHECKING:
    from spfmanager.publish.macro import MacroData


@dataclass(frozen=True)
class DomainBuild:
    """One domain's outcome: flattened records, or why there are none."""

    intent: Intent
    result: FlattenResult | None
    error: str | None = None
    transient: bool = False  # the error may pass by itself: keep the last good record
    cause: RefusalCause | None = None  # why, for programs
    affected: float | None = None  # the share of client addresses the error is about
    # macro mode: the combined dataset (shared by every macro-mode domain) the root needs
    dataset: MacroData | None = None

    @property
    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "domain": self.intent.domain,
            "zone": self.intent.zone,
            "provider": self.intent.provider,
            "mode": self.intent.mode.value,
            "intent": self.intent.record.render(),
        }
        if self.result is not None:
            data.update(self.result.data)
        if self.error is not None:
            data["error"] = self.error
            data["transient"] = self.transient
            data["cause"] = None if self.cause is None else self.cause.value
            data["affected"] = self.affected
        return data


Progress = Callable[[str], None]


def flatten_intent(
    flattener: Flattener, intent: Intent, other_root_txt: Sequence[Sequence[str]] = ()
) -> FlattenResult:
    """Flatten ``intent`` with its own settings: kept terms, lookup and query budgets,
    deadline (FlattenError or VerificationError when it cannot be)."""
    return flattener.flatten(
        intent.record,
        intent.domain,
        keep=intent.keep,
        lookup_budget=intent.lookup_budget,
        other_root_txt=other_root_txt,
        query_budget=intent.query_budget,
        deadline=intent.flatten_deadline,
    )


def build(
    intents: Sequence[Intent],
    resolver: Resolver,
    *,
    other_root_txt: Callable[[Intent], Sequence[Sequence[str]]] | None = None,
    progress: Progress | None = None,
    flattener: Flattener | None = None,
    jobs: int | None = None,
) -> list[DomainBuild]:
    """Flatten each intent; errors are per domain, never abort the others.

    Each domain gets its intent's ``query_budget`` DNS queries and ``flatten_deadline``
    seconds: a hostile or huge include tree fails that domain, not the run. The upstream
    names of every domain are resolved first, concurrently (:meth:`Flattener.prefetch`);
    then a large build is spread over ``jobs`` processes (default: see
    :func:`~spfmanager.publish.parallel.default_jobs`), with the same outcomes.
    """
    flattener = flattener or Flattener(resolver)
    if intents:  # every upstream name once, concurrently, before any domain is built
        seconds = max(intent.flatten_deadline for intent in intents)
        flattener.prefetch(
            [Root(i.record, i.domain, i.query_budget) for i in intents], seconds=seconds
        )
    extras = [other_root_txt(i) if other_root_txt else () for i in intents]
    jobs = default_jobs(len(intents)) if jobs is None else jobs

    def build_one(index: int) -> Outcome:
        memo = flattener.resolver
        asked: set[Key] = set()
        memo.uses = asked if jobs > 1 else None  # the queries a worker's domain asks
        try:
            result = flatten_intent(flattener, intents[index], extras[index])
            return (result, None, False, None, None, asked)
        except FlattenError as exc:
            return (None, str(exc), exc.transient, exc.cause, exc.affected, asked)
        except VerificationError as exc:
            error = f"verification failed: {exc}"
            return (None, error, False, RefusalCause.NOT_EQUIVALENT, None, asked)
        finally:
            memo.uses = None

    def done(index: int) -> None:
        if progress is not None:
            progress(intents[index].domain)

    with batch_collector():
        if jobs > 1 and len(intents) > 1:
            outcomes = run_in_processes(build_one, len(intents), jobs, flattener, done)
            # A worker's result holds its own copy of the intent record: keep one.
            outcomes = [
                (_same_intent(o[0], i), *o[1:]) for i, o in zip(intents, outcomes, strict=True)
            ]
        else:
            outcomes = []
            for index in range(len(intents)):
                outcomes.append(build_one(index))
                done(index)
    return [
        DomainBuild(intent, result, error, transient, cause, affected)
        for intent, (result, error, transient, cause, affected, _) in zip(
            intents, outcomes, strict=True
        )
    ]


def _same_intent(result: FlattenResult | None, intent: Intent) -> FlattenResult | None:
    if result is None or result.intent != intent.record:
        return result
    return replace(result, intent=intent.record)
