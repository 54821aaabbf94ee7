"""Typed configuration, validated once at load.

Every error names the file, the key and how to fix it, so that a bad edit shows up as a
readable import error in the Airflow UI instead of a stack trace deep in a task.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bsin.core.languages import available_languages, missing_language_message
from bsin.core.paths import config_dir
from bsin.delivery.addresses import check_address, check_mailbox, check_plain_text
from bsin.reporting.disclosure import DEFAULT_MIN_RESPONDENTS

#: Report languages: one catalogue file each under include/templates/i18n/ (bsin.core.languages).
LANGUAGES = available_languages()
FormKind = Literal["monthly", "self_assessment"]
FORM_KINDS: tuple[str, ...] = ("monthly", "self_assessment")
#: Form kinds every partner must have; the others are optional per partner.
REQUIRED_FORM_KINDS: tuple[str, ...] = ("monthly",)


def _each_address_valid(value: list[str]) -> list[str]:
    for address in value:
        check_address(address)
    return value


#: A list of email addresses, each checked by ``bsin.delivery.addresses.check_address``.
EmailAddresses = Annotated[list[str], AfterValidator(_each_address_valid)]


class ConfigError(ValueError):
    """A configuration file is missing or invalid; the message says where and how to fix it."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PartnerForms(_Strict):
    monthly: str = Field(min_length=1)
    # Optional: a partner may join without a self-assessment form; its capability and
    # needs indicators then read "not collected" and cost no API call.
    self_assessment: str | None = Field(None, min_length=1)


class Partner(_Strict):
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 code")
    name: str
    organisation: str
    form_language: str = Field(min_length=2, max_length=3)
    report_language: str = "en"
    timezone: str
    recipients: EmailAddresses = Field(min_length=1)
    active_members: int = Field(ge=0)
    active_members_by_month: dict[str, int] = Field(default_factory=dict)
    forms: PartnerForms

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}: use an IANA name such as 'Europe/Riga'"
            ) from None
        return value

    @field_validator("name", "organisation")
    @classmethod
    def _one_line(cls, value: str) -> str:
        return check_plain_text(value)

    @field_validator("report_language")
    @classmethod
    def _supported_language(cls, value: str) -> str:
        problem = missing_language_message(value)
        if problem:
            raise ValueError(problem)
        return value

    def members_in(self, month: date) -> int:
        """Active members in ``month`` (a per-month override wins over the default)."""
        return self.active_members_by_month.get(month.strftime("%Y-%m"), self.active_members)

    def form_id(self, kind: str) -> str:
        """The Google Form ID of this partner's ``kind`` form (KeyError if it has none)."""
        form_id = getattr(self.forms, kind, None)
        if form_id is None:
            raise KeyError(f"{self.country} has no {kind} form in partners.yaml")
        return form_id

    @property
    def form_kinds(self) -> tuple[str, ...]:
        """The form kinds this partner collects, in FORM_KINDS order."""
        return tuple(k for k in FORM_KINDS if getattr(self.forms, k, None) is not None)

    def has_form(self, kind: str) -> bool:
        """Whether this partner collects a ``kind`` form."""
        return kind in self.form_kinds


class PartnersConfig(_Strict):
    partners: list[Partner] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> PartnersConfig:
        seen: set[str] = set()
        for p in self.partners:
            if p.country in seen:
                raise ValueError(f"duplicate country {p.country!r}: keep one entry per country")
            seen.add(p.country)
        form_ids = [p.form_id(k) for p in self.partners for k in p.form_kinds]
        dupes = sorted({f for f in form_ids if form_ids.count(f) > 1})
        if dupes:
            raise ValueError(f"form id(s) {dupes} used twice: each form belongs to one partner")
        return self

    @property
    def countries(self) -> list[str]:
        return [p.country for p in self.partners]

    def partner(self, country: str) -> Partner:
        for p in self.partners:
            if p.country == country:
                return p
        raise KeyError(f"no partner {country!r} in partners.yaml (known: {self.countries})")


class ValidationLimits(_Strict):
    max_quarantine_share: float = Field(0.5, ge=0, le=1)
    min_response_rate: float = Field(0.0, ge=0, le=1)


