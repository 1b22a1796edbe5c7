"""The declarative configuration, ``spfmanager.yaml``: models, loader and JSON Schema.

Loading validates the document: the schema, cross-references (services, providers) and
each provider's options against its adapter's ``Options`` model. A loaded :class:`Config`
keeps its document so that :mod:`spfmanager.compile`, which reports what only compiling
finds, can name file and line too.

It may import ``errors``, ``files``, ``spf`` and ``catalog``, and
``spfmanager.providers.registry`` to look a provider kind up; nothing of the pipeline
after it (``compile``, ``flatten``, ``publish``).
"""

from spfmanager.config.loader import config_schema, config_schema_json, load_config, parse_config
from spfmanager.config.models import (
    Config,
    Defaults,
    DomainConfig,
    MacroConfig,
    Mode,
    Policy,
    ProviderConfig,
    ServiceUse,
    StateConfig,
)
from spfmanager.config.secret import Secret, SecretSource

__all__ = [
    "Config",
    "Defaults",
    "DomainConfig",
    "MacroConfig",
    "Mode",
    "Policy",
    "ProviderConfig",
    "Secret",
    "SecretSource",
    "ServiceUse",
    "StateConfig",
    "config_schema",
    "config_schema_json",
    "load_config",
    "parse_config",
]
