"""The pydantic models of ``spfmanager.yaml`` (see docs/config.md).

Cross-references (service ids and their parameters, provider names) are checked during
validation against :class:`References`, set for the duration of one ``Config`` validation.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from ipaddress import ip_address
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    ModelWrapValidatorHandler,
    PlainSerializer,
    PlainValidator,
    PrivateAttr,
    Strict,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

from spfmanager.catalog import Catalog, ServiceDefinition, ServiceId, load_catalog
from spfmanager.catalog.service import IPv4Text, IPv6Text
from spfmanager.config.notifications import NotificationsConfig
from spfmanager.config.options import (
    OptionValues,
    check_options,
    declared_options,
    provider_json_schema,
)
from spfmanager.config.schedule import ScheduleConfig
from spfmanager.errors import ProviderError, SPFSyntaxError
from spfmanager.files.yamlnodes import Document
from spfmanager.providers.registry import available
from spfmanager.spf.limits import MAX_DNS_LOOKUPS
from spfmanager.spf.parser import parse_term
from spfmanager.spf.results import Qualifier

MAX_TTL = 2**31 - 1  # RFC 2181 8
SELF = "@"  # in a: and mx: lists, the domain itself (a bare 'a' or 'mx')
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z][a-z0-9-]*$")


class Policy(StrEnum):
    """The final ``all`` of a managed record. Only failing policies are allowed."""

    FAIL = "-all"
    SOFTFAIL = "~all"

    @property
    def qualifier(self) -> Qualifier:
        return Qualifier.FAIL if self is Policy.FAIL else Qualifier.SOFTFAIL


class Mode(StrEnum):
    """How a domain's record is published (docs/macro.md)."""

    FLATTEN = "flatten"  # address terms, chained records if needed (the default)
    MACRO = "macro"  # one include answered per client by rbldnsd (the ``macro:`` section)


def _policy(value: Any) -> Any:
    reasons = {
        "+all": "authorises every host on the internet",
        "all": "authorises every host on the internet",
        "?all": "says nothing about unlisted hosts, so it protects nothing",
    }
    if isinstance(value, str) and value in reasons:
        raise PydanticCustomError(
            "unsafe_policy",
            "{value} {reason}; use '-all' (fail) or '~all' (softfail)",
            {"value": repr(value), "reason": reasons[value]},
        )
    return value


def normalize_domain(name: str) -> str:
    """A domain as the config stores it: lower case, without the final dot."""
    return name.rstrip(".").lower()


def _domain_name(value: str) -> str:
    name = normalize_domain(value)
    if not _DOMAIN.match(name):
        raise PydanticCustomError(
            "domain_name", "{value} is not a domain name", {"value": repr(value)}
        )
    return name


def _domain_spec(mechanism: str) -> AfterValidator:
    def check(value: str) -> str:
        if mechanism != "include" and value == SELF:
            return value
        try:
            return parse_term(f"{mechanism}:{value}").render().partition(":")[2]
        except SPFSyntaxError as exc:
            raise PydanticCustomError(
                "domain_spec",
                "{value} is not a valid {mechanism} target: {reason}",
                {"value": repr(value), "mechanism": mechanism, "reason": exc.message},
            ) from None

    return AfterValidator(check)


def _term(value: str) -> str:
    try:
        return parse_term(value).render()
    except SPFSyntaxError as exc:
        raise PydanticCustomError(
            "spf_term",
            "{value} is not an SPF term: {reason}",
            {"value": repr(value), "reason": exc.message},
        ) from None


def _hosts(value: Any) -> Any:
    """``true`` means the domain itself, ``false`` nothing; otherwise a list of targets."""
    if value is True:
        return [SELF]
    if value is False or value is None:
        return []
    return value


