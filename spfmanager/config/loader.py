"""Load ``spfmanager.yaml``: parse with line numbers, validate, report every problem at once.

Loading validates the document only; what compiling finds (a ``keep`` term that is not in
the record, a domain outside its zone) is reported by :func:`spfmanager.compile.compile_config`,
located through the document the loaded :class:`Config` keeps.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from spfmanager.catalog import Catalog, load_catalog
from spfmanager.config.models import Config, normalize_domain
from spfmanager.config.problems import located_problems
from spfmanager.errors import ConfigError
from spfmanager.files.yamlnodes import Document, load_yaml, parse_yaml


def load_config(path: str | Path, catalog: Catalog | None = None) -> Config:
    """Read and check a config file; raise :class:`ConfigError` listing every problem.

    Besides the schema this checks service ids and parameters against ``catalog`` (the
    bundled one by default), provider references and each provider's options against its
    adapter, and that no two domains are the same name written differently. A file that
    cannot be read, is not UTF-8, is empty or is not a mapping is a ConfigError too.
    Compiling reports the rest (:func:`spfmanager.compile.compile_file` does both).
    """
    return _config(load_yaml(path, "config"), catalog)


def parse_config(text: str, name: str = "<config>", catalog: Catalog | None = None) -> Config:
    """:func:`load_config` for text already in memory; ``name`` prefixes messages."""
    return _config(parse_yaml(text, name), catalog)


def _config(document: Document, catalog: Catalog | None) -> Config:
    data = document.data
    if data is None:
        raise ConfigError(
            [f"{document.name}:1: (top level): the file is empty; a config needs 'domains:'"]
        )
    if not isinstance(data, dict):
        kind = "list" if isinstance(data, list) else f"single value ({data!r:.40})"
        raise ConfigError(
            [
                f"{document.where(())}: (top level): a config is a mapping of "
                f"{', '.join(Config.model_fields)}, not a {kind}"
            ]
        )
    catalog = load_catalog() if catalog is None else catalog
    found = _same_domains(document)
    try:
        config = Config.model_validate(data, context={"catalog": catalog})
    except ValidationError as exc:
        found += located_problems(exc, document, Config)
    if found:
        raise ConfigError([text for _, text in sorted(found, key=lambda item: item[0])])
    config._source = document  # the loader is its one writer
    return config


def _same_domains(document: Document) -> list[tuple[int, str]]:
    """Domains that are one name written twice (``Example.com`` and ``example.com.``).

    Validation normalises the keys of ``domains:``, so without this check the last
    definition would silently replace the first.
    """
    domains = document.data.get("domains")
    found: list[tuple[int, str]] = []
    first: dict[str, tuple[str, int]] = {}
    for key in domains if isinstance(domains, dict) else ():
        if not isinstance(key, str):
            continue  # reported by validation
        line = document.line(("domains", key))
        seen = first.setdefault(normalize_domain(key), (key, line))
        if seen[0] != key:
            found.append(
                (
                    line,
                    f"{document.name}:{line}: domains.{key}: duplicate domain {key!r}: the "
                    f"same name as {seen[0]!r} on line {seen[1]} (domains are compared in "
                    "lower case, without a final dot)",
                )
            )
    return found


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
