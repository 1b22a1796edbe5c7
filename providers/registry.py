"""Find provider classes: the built-in adapters and plugins of the entry-point group
``spfmanager.providers``."""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points

from spfmanager.errors import ProviderError
from spfmanager.providers.base import Provider

ENTRY_POINT_GROUP = "spfmanager.providers"
BUILTIN = {
    "zonefile": "spfmanager.providers.zonefile:ZoneFileProvider",
    "route53": "spfmanager.providers.route53:Route53Provider",
    "cloudflare": "spfmanager.providers.cloudflare:CloudflareProvider",
    "rfc2136": "spfmanager.providers.rfc2136:RFC2136Provider",
    "powerdns": "spfmanager.providers.powerdns:PowerDNSProvider",
}


def available() -> list[str]:
    """Names of every provider: built-in and installed plugins."""
    plugins = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return sorted(set(BUILTIN) | plugins)


def provider_class(kind: str) -> type[Provider]:
    """The class for provider ``kind``; a clear error naming the plugin that failed."""
    target = BUILTIN.get(kind)
    if target is None:
        matches = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == kind]
        if not matches:
            raise ProviderError(
                f"unknown DNS provider {kind!r}; available: {', '.join(available())}"
            )
        try:
            loaded = matches[0].load()
        except Exception as exc:
            raise ProviderError(
                f"provider plugin {kind!r} ({matches[0].value}) failed to load: {exc}"
            ) from exc
    else:
        module_name, _, attribute = target.partition(":")
        try:
            loaded = getattr(import_module(module_name), attribute)
        except (ImportError, AttributeError) as exc:
            raise ProviderError(f"provider {kind!r} failed to load: {exc}") from exc
    if not (isinstance(loaded, type) and issubclass(loaded, Provider)):
        raise ProviderError(f"provider plugin {kind!r} is not a Provider subclass")
    return loaded