DomainName = Annotated[
    str,
    AfterValidator(_domain_name),
    WithJsonSchema({"type": "string", "pattern": _DOMAIN.pattern}),
]
PolicyField = Annotated[Policy, BeforeValidator(_policy)]
# Numbers are Strict: YAML reads `true`/`yes` as booleans, which lax pydantic would take as
# 1 (a TTL of one second), and a quoted "3600" is a string where the schema says integer.
TTL = Annotated[int, Strict(), Field(ge=1, le=MAX_TTL, description="Seconds")]
LookupBudget = Annotated[
    int,
    Strict(),
    Field(
        ge=1,
        le=MAX_DNS_LOOKUPS,
        description="DNS lookups the published records should cost: more, up to RFC 7208's "
        "limit of 10, is published with a warning; only more than 10 is refused",
    ),
]
MaxIPv4 = Annotated[
    int,
    Strict(),
    Field(
        ge=0,
        le=32,
        description="Safety: plans authorizing more IPv4 addresses than one /N holds need --force",
    ),
]
MaxIPv6 = Annotated[
    int,
    Strict(),
    Field(
        ge=0,
        le=128,
        description="Safety: plans authorizing more IPv6 addresses than one /N holds need --force",
    ),
]
MinPrefix4 = Annotated[
    int,
    Strict(),
    Field(
        ge=0,
        le=32,
        description="Safety: an authorized IPv4 range wider than /N (e.g. 0.0.0.0/0 from "
        "upstream) needs --force, and is held by the daemon",
    ),
]
MinPrefix6 = Annotated[
    int,
    Strict(),
    Field(
        ge=0,
        le=128,
        description="Safety: an authorized IPv6 range wider than /N (e.g. ::/0) needs --force",
    ),
]
TTLOverride = Annotated[
    bool,
    Strict(),
    Field(
        description="Set the root's TTL to ttl even when other TXT values (verification "
        "strings...) share the name, changing theirs too (one TTL per RRset, RFC 2181 5.2); "
        "by default the RRset keeps its TTL",
    ),
]
ShrinkPercent = Annotated[
    int,
    Strict(),
    Field(
        ge=0,
        le=100,
        description="Safety: plans under which one service loses more than this share (percent) "
        "of the addresses it had at the last apply need --force",
    ),
]
GrowthPercent = Annotated[
    int,
    Strict(),
    Field(
        ge=0,
        description="Safety: plans under which one service grows by more than this share "
        "(percent) of the addresses it had at the last apply need --force",
    ),
]
QueryBudget = Annotated[
    int,
    Strict(),
    Field(ge=1, le=1_000_000, description="DNS queries flattening one domain may send"),
]
# Strict floats take integers (60) but not booleans or strings.
Deadline = Annotated[
    float,
    Strict(),
    Field(gt=0, le=86_400, description="Seconds flattening one domain may take"),
]


_HOSTS_SCHEMA = WithJsonSchema(
    {"anyOf": [{"type": "boolean"}, {"type": "array", "items": {"type": "string"}}]}
)
AHosts = Annotated[
    tuple[Annotated[str, _domain_spec("a")], ...], BeforeValidator(_hosts), _HOSTS_SCHEMA
]
MXHosts = Annotated[
    tuple[Annotated[str, _domain_spec("mx")], ...], BeforeValidator(_hosts), _HOSTS_SCHEMA
]


@dataclass(frozen=True)
class References:
    """What names in a config may refer to while it is being validated."""

    catalog: Catalog
    providers: frozenset[str]
    unchecked_services: frozenset[str] = frozenset()


_REFERENCES: ContextVar[References | None] = ContextVar("spfmanager_config_refs", default=None)


@contextmanager
def _references(refs: References) -> Iterator[None]:
    token = _REFERENCES.set(refs)
    try:
        yield
    finally:
        _REFERENCES.reset(token)


