"""Credentials by reference: ``env:NAME`` or ``file:PATH``, never the value itself.

A :class:`Secret` holds only the reference; :meth:`Secret.reveal` reads the value when a
provider actually needs it, so configs, logs, reprs and ``--json`` output never carry it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from spfmanager.errors import ConfigError

SECRET_PATTERN = r"^(env|file):\S+$"


class SecretSource(StrEnum):
    ENV = "env"
    FILE = "file"


@dataclass(frozen=True, slots=True)
class Secret:
    """A reference to a credential. ``str()`` and ``repr()`` show the reference only."""

    reference: str

    def __post_init__(self) -> None:
        if not re.fullmatch(SECRET_PATTERN, self.reference):
            raise ValueError(f"{self.reference!r} is not 'env:NAME' or 'file:PATH'")

    @property
    def source(self) -> SecretSource:
        return SecretSource(self.reference.partition(":")[0])

    @property
    def target(self) -> str:
        """The variable name or file path."""
        return self.reference.partition(":")[2]

    def reveal(self) -> str:
        """Read the value now; a missing variable or unreadable file is a ConfigError."""
        if self.source is SecretSource.ENV:
            value = os.environ.get(self.target)
            if value is None:
                raise ConfigError([f"environment variable {self.target} is not set"])
            return value
        try:
            return Path(self.target).expanduser().read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError([f"cannot read secret file {self.target}: {exc.strerror}"]) from None

    def __str__(self) -> str:
        return self.reference

    @classmethod
    def _validate(cls, value: Any) -> Secret:
        if isinstance(value, Secret):
            return value
        if isinstance(value, str) and re.fullmatch(SECRET_PATTERN, value):
            return cls(value)
        raise PydanticCustomError(
            "secret_reference", "{value} is not 'env:NAME' or 'file:PATH'", {"value": repr(value)}
        )

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls._validate,
            serialization=core_schema.plain_serializer_function_ser_schema(str),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "string",
            "pattern": SECRET_PATTERN,
            "description": "A credential reference: env:VARIABLE or file:PATH",
        }
