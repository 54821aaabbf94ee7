"""Translations of the report's fixed strings; numbers and months through ``bsin.reporting.formatting``.

One YAML catalogue per language under ``include/templates/i18n/<lang>.yaml``, flat
``key: text`` pairs with ``str.format`` placeholders; the files are the list of languages
(``bsin.core.languages``). English is the reference: every other catalogue must have exactly its
keys and placeholders (tests/unit/test_report_i18n.py checks this), and a key missing at run
time falls back to English with a warning rather than sending a partner a broken email.
Numbers, percentages, month and country names are not in the catalogues: they come from
CLDR through Babel (``Translator.fmt``), the same for every report.
"""

from __future__ import annotations

import logging
import string
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import yaml

from bsin.core.languages import I18N_DIR, REFERENCE_LANGUAGE, missing_language_message
from bsin.reporting.formatting import Formatter

log = logging.getLogger(__name__)

DEFAULT_LANGUAGE = REFERENCE_LANGUAGE
#: Keys a catalogue may have without English having them.
OPTIONAL_KEYS = frozenset({"month_year_pattern"})


class TranslationError(ValueError):
    """A catalogue is missing or malformed; the message names the file and the fix."""


def catalogue_path(language: str, folder: Path | None = None) -> Path:
    """Where the catalogue of ``language`` lives."""
    return (folder or I18N_DIR) / f"{language}.yaml"


@lru_cache(maxsize=16)
def load_catalogue(language: str, folder: Path | None = None) -> dict[str, object]:
    """The key -> text mapping of ``language``."""
    path = catalogue_path(language, folder)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TranslationError(
            missing_language_message(language, folder) or f"{path}: catalogue missing"
        ) from None
    except yaml.YAMLError as exc:
        raise TranslationError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise TranslationError(f"{path}: expected a mapping of key: text")
    return data


def placeholders(text: str) -> set[str]:
    """The ``{name}`` fields a format string uses."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@dataclass(frozen=True)
class Translator:
    """Looks up fixed strings and formats numbers and months for one language."""

    language: str

    def _lookup(self, key: str) -> object:
        own = load_catalogue(self.language)
        if key in own:
            return own[key]
        fallback = load_catalogue(DEFAULT_LANGUAGE)
        if key in fallback:
            log.warning("translation %r missing in %s.yaml: using English", key, self.language)
            return fallback[key]
        raise TranslationError(f"translation key {key!r} missing in en.yaml: add it")

    def has(self, key: str) -> bool:
        """Whether ``key`` is known in this language or in English."""
        return key in load_catalogue(self.language) or key in load_catalogue(DEFAULT_LANGUAGE)

    def __call__(self, key: str, **fields: object) -> str:
        """The text of ``key`` with ``fields`` filled in."""
        text = self._lookup(key)
        if not isinstance(text, str):
            raise TranslationError(f"translation key {key!r} is not a string")
        return text.format(**fields) if fields else text

    @property
    def fmt(self) -> Formatter:
        """The locale formatter (Babel) of this language."""
        pattern = load_catalogue(self.language).get("month_year_pattern")
        return Formatter(self.language, str(pattern) if pattern else None)

    def month(self, month: date, short: bool = False) -> str:
        """``March 2023`` in this language (``Mar`` when ``short``), from CLDR."""
        return self.fmt.month(month, short=short)

    def number(self, value: float, decimals: int = 0, signed: bool = False) -> str:
        """``value`` in this language's format, rounded half-up (a sign when ``signed``)."""
        return self.fmt.number(value, decimals=decimals, signed=signed)

    def percent(self, fraction: float, decimals: int = 0, signed: bool = False) -> str:
        """A share 0..1 as this language writes a percentage."""
        return self.fmt.percent(fraction, decimals=decimals, signed=signed)

    def country(self, code: str, fallback: str | None = None) -> str:
        """Country ``code``'s name in this language (CLDR)."""
        return self.fmt.country(code, fallback)
