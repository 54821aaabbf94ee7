"""Numbers, percentages, changes, months and country names in a reader's locale (CLDR, Babel).

The one formatter of everything a partner or the programme report shows: subjects,
tables, charts, alt text, the advice of adaptation signals. Each report language is a
Babel locale of the same code (``sv``, ``et``, ``nb`` ...), so decimal commas, the minus
sign (U+2212 in sv/et/lt/fi/nb), the space before ``%`` and month and country names come
from CLDR rather than from hand-written tables.

Rounding is **half-up** on the decimal value a person reads (62.5 % -> 63 %, 37.5 % -> 38 %,
2.25 -> 2.3): the float is first turned into its shortest decimal representation
(``repr``), so ``0.575`` rounds to ``0.58`` although its binary value is just below it.
Python's own ``format`` and Babel's default round half-to-even on the binary value, which
gave "62.5 % -> 62 %" next to "37.5 % -> 38 %" in the same report.

A value that rounds to zero is shown without a sign ("0", never "±0" or "−0").
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

from babel import Locale
from babel.dates import format_date, format_skeleton
from babel.numbers import get_minus_sign_symbol, get_plus_sign_symbol

#: Placeholder for a value that does not exist (no answers, not collected).
MISSING = "–"


@lru_cache(maxsize=32)
def locale_for(language: str) -> Locale:
    """The Babel locale of a report language code (``ValueError`` when CLDR has none)."""
    try:
        return Locale.parse(language.replace("-", "_"))
    except (ValueError, LookupError) as exc:
        raise ValueError(
            f"language {language!r} is not a CLDR locale Babel knows ({exc}): "
            "use an ISO 639 code such as 'fi' or 'nb'"
        ) from None


def round_half_up(value: float | Decimal, decimals: int = 0) -> Decimal:
    """``value`` rounded half-up to ``decimals`` places, as the decimal a person reads."""
    dec = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    out = dec.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    # -0.0 would print as "−0".
    return abs(out) if out == 0 else out


@dataclass(frozen=True)
class Formatter:
    """Locale-aware formatting for one report language."""

    language: str
    #: Optional CLDR date pattern overriding the locale's "month year" skeleton (a
    #: catalogue may set ``month_year_pattern`` where CLDR data reads oddly).
    month_year_pattern: str | None = None

    @property
    def locale(self) -> Locale:
        """The Babel locale."""
        return locale_for(self.language)

    # ------------------------------------------------------------------ numbers

    def _apply(self, pattern: Any, value: Decimal, decimals: int, signed: bool) -> str:
        pat = copy.copy(pattern)
        pat.frac_prec = (decimals, decimals)
        text = pat.apply(value, self.locale)
        if value < 0:
            # Babel's patterns carry an ASCII hyphen; CLDR names the locale's minus sign.
            text = text.replace("-", get_minus_sign_symbol(self.locale), 1)
        if signed and value > 0:
            text = get_plus_sign_symbol(self.locale) + text
        return text

    def number(self, value: float | None, decimals: int = 0, signed: bool = False) -> str:
        """``value`` rounded half-up to ``decimals`` places (with ``+`` when ``signed``)."""
        if value is None:
            return MISSING
        rounded = round_half_up(value, decimals)
        return self._apply(self.locale.decimal_formats[None], rounded, decimals, signed)

    def percent(self, fraction: float | None, decimals: int = 0, signed: bool = False) -> str:
        """A share 0..1 as a percentage in the locale's style ("63 %", "63%")."""
        if fraction is None:
            return MISSING
        dec = Decimal(repr(float(fraction))).scaleb(2)
        rounded = round_half_up(dec, decimals).scaleb(-2)
        return self._apply(self.locale.percent_formats[None], rounded, decimals, signed)

    def is_zero(self, value: float, decimals: int = 0) -> bool:
        """Whether ``value`` reads as zero at ``decimals`` places."""
        return round_half_up(value, decimals) == 0

    # ------------------------------------------------------------------ dates and names

    def month(self, month: date, short: bool = False) -> str:
        """``March 2023`` in this language; ``Mar`` (no year) when ``short``."""
        if short:
            return format_date(month, "LLL", locale=self.locale)
        if self.month_year_pattern:
            return format_date(month, self.month_year_pattern, locale=self.locale)
        return format_skeleton("yMMMM", month, locale=self.locale)

    def month_name(self, month: date) -> str:
        """The month's stand-alone name without year (``March``)."""
        return format_date(month, "LLLL", locale=self.locale)

    def year(self, month: date) -> str:
        """The year as the locale writes it on its own."""
        return format_date(month, "y", locale=self.locale)

    def country(self, code: str, fallback: str | None = None) -> str:
        """The CLDR name of ISO country ``code`` in this language (``Sverige``)."""
        return self.locale.territories.get(code.upper()) or fallback or code

    def language_name(self, code: str) -> str:
        """The name of language ``code`` in this language."""
        return self.locale.languages.get(code) or code