def _close(name: str, known: frozenset[str] | Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f", did you mean {close[0]!r}?" if close else ""


def _check_provider(name: str | None) -> str | None:
    refs = _REFERENCES.get()
    if name is None or refs is None or name in refs.providers:
        return name
    defined = ", ".join(sorted(refs.providers)) or "none; add a 'providers:' section"
    raise PydanticCustomError(
        "unknown_provider",
        "unknown provider {name}{hint} (defined: {defined})",
        {"name": repr(name), "hint": _close(name, refs.providers), "defined": defined},
    )


ProviderName = Annotated[str | None, AfterValidator(_check_provider)]


@dataclass(frozen=True, slots=True)
class ServiceUse:
    """One entry of a domain's ``services:`` list: a service id and its parameters."""

    id: str
    params: tuple[tuple[str, str], ...] = ()

    @property
    def parameters(self) -> dict[str, str]:
        return dict(self.params)

    def to_yaml(self) -> str | dict[str, dict[str, str]]:
        return {self.id: self.parameters} if self.params else self.id


def _service_use(value: Any) -> ServiceUse:
    if isinstance(value, ServiceUse):
        return value
    if isinstance(value, str):
        use = ServiceUse(value)
    elif isinstance(value, dict) and len(value) == 1:
        ((service_id, raw),) = value.items()
        raw = {} if raw is None else raw
        if not isinstance(service_id, str) or not isinstance(raw, dict):
            raise PydanticCustomError(
                "service_use", "write a parameterised service as {id: {name: value}}"
            )
        bad = [k for k, v in raw.items() if not isinstance(v, str | int) or isinstance(v, bool)]
        if bad:
            raise PydanticCustomError(
                "service_parameter", "parameter {name} must be a string", {"name": repr(bad[0])}
            )
        use = ServiceUse(service_id, tuple(sorted((str(k), str(v)) for k, v in raw.items())))
    else:
        raise PydanticCustomError(
            "service_use", "expected a service id or a one-key mapping {id: {name: value}}"
        )
    refs = _REFERENCES.get()
    if refs is None or use.id in refs.unchecked_services:
        return use
    if use.id not in refs.catalog:
        raise PydanticCustomError(
            "unknown_service", "{message}", {"message": refs.catalog.unknown_message(use.id)}
        )
    if problems := refs.catalog.get(use.id).problems(use.parameters):
        raise PydanticCustomError(
            "service_parameters",
            "{service}: {problems}",
            {"service": use.id, "problems": "; ".join(problems)},
        )
    return use


ServiceUseField = Annotated[
    ServiceUse,
    PlainValidator(_service_use),
    PlainSerializer(ServiceUse.to_yaml),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "description": "A service id"},
                {
                    "type": "object",
                    "description": "{service id: {parameter: value}}",
                    "minProperties": 1,
                    "maxProperties": 1,
                    "additionalProperties": {
                        "type": ["object", "null"],
                        "additionalProperties": {"type": ["string", "integer"]},
                    },
                },
            ]
        }
    ),
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


ModeField = Annotated[
    Mode,
    Field(
        description="flatten: publish address terms (chained records when needed); macro: "
        "one include answered per client from the 'macro:' section's zone (rbldnsd, or "
        "wildcard records)"
    ),
]


def _listen(value: str) -> str:
    address, slash, port = value.rpartition("/")
    if not slash:
        address, port = value, "53"
    try:
        ip_address(address)
        number = int(port)
    except ValueError:
        number = 0
    if not 1 <= number <= 65535:
        raise PydanticCustomError(
            "listen",
            "{value} is not ADDRESS/PORT (e.g. 127.0.0.1/5353 or 0.0.0.0/53)",
            {"value": repr(value)},
        )
    return f"{address}/{number}"


def _contact(value: str) -> str:
    """The SOA rname: ``hostmaster@example.net`` is written ``hostmaster.example.net``."""
    local, at, domain = value.partition("@")
    if at and "." in local:
        raise PydanticCustomError(
            "contact",
            "{value}: a dot in the mailbox name cannot be written in a SOA record here",
            {"value": repr(value)},
        )
    return _domain_name(f"{local}.{domain}" if at else value)


