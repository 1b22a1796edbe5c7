"""When the daemon re-flattens: ``schedule: {interval: 15m, jitter: 30s, min_interval: 60s}``."""

from __future__ import annotations

import re
from typing import Annotated, Any, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: Any) -> float:
    """Seconds from ``90``, ``"90s"``, ``"15m"``, ``"1h"`` or ``"1d"``."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration: write e.g. 15m, 30s or 900")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _UNIT[match.group(2)]
    raise ValueError(f"{value!r} is not a duration: write e.g. 15m, 30s or 900")


Duration = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]


class ScheduleConfig(BaseModel):
    """How often a domain is re-flattened. A domain is re-checked early when the shortest
    TTL of its upstream answers expires, but never more often than ``min_interval``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    interval: Duration = Field(default=900.0, description="Seconds (or 15m, 1h) between runs")
    jitter: Duration = Field(default=30.0, description="Random delay added to each run")
    min_interval: Duration = Field(default=60.0, description="Never run a domain more often")

    @model_validator(mode="after")
    def _order(self) -> Self:
        if self.interval <= 0:
            raise ValueError("interval must be more than 0 seconds")
        if self.min_interval > self.interval:
            raise ValueError("min_interval must not exceed interval")
        return self
