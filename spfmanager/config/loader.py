"""Load ``spfmanager.yaml``: parse with line numbers, validate, report every problem at once."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from spfmanager.catalog import Catalog, load_catalog
from spfmanager.config.models import Config
from spfmanager.config.problems import validation_problems
from spfmanager.errors import ConfigError
from spfmanager.yamlnodes import format_loc, parse_yaml


def load_config(path: str | Path, catalog: Catalog | None = None) -> Config:
    """Read and check a config file; raise :class:`ConfigError` listing every problem.

    Besides the schema this checks service ids and parameters against ``catalog`` (the
    bundled one by default), provider references, ``zone`` and ``keep`` of each domain.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read config: {exc.strerror}"]) from None
    return parse_config(text, str(path), catalog)


def parse_config(text: str, name: str = "<config>", catalog: Catalog | None = None) -> Config:
    """:func:`load_config` for text already in memory; ``name`` prefixes messages."""
    # compile imports the config package, so it is imported here, not at module level.
    from spfmanager.compile import config_problems  # noqa: PLC0415

    document = parse_yaml(text, name)
    data = {} if document.data is None else document.data
    catalog = load_catalog() if catalog is None else catalog
    try:
        config = Config.model_validate(data, context={"catalog": catalog})
    except ValidationError as exc:
        raise ConfigError(validation_problems(exc, document, Config)) from None
    problems = config_problems(config, catalog)
    if problems:
        raise ConfigError(
            [f"{document.where(loc)}: {format_loc(loc)}: {message}" for loc, message in problems]
        )
    return config


def config_schema() -> dict[str, object]:
    """The JSON Schema of ``spfmanager.yaml``, for editors and CI."""
    schema = Config.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "spfmanager configuration",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def config_schema_json() -> str:
    """:func:`config_schema` as stable, indented JSON text with a final newline."""
    return json.dumps(config_schema(), indent=2) + "\n"
