"""Compile and flatten every domain of a config (the "build" stage), sharing one run's DNS."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from spfmanager.compile import Intent
from spfmanager.dns.base import Resolver
from spfmanager.errors import FlattenError, RefusalCause, VerificationError
from spfmanager.flatten import Flattener, FlattenResult
from spfmanager.flatten.prefetch import Root


@dataclass(frozen=True)
class DomainBuild:
    """One domain's outcome: flattened records, or why there are none."""

    intent: Intent
    result: FlattenResult | None
    error: str | None = None
    transient: bool = False  # the error may pass by itself: keep the last good record
    cause: RefusalCause | None = None  # why, for programs
    affected: float | None = None  # the share of client addresses the error is about

    @property
    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "domain": self.intent.domain,
            "zone": self.intent.zone,
            "provider": self.intent.provider,
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


def build(
    intents: Sequence[Intent],
    resolver: Resolver,
    *,
    other_root_txt: Callable[[Intent], Sequence[Sequence[str]]] | None = None,
    progress: Progress | None = None,
    flattener: Flattener | None = None,
) -> list[DomainBuild]:
    """Flatten each intent; errors are per domain, never abort the others.

    Each domain gets its intent's ``query_budget`` DNS queries and ``flatten_deadline``
    seconds: a hostile or huge include tree fails that domain, not the run. The upstream
    names of every domain are resolved first, concurrently (:meth:`Flattener.prefetch`).
    """
    flattener = flattener or Flattener(resolver)
    if intents:  # every upstream name once, concurrently, before any domain is built
        seconds = max(intent.flatten_deadline for intent in intents)
        flattener.prefetch(
            [Root(i.record, i.domain, i.query_budget) for i in intents], seconds=seconds
        )
    builds: list[DomainBuild] = []
    for intent in intents:
        extra = other_root_txt(intent) if other_root_txt else ()
        try:
            result = flattener.flatten(
                intent.record,
                intent.domain,
                keep=intent.keep,
                lookup_budget=intent.lookup_budget,
                other_root_txt=extra,
                query_budget=intent.query_budget,
                deadline=intent.flatten_deadline,
            )
            builds.append(DomainBuild(intent, result))
        except FlattenError as exc:
            builds.append(
                DomainBuild(intent, None, str(exc), exc.transient, exc.cause, exc.affected)
            )
        except VerificationError as exc:
            error = f"verification failed: {exc}"
            builds.append(DomainBuild(intent, None, error, cause=RefusalCause.NOT_EQUIVALENT))
        if progress is not None:
            progress(intent.domain)
    return builds