class MacroBackend(StrEnum):
    """What answers the macro zone (docs/macro.md)."""

    RBLDNSD = "rbldnsd"  # an rbldnsd ``combined`` data file spfmanager writes
    RECORDS = "records"  # wildcard TXT records published through a provider (PowerDNS...)


Glue = tuple[Annotated[str, AfterValidator(lambda v: str(ip_address(v)))], ...]


class DelegationConfig(_Model):
    """Where spfmanager publishes the macro zone's NS records (and glue) at its parent."""

    provider: ProviderName = Field(
        default=None,
        description="The provider holding the parent zone (its adapter must manage NS "
        "records); default: defaults.provider",
    )
    zone: DomainName | None = Field(
        default=None,
        description="The parent zone at that provider; default: the macro zone without its "
        "first label",
    )
    glue: dict[DomainName, Glue] = Field(
        default={},
        description="Addresses of each nameserver named inside the macro zone (its glue "
        "A/AAAA records, required for those)",
    )


class MacroConfig(_Model):
    """Macro mode's zone and what answers it: an rbldnsd data file, or records published
    through a provider (docs/macro.md)."""

    zone: DomainName = Field(
        description="The macro zone, e.g. spf.example.net, delegated to the rbldnsd servers"
    )
    backend: MacroBackend = Field(
        default=MacroBackend.RBLDNSD,
        description="rbldnsd: write an rbldnsd data file; records: publish wildcard TXT "
        "records through 'provider' (PowerDNS, or any provider applying a batch atomically)",
    )
    data_file: Annotated[str, StringConstraints(min_length=1)] = Field(
        default="macro.data",
        description="The rbldnsd combined data file, relative to the config file",
    )
    nameservers: tuple[DomainName, ...] = Field(
        default=(),
        description="The names of the servers answering the zone (rbldnsd: its $NS, the "
        "first is the SOA's primary; required for rbldnsd and for a delegation)",
    )
    provider: ProviderName = Field(
        default=None,
        description="records backend: the provider whose zone holds the macro zone's names",
    )
    provider_zone: DomainName | None = Field(
        default=None,
        description="records backend: that provider's zone; default: the macro zone itself",
    )
    delegation: DelegationConfig | None = Field(
        default=None,
        description="Publish the NS records (and glue) of the macro zone at its parent; "
        "without it, plan checks the delegation and prints the records to add",
    )
    contact: (
        Annotated[
            str,
            AfterValidator(_contact),
            WithJsonSchema({"type": "string"}),
        ]
        | None
    ) = Field(
        default=None,
        description="The SOA contact (hostmaster@example.net); default hostmaster.<zone>",
    )
    ttl: TTL = Field(default=300, description="TTL of the macro answers (and rbldnsd's SOA/NS)")
    listen: Annotated[str, AfterValidator(_listen)] = Field(
        default="127.0.0.1/5353",
        description="ADDRESS/PORT rbldnsd listens on in the command macro-server prints and runs",
    )

    @model_validator(mode="after")
    def _check_backend(self) -> Self:
        zone = self.zone
        if self.backend is MacroBackend.RBLDNSD and not self.nameservers:
            raise PydanticCustomError(
                "macro", "the rbldnsd backend needs 'nameservers' (the zone's $NS)"
            )
        if self.backend is MacroBackend.RECORDS:
            if self.provider is None:
                raise PydanticCustomError(
                    "macro", "the records backend needs 'provider' (where the records go)"
                )
            home = self.provider_zone or zone
            if zone != home and not zone.endswith(f".{home}"):
                raise PydanticCustomError(
                    "macro",
                    "provider_zone {home} does not hold the macro zone {zone}",
                    {"home": home, "zone": zone},
                )
        delegation = self.delegation
        if delegation is None:
            return self
        if not self.nameservers:
            raise PydanticCustomError("macro", "a delegation needs 'nameservers' (its NS records)")
        parent = delegation.zone or self.parent_zone
        if parent is None or not zone.endswith(f".{parent}"):
            raise PydanticCustomError(
                "macro",
                "delegation zone {parent} is not a parent of the macro zone {zone}",
                {"parent": parent or "(none)", "zone": zone},
            )
        for name, addresses in delegation.glue.items():
            if not addresses:
                raise PydanticCustomError(
                    "macro", "glue for {name} lists no address", {"name": name}
                )
            if name not in self.nameservers:
                raise PydanticCustomError(
                    "macro", "glue for {name}, which is not one of 'nameservers'", {"name": name}
                )
        for name in self.nameservers:
            inside = name == zone or name.endswith(f".{zone}")
            if inside and name not in delegation.glue:
                raise PydanticCustomError(
                    "macro",
                    "nameserver {name} is inside the macro zone: give its addresses under "
                    "'delegation.glue' (resolvers cannot find it otherwise)",
                    {"name": name},
                )
        return self

    @property
    def parent_zone(self) -> str | None:
        """The delegation's parent zone (given, or the macro zone without its first label)."""
        if self.delegation is not None and self.delegation.zone is not None:
            return self.delegation.zone
        _, _, parent = self.zone.partition(".")
        return parent or None