class ProgrammeConfig(_Strict):
    name: str
    first_month: date
    # None: an open-ended programme, run every month from first_month on.
    last_month: date | None = None
    grace_days: int = Field(7, ge=0, le=27)
    # Earlier report months whose landed responses every run checks against the form's
    # id listing, so that a response deleted in Google Forms leaves the warehouse too.
    reconcile_months: int = Field(3, ge=0, le=24)
    alert_recipients: EmailAddresses = Field(default_factory=list)
    sender: str
    validation: ValidationLimits = ValidationLimits()
    #: k of the disclosure rule (bsin.reporting.disclosure, docs/security.md): the fewest answers of
    #: a country behind any figure shown outside that country.
    min_respondents: int = Field(DEFAULT_MIN_RESPONDENTS, strict=True)

    @field_validator("min_respondents")
    @classmethod
    def _protective_k(cls, value: int) -> int:
        if value < 2:
            raise ValueError(
                f"{value} protects nobody: set at least 2 (3 is the default, 5 common practice)"
            )
        return value

    @field_validator("sender")
    @classmethod
    def _valid_sender(cls, value: str) -> str:
        return check_mailbox(value)

    #: ``required``: every month's reports wait for approval in the Airflow UI before
    #: they are sent (bsin.delivery.approval); ``off``: they are sent once the marts are built.
    approval: Literal["off", "required"] = "off"

    @field_validator("approval", mode="before")
    @classmethod
    def _approval_word(cls, value: Any) -> Any:
        # YAML reads an unquoted `off` as false.
        return "off" if value is False else value

    @field_validator("first_month", "last_month")
    @classmethod
    def _first_of_month(cls, value: date | None) -> date | None:
        if value is not None and value.day != 1:
            raise ValueError(f"{value} is not the 1st of a month: write months as YYYY-MM-01")
        return value

    @property
    def effective_last_month(self) -> date:
        """``last_month``, or for an open-ended programme the last month that has ended."""
        if self.last_month is not None:
            return self.last_month
        from datetime import UTC, datetime

        today = datetime.now(UTC).date()
        year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
        return max(self.first_month, date(year, month, 1))

    @model_validator(mode="after")
    def _ordered(self) -> ProgrammeConfig:
        if self.last_month is not None and self.last_month < self.first_month:
            raise ValueError("last_month is before first_month: swap them")
        return self


def yaml_key_path(loc: tuple[Any, ...], data: Any) -> str:
    """Render a pydantic error location as a YAML key path, naming list items by country."""
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int) and isinstance(node, list) and item < len(node):
            node = node[item]
            label = node.get("country") if isinstance(node, dict) else None
            parts[-1] = f"{parts[-1]}[{item}{' ' + label if label else ''}]"
            continue
        parts.append(str(item))
        node = node.get(item) if isinstance(node, dict) else None
    return ".".join(parts) or "(top level)"


# libyaml's safe loader when PyYAML has it: same safe constructors, ~10x faster. A mapping
# is loaded with partners.yaml on every extract and harmonise task, so at network scale
# the pure-Python parser cost seconds per run (docs/performance.md).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# Validated models by (model, file content digest). A task loads each mapping, and with it
# partners.yaml, several times; at 40 countries parsing the YAML again cost about a second
# a month (docs/performance.md). Keyed by content, not modification time, so an edited file
# is always read anew; the models are frozen, so sharing one is safe.
_MODEL_CACHE: dict[tuple[type[BaseModel], bytes], Any] = {}
_MODEL_CACHE_SIZE = 256


def load_yaml_model(path: Path, model: type[BaseModel]) -> Any:
    """Load ``path`` and validate it as ``model``; raise ConfigError naming file, key and fix."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: file not found; create it (see docs/configuration.md)"
        ) from None
    key = (model, hashlib.blake2b(raw, digest_size=16).digest())
    cached = _MODEL_CACHE.get(key)
    if cached is not None:
        return cached
    loaded = _validate_yaml(path, raw, model)
    if len(_MODEL_CACHE) >= _MODEL_CACHE_SIZE:
        _MODEL_CACHE.pop(next(iter(_MODEL_CACHE)))
    _MODEL_CACHE[key] = loaded
    return loaded


def _validate_yaml(path: Path, raw: bytes, model: type[BaseModel]) -> Any:
    try:
        data = yaml.load(raw.decode("utf-8"), Loader=_YAML_LOADER)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc}); save it as UTF-8") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key: remove it or check its spelling"
            elif err["type"] == "missing":
                msg = "required key is missing: add it"
            lines.append(f"  {yaml_key_path(err['loc'], data)}: {msg}")
        raise ConfigError(f"{path}: invalid configuration\n" + "\n".join(lines)) from None


def load_partners(path: Path | None = None) -> PartnersConfig:
    """Load and validate ``partners.yaml``."""
    return load_yaml_model(path or config_dir() / "partners.yaml", PartnersConfig)


def load_programme(path: Path | None = None) -> ProgrammeConfig:
    """Load and validate ``programme.yaml``."""
    return load_yaml_model(path or config_dir() / "programme.yaml", ProgrammeConfig)
