"""Turn pydantic validation errors into ``FILE:LINE: field: message`` lines."""

from __future__ import annotations

import difflib
from ipaddress import IPv4Network, IPv6Network
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from spfmanager.files.yamlnodes import Document, Loc, format_loc

_NETWORK_HELP = {
    "ip_v4_network": ("IPv4", IPv4Network, "e.g. 192.0.2.0/24 or 192.0.2.7"),
    "ip_v6_network": ("IPv6", IPv6Network, "e.g. 2001:db8::/32"),
}


def _clean_loc(loc: tuple[str | int, ...], data: Any) -> tuple[Loc, bool]:
    """Drop pydantic's union and validator tags; report whether a mapping key is at fault."""
    kept: list[str | int] = []
    current = data
    for index, part in enumerate(loc):
        if part == "[key]":
            return tuple(kept), True
        in_dict = isinstance(current, dict) and part in current
        in_list = isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        if in_dict or in_list:
            current = current[part]
        elif not (isinstance(current, dict) and index == len(loc) - 1):
            continue  # a union member tag such as 'function-plain[...]'
        kept.append(part)
    return tuple(kept), False


def _model_at(model: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``loc``, if any."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
        else:
            args = get_args(current)
            if not args:
                return None
            current = args[-1] if get_origin(current) is dict else args[0]
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, UnionType):
            models = [a for a in get_args(annotation) if a is not type(None)]
            annotation = models[0] if len(models) == 1 else annotation
            if len(models) != 1:
                return annotation
        else:
            return annotation


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


def describe(error: ErrorDetails, model: type[BaseModel], loc: Loc) -> str:
    """A one-line message for ``error``, naming what is allowed."""
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind == "missing":
        return "required field missing"
    if kind == "extra_forbidden":
        owner = _model_at(model, loc[:-1])
        fields = sorted(owner.model_fields) if owner else []
        close = difflib.get_close_matches(str(loc[-1]), fields, n=1)
        hint = f", did you mean {close[0]!r}?" if close else ""
        return f"unknown field {loc[-1]!r}{hint} (allowed: {', '.join(fields)})"
    if kind in _NETWORK_HELP:
        family, network, example = _NETWORK_HELP[kind]
        try:
            network(str(value))
            reason = ""
        except ValueError as exc:
            reason = f": {exc}"
        return (
            f"{value!r} is not an {family} network{reason} "
            f"(allowed: address or address/prefix without host bits, {example})"
        )
    if kind == "enum":
        return f"{value!r} is not allowed (allowed: {ctx.get('expected')})"
    message = error["msg"].removeprefix("Value error, ")
    if kind in ("int_type", "float_type") and isinstance(value, bool):
        return f"{message}, not a boolean (got {value!r})"
    if kind.startswith(("int_", "float_", "bool_", "string_", "greater", "less", "list_", "dict_")):
        return f"{message} (got {value!r})" if _scalar(value) else message
    return message


def validation_problems(
    exc: ValidationError, document: Document, model: type[BaseModel]
) -> list[str]:
    """Every error of ``exc`` as ``FILE:LINE: field: message``, in file order."""
    return [text for _, text in located_problems(exc, document, model)]


def located_problems(
    exc: ValidationError, document: Document, model: type[BaseModel]
) -> list[tuple[int, str]]:
    """:func:`validation_problems` with the line of each, to merge with other problems."""
    found: list[tuple[int, str]] = []
    for error in exc.errors(include_url=False):
        loc, bad_key = _clean_loc(error["loc"], document.data)
        message = describe(error, model, loc)
        field = format_loc(loc) + (" (key)" if bad_key else "")
        line = document.line(loc)
        found.append((line, f"{document.name}:{line}: {field}: {message}"))
    return sorted(dict.fromkeys(found), key=lambda item: item[0])
