"""One email sending service: the SPF terms it needs, parameterised by Jinja2 templates.

A service lists ``include`` and ``a`` targets (templates over its ``parameters``) and
literal ``ip4``/``ip6`` networks. :meth:`ServiceDefinition.terms` renders them into parsed
:mod:`spfmanager.spf.terms`; nothing downstream ever sees the template text.

Besides its terms a service says where they go (:class:`Root`: in the domain's own record,
only with a custom return-path, or nowhere), what kind of sender it is (:class:`Category`),
other ids it answers to (``aliases``) and where its terms were confirmed (``docs``,
``sources``, ``verified``, ``last_verified``). A config's own services may leave those out;
a bundled :class:`BundledService` must say them all.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network
from typing import Annotated, Any, Self

from jinja2 import StrictUndefined, Template, TemplateError, meta
from jinja2.sandbox import SandboxedEnvironment
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from spfmanager.errors import ConfigError, SPFSyntaxError
from spfmanager.spf.parser import parse_term
from spfmanager.spf.results import Qualifier
from spfmanager.spf.terms import IP4, IP6, Term

SERVICE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
ServiceId = Annotated[str, StringConstraints(pattern=SERVICE_ID_PATTERN)]
Url = Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]
HttpsUrl = Annotated[str, StringConstraints(pattern=r"^https://\S+$")]
# A reverse DNS (PTR) name pattern: a host name, or "*." and a suffix.
ReverseDns = Annotated[
    str,
    StringConstraints(
        pattern=r"^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z][a-z0-9-]*[a-z0-9]$"
    ),
]


class Category(StrEnum):
    """What kind of sender a service is (``spfmanager services`` groups by it)."""

    MAILBOX_PROVIDER = "mailbox-provider"  # hosted mailboxes: Microsoft 365, Google Workspace
    ESP = "esp"  # transactional / API email: SendGrid, Mailgun, Amazon SES
    MARKETING = "marketing"  # newsletters and campaigns: Mailchimp, Brevo
    CRM = "crm"
    HELPDESK = "helpdesk"
    SECURITY_GATEWAY = "security-gateway"  # outbound filtering relays: Mimecast, Proofpoint
    FORWARDING = "forwarding"
    HOSTING = "hosting"  # web hosting and registrar mail
    ECOMMERCE = "ecommerce"
    HR_RECRUITING = "hr-recruiting"
    SURVEY = "survey"
    OTHER = "other"


class Root(StrEnum):
    """Where a service's terms belong.

    ``required``: in the record of your From domain (the service sends with your domain as
    envelope sender). ``optional``: only when you give the service a custom return-path on
    your domain. ``none``: never in your root record; the service checks SPF on a return-path
    domain it hosts (often a CNAME you create), so an include there only spends lookups.
    """

    REQUIRED = "required"
    OPTIONAL = "optional"
    NONE = "none"


# Sandboxed: user-defined services in a config file are templates too.
_TEMPLATES = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


def network_term(network: IPv4Network | IPv6Network) -> IP4 | IP6:
    """The ``ip4``/``ip6`` mechanism for ``network``; single hosts are written without a prefix."""
    if isinstance(network, IPv4Network):
        prefix4 = None if network.prefixlen == 32 else network.prefixlen
        return IP4(Qualifier.PASS, network.network_address, prefix4)
    prefix6 = None if network.prefixlen == 128 else network.prefixlen
    return IP6(Qualifier.PASS, network.network_address, prefix6)


def _network_text(family: str, network: type[IPv4Network | IPv6Network]) -> BeforeValidator:
    """Networks are written as text: ``ipaddress`` would read the integer 3232235777 as
    192.168.1.1 and ``true`` as 0.0.0.1, so anything else is refused before it gets there."""

    def check(value: Any) -> Any:
        if isinstance(value, (str, network)):
            return value
        raise PydanticCustomError(
            "network_not_text",
            "{value} is not an {family} network: write it as a string, e.g. {example}",
            {
                "value": repr(value),
                "family": family,
                "example": "'192.0.2.0/24'" if family == "IPv4" else "'2001:db8::/32'",
            },
        )

    return BeforeValidator(check)


IPv4Text = Annotated[IPv4Network, _network_text("IPv4", IPv4Network)]
IPv6Text = Annotated[IPv6Network, _network_text("IPv6", IPv6Network)]


class Parameter(BaseModel):
    """A value the user supplies per domain, e.g. an account id or a region."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str
    example: str
    required: bool = True
    default: str | None = None
    pattern: str | None = Field(
        default=None, description="Regular expression the whole value must match"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(
                    f"pattern {self.pattern!r} is not a regular expression: {exc}"
                ) from None
        if self.required and self.default is not None:
            raise ValueError("a required parameter cannot have a default")
        for value in (self.example, self.default):
            if value is not None and (problem := self.problem(value)):
                raise ValueError(problem)
        return self

    def problem(self, value: str) -> str | None:
        """Why ``value`` is not acceptable, or None."""
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            return f"{value!r} does not match {self.pattern!r}"
        return None


class ServiceDefinition(BaseModel):
    """A sending service as written in a catalog file or under ``services:`` in a config."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    description: str = ""
    aliases: tuple[ServiceId, ...] = Field(
        default=(), description="Other ids that name this service (e.g. a former brand)"
    )
    category: Category = Field(default=Category.OTHER, description="What kind of sender it is")
    root: Root = Field(
        default=Root.REQUIRED,
        description="Where its terms belong: required (your domain's record), optional (only "
        "with a custom return-path on your domain), none (not in your record at all)",
    )
    docs: Url | None = Field(default=None, description="The provider's own SPF documentation")
    sources: tuple[Url, ...] = Field(default=(), description="Pages where the terms were confirmed")
    include: tuple[str, ...] = Field(default=(), description="include: targets (Jinja2 templates)")
    a: tuple[str, ...] = Field(default=(), description="a: targets (Jinja2 templates)")
    ip4: tuple[IPv4Text, ...] = ()
    ip6: tuple[IPv6Text, ...] = ()
    parameters: dict[str, Parameter] = {}
    verified: bool = Field(
        default=False, description="Targets confirmed against the provider's own documentation"
    )
    last_verified: date | None = Field(
        default=None, description="When the terms were last checked against the sources"
    )
    notes: str = ""
    reverse_dns: tuple[ReverseDns, ...] = Field(
        default=(),
        description="Reverse DNS names of the service's senders ('*.' for any host under a "
        "suffix), to recognise its mail in DMARC reports when no address range matches",
    )

    @model_validator(mode="after")
    def _renderable(self) -> Self:
        if not (self.include or self.a or self.ip4 or self.ip6) and self.root is not Root.NONE:
            raise ValueError(
                "a service needs at least one of include, a, ip4, ip6 "
                "(or root: none for a service that needs nothing in SPF)"
            )
        if self.id_like() in self.aliases:
            raise ValueError(f"alias {self.id_like()!r} is the service's own id")
        if len(set(self.aliases)) != len(self.aliases):
            raise ValueError("aliases are listed twice")
        for template in (*self.include, *self.a):
            try:
                names = meta.find_undeclared_variables(_TEMPLATES.parse(template))
            except TemplateError as exc:
                raise ValueError(f"bad template {template!r}: {exc}") from None
            if unknown := sorted(names - set(self.parameters)):
                raise ValueError(f"template {template!r} uses undeclared parameter(s) {unknown}")
        examples = {name: p.example for name, p in self.parameters.items()}
        try:
            self.terms(examples)
        except ConfigError as exc:  # pydantic reports ValueError with the field location
            raise ValueError("; ".join(exc.problems)) from None
        return self

    def id_like(self) -> str | None:
        """The service's id when it has one (a catalog entry); a definition has none."""
        return None

    @property
    def adds_terms(self) -> bool:
        """False for a ``root: none`` service that lists nothing at all."""
        return bool(self.include or self.a or self.ip4 or self.ip6)

    def problems(self, params: Mapping[str, str]) -> list[str]:
        """Every reason ``params`` does not fit this service's parameters."""
        found: list[str] = []
        for name in params:
            if name not in self.parameters:
                close = difflib.get_close_matches(name, self.parameters, n=1)
                hint = f", did you mean {close[0]!r}?" if close else ""
                allowed = ", ".join(sorted(self.parameters)) or "none"
                found.append(f"unknown parameter {name!r}{hint} (allowed: {allowed})")
        for name, parameter in self.parameters.items():
            if name in params:
                if problem := parameter.problem(params[name]):
                    found.append(f"parameter {name!r}: {problem}")
            elif parameter.required:
                found.append(_missing(name, parameter))
        return found

    def terms(self, params: Mapping[str, str] | None = None) -> list[Term]:
        """The parsed terms for ``params``: includes, then a, ip4, ip6.

        Raises :class:`~spfmanager.errors.ConfigError` for bad parameters or a rendered
        target that is not a valid SPF domain-spec.
        """
        params = dict(params or {})
        if problems := self.problems(params):
            raise ConfigError(problems)
        values = {n: p.default for n, p in self.parameters.items() if p.default is not None}
        values.update(params)
        terms: list[Term] = []
        for mechanism, templates in (("include", self.include), ("a", self.a)):
            for template in templates:
                target = _render(template, values)
                try:
                    terms.append(parse_term(f"{mechanism}:{target}"))
                except SPFSyntaxError as exc:
                    raise ConfigError([f"{mechanism} {target!r}: {exc.message}"]) from None
        networks: tuple[IPv4Network | IPv6Network, ...] = (*self.ip4, *self.ip6)
        terms.extend(network_term(n) for n in networks)
        return terms


@lru_cache(maxsize=1024)
def _compiled(template: str) -> Template:
    """A catalog template compiled once per process (compiling is ~100x rendering: a fleet
    of domains sharing a service compiled its include template again for every domain)."""
    return _TEMPLATES.from_string(template)


def _render(template: str, values: Mapping[str, str]) -> str:
    if "{" not in template:  # most includes have no parameter: nothing to render
        return template.strip()
    return _compiled(template).render(values).strip()


def _missing(name: str, parameter: Parameter) -> str:
    """The message for a required parameter left out, with the values it takes."""
    if values := parameter_values(parameter):
        return (
            f"missing required parameter {name!r}: one of {', '.join(values)} "
            f"({parameter.description})"
        )
    return (
        f"missing required parameter {name!r} ({parameter.description}; e.g. {parameter.example!r})"
    )


_LITERAL = re.compile(r"(?:[A-Za-z0-9_-]|\\\.)+")


def parameter_values(parameter: Parameter) -> tuple[str, ...] | None:
    """The values a parameter allows when its pattern lists them (``eu|us`` -> eu, us);
    None for an open pattern (``[0-9]{1,12}``) or none."""
    if parameter.pattern is None:
        return None
    alternatives = parameter.pattern.split("|")
    if not all(_LITERAL.fullmatch(a) for a in alternatives):
        return None
    return tuple(a.replace("\\.", ".") for a in alternatives)


class Service(ServiceDefinition):
    """A catalog entry: a :class:`ServiceDefinition` with its id."""

    id: ServiceId

    def id_like(self) -> str | None:
        return self.id


class BundledService(Service):
    """An entry of the bundled catalog: its provenance is not optional.

    ``docs`` (an https page of the vendor's), the ``sources`` the terms were confirmed on,
    ``last_verified``, ``category`` and ``root`` must all be written in the file.
    """

    category: Category
    root: Root
    docs: HttpsUrl = Field(description="The provider's own SPF documentation")
    sources: tuple[Url, ...] = Field(min_length=1)
    last_verified: date