class Defaults(_Model):
    """Values every domain inherits unless it sets its own."""

    policy: PolicyField = Policy.FAIL
    ttl: TTL = 3600
    ttl_override: TTLOverride = False
    lookup_budget: LookupBudget = 8
    provider: ProviderName = None
    max_authorized_ipv4: MaxIPv4 = 8
    max_authorized_ipv6: MaxIPv6 = 16
    max_service_shrink: ShrinkPercent = 25
    max_service_growth: GrowthPercent = 400
    query_budget: QueryBudget = 5000
    flatten_deadline: Deadline = 60.0
    min_ipv4_prefix: MinPrefix4 = 8
    min_ipv6_prefix: MinPrefix6 = 16
    schedule: ScheduleConfig = ScheduleConfig()
    mode: ModeField = Mode.FLATTEN


class ProviderConfig(BaseModel):
    """A DNS provider account. ``kind`` picks the adapter; other keys are its options.

    The options are checked against the adapter's declared ``Options`` model (see
    :mod:`spfmanager.config.options`): unknown, missing and mistyped options are errors
    at ``providers.NAME.OPTION``; credentials must be :class:`Secret` references.
    """

    model_config = ConfigDict(frozen=True, extra="allow")
    __pydantic_extra__: dict[str, Any] = Field(init=False)  # as written; checked below

    kind: str = Field(description="A provider adapter, e.g. zonefile, route53, cloudflare")

    _given: OptionValues = PrivateAttr(default_factory=dict)
    _arguments: OptionValues = PrivateAttr(default_factory=dict)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        kinds = available()
        if kind not in kinds:
            raise PydanticCustomError(
                "provider_kind",
                "unknown provider kind {kind}{hint} (available: {available})",
                {
                    "kind": repr(kind),
                    "hint": _close(kind, frozenset(kinds)),
                    "available": ", ".join(kinds),
                },
            )
        try:
            declared_options(kind)
        except ProviderError as exc:  # a plugin that fails to load
            raise PydanticCustomError("provider_kind", "{message}", {"message": str(exc)}) from None
        return kind

    @model_validator(mode="after")
    def _check_options(self) -> Self:
        self._given, self._arguments = check_options(self.kind, self.__pydantic_extra__ or {})
        return self

    @property
    def options(self) -> OptionValues:
        """The adapter options written in the config (everything but ``kind``), validated;
        secrets stay unresolved."""
        return dict(self._given)

    @property
    def arguments(self) -> OptionValues:
        """Every option the adapter is opened with: :attr:`options` and the declared
        defaults of the others (only :attr:`options` for a plugin that declares none)."""
        return dict(self._arguments)

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return provider_json_schema(handler)


