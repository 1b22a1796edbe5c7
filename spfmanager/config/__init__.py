"""The declarative configuration, ``spfmanager.yaml``: models, loader and JSON Schema."""

from spfmanager.config.loader import config_schema, config_schema_json, load_config, parse_config
from spfmanager.config.models import (
    Config,
    Defaults,
    DomainConfig,
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
