"""Label and free-text normalisation shared by mapping, harmonisation and drift checks.

Choice labels are compared the way a person reads them: differences nobody can see on
screen (case, surrounding or repeated white space, zero-width characters, bidi marks,
composed vs decomposed diacritics) are folded away; everything else, diacritics included,
is significant. ``"Ļoti  apmierināts"`` typed with a combining cedilla matches the mapping's
``"ļoti apmierināts"``; ``"Loti apmierinats"`` does not.
"""

from __future__ import annotations

import re
import unicodedata

# Zero-width and bidi formatting characters that copy-paste from web pages and word
# processors leaves behind in labels; they are invisible, so they must not decide a match.
_INVISIBLE = dict.fromkeys(
    map(
        ord,
        "\u200b\u200c\u200d\u2060\ufeff"  # zero-width space/non-joiner/joiner, word joiner, BOM
        "\u200e\u200f\u061c"  # LRM, RLM, Arabic letter mark
        "\u202a\u202b\u202c\u202d\u202e"  # embeddings and overrides
        "\u2066\u2067\u2068\u2069"  # isolates
        "\u00ad",  # soft hyphen
    )
)
# C0 control characters other than tab and line breaks, and DEL: nobody types them on
# purpose, they are invisible, and PostgreSQL cannot store NUL in text at all.
_INVISIBLE.update(dict.fromkeys([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F]))
_SPACES = re.compile(r"\s+")

#: Longest free-text answer kept in full; longer ones are truncated (docs/data-quality.md).
TEXT_LIMIT = 10_000
#: Longest ``value`` stored in a quarantine row (docs/architecture.md).
QUARANTINE_VALUE_LIMIT = 200
_TRUNCATION_MARK = " […]"


def normalise_label(text: str) -> str:
    """Comparison key of a choice label or question title (see the module docstring)."""
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    # casefold() can decompose (e.g. "İ" -> "i̇"), so compose again afterwards.
    text = unicodedata.normalize("NFC", text.casefold())
    return _SPACES.sub(" ", text).strip()


def clean_text(text: str | None) -> str | None:
    """Free-text answer as stored: NFC, invisible characters removed, stripped; ``None`` if empty."""
    if text is None:
        return None
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE).strip()
    return text or None


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, marked with ``[…]`` when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - len(_TRUNCATION_MARK), 0)] + _TRUNCATION_MARK


# Letters that, among the network's languages, occur in only one of them. Used only as a
# hint in drift messages ("the form looks like Latvian"), never to decide anything.
_DISTINCTIVE = {
    "sv": set("å"),
    "et": set("õ"),
    "lv": set("āēīģķļņ"),
    "lt": set("ąęėįų"),
}


def guess_language(texts: list[str]) -> str | None:
    """Best guess among sv/et/lv/lt from letters unique to one language, else ``None``."""
    joined = normalise_label(" ".join(texts))
    scores = {
        lang: sum(joined.count(ch) for ch in letters) for lang, letters in _DISTINCTIVE.items()
    }
    best = max(scores, key=lambda lang: scores[lang])
    if scores[best] == 0:
        # No distinctive letter: plain ASCII text is most likely English.
        return "en" if joined and joined.isascii() else None
    return best