class StateConfig(_Model):
    """Where spfmanager remembers what it published."""

    url: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9+]*://")] = (
        "sqlite:///spfmanager.db"
    )


class DomainConfig(_Model):
    """The senders of one domain and how its record is published."""

    services: tuple[ServiceUseField, ...] = ()
    ip4: tuple[IPv4Text, ...] = ()
    ip6: tuple[IPv6Text, ...] = ()
    a: AHosts = Field(default=(), description="a targets; true or '@' for the domain itself")
    mx: MXHosts = Field(default=(), description="mx targets; true or '@' for the domain itself")
    include: tuple[Annotated[str, _domain_spec("include")], ...] = ()
    keep: tuple[Annotated[str, AfterValidator(_term)], ...] = Field(
        default=(),
        description="Terms of this record never to flatten, e.g. include:spf.partner.example",
    )
    policy: PolicyField | None = None
    ttl: TTL | None = None
    ttl_override: TTLOverride | None = None
    lookup_budget: LookupBudget | None = None
    max_authorized_ipv4: MaxIPv4 | None = None
    max_authorized_ipv6: MaxIPv6 | None = None
    max_service_shrink: ShrinkPercent | None = None
    max_service_growth: GrowthPercent | None = None
    query_budget: QueryBudget | None = None
    flatten_deadline: Deadline | None = None
    min_ipv4_prefix: MinPrefix4 | None = None
    min_ipv6_prefix: MinPrefix6 | None = None
    schedule: ScheduleConfig | None = Field(
        default=None, description="When the daemon re-flattens this domain"
    )
    provider: ProviderName = None
    zone: DomainName | None = Field(
        default=None, description="The DNS zone; defaults to the domain"
    )
    mode: ModeField | None = None


class Config(_Model):
    """A whole ``spfmanager.yaml``.

    A config read by the loader keeps its :attr:`source` document, so that problems found
    later (compiling) can name file and line too. Two configs are equal when their
    settings are, wherever they were read from.
    """

    defaults: Defaults = Defaults()
    providers: dict[
        Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+$")], ProviderConfig
    ] = {}
    state: StateConfig = StateConfig()
    services: dict[ServiceId, ServiceDefinition] = Field(
        default={}, description="Your own services, same schema as the bundled catalog's"
    )
    domains: dict[DomainName, DomainConfig] = {}
    notifications: NotificationsConfig = NotificationsConfig()
    macro: MacroConfig | None = Field(
        default=None, description="Macro mode's zone and data file (for 'mode: macro')"
    )

    _source: Document | None = PrivateAttr(default=None)

    @property
    def source(self) -> Document | None:
        """The YAML document this config was read from; None when built in memory."""
        return self._source

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Config):
            return NotImplemented
        return type(self) is type(other) and self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # its settings hold dicts: never hashable

    @model_validator(mode="wrap")
    @classmethod
    def _with_references(
        cls, data: Any, handler: ModelWrapValidatorHandler[Self], info: ValidationInfo
    ) -> Self:
        if not isinstance(data, dict):
            return handler(data)
        context = info.context if isinstance(info.context, dict) else {}
        catalog = context.get("catalog")
        if catalog is None:
            catalog = load_catalog()
        with _references(_references_from(data, catalog)):
            return handler(data)


def _references_from(data: dict[str, Any], catalog: Catalog) -> References:
    """References from the raw data: provider names and the config's own services."""
    providers = data.get("providers")
    services = data.get("services")
    own: dict[str, ServiceDefinition] = {}
    unchecked: set[str] = set()
    for service_id, raw in services.items() if isinstance(services, dict) else ():
        try:
            own[str(service_id)] = ServiceDefinition.model_validate(raw)
        except ValidationError:
            unchecked.add(str(service_id))  # reported where it is defined
    return References(
        catalog=catalog.extended(own),
        providers=frozenset(str(p) for p in providers)
        if isinstance(providers, dict)
        else frozenset(),
        unchecked_services=frozenset(unchecked),
    )
