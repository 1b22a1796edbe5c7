"""Provider options as a config writes them, checked against the adapter's ``Options``.

Each adapter declares its options as a pydantic model, ``Provider.Options`` (contract in
providers/base.py). ``providers.NAME`` of a config is validated against a model derived
from it, :func:`written_model`, which differs in how values are written:

* a credential (a ``SecretStr`` field) must be a reference, ``env:NAME`` or ``file:PATH``,
  never the value itself; it becomes a :class:`Secret`, read when the provider is opened;
* any other string option may be such a reference too (``hosted_zone_id: env:ZONE_ID``);
* types are strict and unknown keys are refused, whatever the adapter's model says.

Problems are located at ``providers.NAME.OPTION``: an unknown option names the closest
declared one ("did you mean 'directory'?") and every allowed one, a missing one says it is
required. A plugin adapter whose ``Options`` is None gets its options unchecked, as
written: scalar values, and options whose name contains ``secret``, ``token``,
``password`` or ``api_key`` as references.

The tables of docs/config.md are rendered from the same models
(:mod:`spfmanager.config.reference`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from functools import cache
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    Field,
    GetJsonSchemaHandler,
    PlainValidator,
    SecretStr,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    create_model,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import InitErrorDetails, PydanticCustomError

from spfmanager.config.secret import SECRET_PATTERN, Secret
from spfmanager.errors import ProviderError
from spfmanager.providers.registry import BUILTIN, available, provider_class

#: An option's value as the config holds it: credentials (and other strings written as
#: references) stay :class:`Secret` until the provider is opened.
OptionValues = dict[str, Secret | bool | int | float | str | None]

_CREDENTIAL_WORDS = ("secret", "token", "password", "api_key")
_REFERENCE_SCHEMA = {
    "type": "string",
    "pattern": SECRET_PATTERN,
    "description": "A credential reference: env:VARIABLE or file:PATH",
}


def _inline_credential(name: str) -> PydanticCustomError:
    # never echo the value: it is a credential
    return PydanticCustomError(
        "credential_inline",
        "option {name} is a credential: write it as 'env:VARIABLE' or 'file:PATH', never inline",
        {"name": repr(name)},
    )


def _credential(value: Any, info: ValidationInfo) -> Secret:
    if not _is_reference(value):
        raise _inline_credential(info.field_name or "?")
    return value if isinstance(value, Secret) else Secret(value)


def _text(value: Any) -> Secret | str:
    if isinstance(value, Secret):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("string_type", "Input should be a valid string")
    return Secret(value) if _is_reference(value) else value


#: A ``SecretStr`` option as written: a reference only.
CredentialOption = Annotated[
    Secret, PlainValidator(_credential), WithJsonSchema(dict(_REFERENCE_SCHEMA))
]
#: A ``str`` option as written: the text, or a reference to it.
TextOption = Annotated[
    Secret | str,
    PlainValidator(_text),
    WithJsonSchema({"type": "string"}),
]
#: An option of a plugin that declares no model.
UncheckedOption = Annotated[
    Secret | StrictBool | StrictInt | StrictFloat | StrictStr, Field(union_mode="left_to_right")
]
_UNCHECKED: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, UncheckedOption])
_UNCHECKED_SCHEMA = TypeAdapter(UncheckedOption).json_schema()


def annotation_members(annotation: Any) -> tuple[list[Any], bool]:
    """The types of a (possibly optional) annotation, and whether None is allowed."""
    if get_origin(annotation) in (Union, UnionType):
        args = get_args(annotation)
        return [a for a in args if a is not NoneType], NoneType in args
    return [annotation], False


def _as_written(annotation: Any) -> Any:
    members, optional = annotation_members(annotation)
    if members == [SecretStr]:
        written: Any = CredentialOption
    elif members == [str]:
        written = TextOption
    else:
        return annotation
    return written | None if optional else written


@cache
def written_model(model: type[BaseModel]) -> type[BaseModel]:
    """``model`` as a config writes it (see the module docstring); cached per model."""
    fields: dict[str, Any] = {
        name: (_as_written(info.annotation), info) for name, info in model.model_fields.items()
    }
    written: type[BaseModel] = create_model(
        model.__name__,
        __base__=model,
        __module__=model.__module__,
        __doc__=model.__doc__,
        __cls_kwargs__={"frozen": True, "extra": "forbid", "strict": True},
        **fields,
    )
    return written


def declared_options(kind: str) -> type[BaseModel] | None:
    """The ``Options`` model of provider ``kind`` (None: a plugin that declares none).

    Raises :class:`~spfmanager.errors.ProviderError` for an unknown kind or a plugin that
    fails to load.
    """
    return provider_class(kind).Options


def _close(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f", did you mean {close[0]!r}?" if close else ""


def _located(
    kind: str, model: type[BaseModel] | None, exc: ValidationError
) -> list[InitErrorDetails]:
    """The errors of ``exc`` with messages that name options, not fields."""
    fields = list(model.model_fields) if model is not None else []
    details: list[InitErrorDetails] = []
    for error in exc.errors(include_url=False):
        loc, name = error["loc"], str(error["loc"][0]) if error["loc"] else ""
        if error["type"] == "extra_forbidden":
            message = (
                f"unknown option {name!r} of kind {kind}{_close(name, fields)} "
                f"(allowed: {', '.join(fields)})"
            )
            kind_of_error = "unknown_option"
        elif error["type"] == "missing":
            described = model.model_fields[name].description if model and name in fields else None
            message = f"missing required option {name!r} of kind {kind}" + (
                f" ({described})" if described else ""
            )
            kind_of_error = "missing_option"
        else:
            message, kind_of_error = error["msg"], error["type"]
        context = {**(error.get("ctx") or {}), "message": message}
        details.append(
            {
                "type": PydanticCustomError(kind_of_error, "{message}", context),
                "loc": loc,
                "input": error["input"],
            }
        )
    return details


def _looks_like_credentials(
    options: Mapping[str, Any], skip: frozenset[str]
) -> list[InitErrorDetails]:
    """Options named like a credential (``api_key``…) but written inline."""
    return [
        {
            "type": PydanticCustomError(
                "credential_inline",
                "option {name} looks like a credential: write it as 'env:VARIABLE' or "
                "'file:PATH', never inline",
                {"name": repr(name)},
            ),
            "loc": (name,),
            "input": "***",
        }
        for name, value in options.items()
        if name not in skip
        and any(word in name.lower() for word in _CREDENTIAL_WORDS)
        and not _is_reference(value)
    ]


def _is_reference(value: Any) -> bool:
    return isinstance(value, Secret) or (
        isinstance(value, str) and re.fullmatch(SECRET_PATTERN, value) is not None
    )


def check_options(kind: str, raw: Mapping[str, Any]) -> tuple[OptionValues, OptionValues]:
    """Validate the options of a ``kind`` provider: (as written, with defaults filled in).

    Secrets stay references. Raises :class:`pydantic.ValidationError` with every problem,
    located relative to the provider's mapping (``(option,)``).
    """
    declared = declared_options(kind)
    if declared is None:
        try:
            given: OptionValues = _UNCHECKED.validate_python(dict(raw))
        except ValidationError as exc:
            raise ValidationError.from_exception_data(
                "options", _located(kind, None, exc)
            ) from None
        if found := _looks_like_credentials(given, frozenset()):
            raise ValidationError.from_exception_data("options", found)
        return given, dict(given)
    model = written_model(declared)
    credentials = frozenset(
        name
        for name, info in declared.model_fields.items()
        if annotation_members(info.annotation)[0] == [SecretStr]
    )
    errors: list[InitErrorDetails] = []
    try:
        options = model.model_validate(dict(raw))
    except ValidationError as exc:
        errors = _located(kind, declared, exc)
        options = None
    errors += _looks_like_credentials(
        {k: v for k, v in raw.items() if k in declared.model_fields},
        credentials | frozenset(str(e["loc"][0]) for e in errors if e["loc"]),
    )
    if errors or options is None:
        raise ValidationError.from_exception_data("options", errors)
    values = {name: getattr(options, name) for name in model.model_fields}
    return {n: values[n] for n in raw if n in values}, values


# -- JSON Schema --------------------------------------------------------------------------


def _declared_kinds() -> list[tuple[str, type[BaseModel]]]:
    """Every available kind with an options model; plugins that fail to load are left out."""
    found = []
    for kind in available():
        try:
            model = declared_options(kind)
        except ProviderError:
            if kind in BUILTIN:
                raise
            continue
        if model is not None:
            found.append((kind, model))
    return found


def provider_json_schema(handler: GetJsonSchemaHandler) -> JsonSchemaValue:
    """The schema of ``providers.NAME``: one branch per kind with a model (``kind`` const,
    its options, nothing else), and one for any other kind (plugins), options unchecked."""
    branches: list[JsonSchemaValue] = []
    kinds: list[str] = []
    for kind, model in _declared_kinds():
        reference = handler(written_model(model).__pydantic_core_schema__)
        branch = handler.resolve_ref_schema(reference)
        branch["properties"] = {"kind": {"const": kind}, **branch.get("properties", {})}
        branch["required"] = ["kind", *branch.get("required", [])]
        branch["additionalProperties"] = False
        branches.append(reference)
        kinds.append(kind)
    branches.append(
        {
            "title": "Plugin provider",
            "description": "A provider plugin that declares no options model: unchecked",
            "properties": {"kind": {"type": "string", "not": {"enum": kinds}}},
            "additionalProperties": _UNCHECKED_SCHEMA,
        }
    )
    return {
        "type": "object",
        "description": "A DNS provider account. `kind` picks the adapter; the other keys are "
        "its options (docs/config.md lists each kind's). Credentials are env:VARIABLE or "
        "file:PATH references.",
        "properties": {
            "kind": {
                "type": "string",
                "description": "A provider adapter: "
                + ", ".join(kinds)
                + ", or an installed plugin",
            }
        },
        "required": ["kind"],
        "oneOf": branches,
    }
