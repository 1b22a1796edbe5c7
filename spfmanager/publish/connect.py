"""Open the DNS provider a config names, with its credentials resolved only now."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spfmanager.config import Config, ProviderConfig, Secret
from spfmanager.errors import ConfigError
from spfmanager.providers.base import Provider
from spfmanager.providers.registry import provider_class

#: The provider used when a config names none: zone files beside the config.
EMBEDDED_DEFAULT = ProviderConfig.model_validate({"kind": "zonefile", "directory": "zones"})
EMBEDDED_NAME = "default"


def provider_settings(config: Config, name: str | None) -> tuple[str, ProviderConfig]:
    """(name, settings) of provider ``name``, or the embedded zone-file default."""
    if name is None:
        return EMBEDDED_NAME, EMBEDDED_DEFAULT
    try:
        return name, config.providers[name]
    except KeyError:
        raise ConfigError([f"provider {name!r} is not defined under 'providers:'"]) from None


def open_provider(settings: ProviderConfig, zone: str, base_dir: Path) -> Provider:
    """An adapter instance for ``zone``; paths are relative to the config's directory.

    The adapter gets every option the loader validated, declared defaults included
    (:attr:`ProviderConfig.arguments`), with secret references read only now; a plugin
    that declares no options model gets them as written.
    """
    options: dict[str, Any] = {}
    for key, value in settings.arguments.items():
        options[key] = value.reveal() if isinstance(value, Secret) else value
    if settings.kind == "zonefile":
        directory = Path(str(options.get("directory", "zones"))).expanduser()
        options["directory"] = directory if directory.is_absolute() else base_dir / directory
    return provider_class(settings.kind)(zone, **options)
