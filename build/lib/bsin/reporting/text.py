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


# --------------------------------------------------------------------------- free text out
# Respondents' free text leaves the warehouse in a partner's email (plain text and HTML)
# and CSV. The rules below are the only place it is made safe for those channels;
# ``bsin.reporting.report`` applies them where suggestions enter the report context, so templates
# show the result as it is. docs/security.md, "Hostile answers", lists them.

EMAIL_REDACTION = "[email removed]"

# The "at" of an address, also as people hide it from harvesters: fullwidth or small
# commercial at, URL-encoded, [at] (at) {at} <at>, each with optional spaces around.
_AT = r"(?:\s*(?:@|\uff20|\ufe6b|%40)\s*|\s*[\[({<]\s*at\s*[\])}>]\s*)"
# The dots of the domain: ASCII, fullwidth or ideographic, [dot] (dot), or " dot ".
_DOT = r"(?:\s*[.\uff0e\u3002]\s*|\s*[\[({<]\s*dot\s*[\])}>]\s*|\s+dot\s+)"
# A part of an address, either written normally or spaced out letter by letter
# ("a n n a"): at least three single characters separated by single spaces, whole words.
_LOCAL = r"(?<![\w.+\-])(?:(?:[\w+\-]\s){2,}[\w+\-](?![\w+\-])|[\w.+\-]+)"
_LABEL = r"(?:(?:[\w\-]\s){2,}[\w\-](?![\w\-])|[\w\-]+)"
_EMAIL_LIKE = re.compile(rf"{_LOCAL}{_AT}{_LABEL}(?:{_DOT}{_LABEL})+", re.IGNORECASE)

# A URL with a scheme, or a host name a mail client would link by itself (www.*, or a
# dotted name ending in an alphabetic top-level label: evil.example, login.bank.com).
_SCHEME = re.compile(r"\b([a-z][a-z0-9+.\-]{1,15})://", re.IGNORECASE)
_HOST = re.compile(r"\b(?:[\w\-]+\.)+[a-z]{2,24}\b", re.IGNORECASE)
_DEFANGED_SCHEMES = {"http": "hxxp", "https": "hxxps", "ftp": "fxp"}
# Every line and paragraph separator, so no member can start a line of their own.
_LINE_BREAKS = re.compile(r"\s*(?:\r\n|[\n\r\x0b\x0c\x85\u2028\u2029])\s*")
LINE_BREAK_MARK = " / "


def redact_emails(text: str) -> str:
    """``text`` with every address, also an obfuscated one, replaced by a marker.

    Caught: plain addresses, fullwidth ``＠``/``．``, ``%40``, ``[at]``/``(at)``/``{at}``
    with ``[dot]``/``(dot)``/`` dot ``, and addresses spaced out letter by letter.
    """
    return _EMAIL_LIKE.sub(EMAIL_REDACTION, text)


def defang_urls(text: str) -> str:
    """``text`` with links made inert: ``https://a.example/x`` -> ``hxxps[://]a[.]example/x``.

    The scheme is rewritten (``hxxp``, ``hxxps``, ``fxp``; others keep their name) and
    ``://`` becomes ``[://]``; every dot of a host name becomes ``[.]``. This is the usual
    defanging convention of security advisories: a reader still sees where a link pointed,
    but neither the HTML nor a mail client's auto-linking of plain text makes it clickable.
    """

    def scheme(m: re.Match[str]) -> str:
        name = m.group(1)
        return _DEFANGED_SCHEMES.get(name.lower(), name) + "[://]"

    text = _SCHEME.sub(scheme, text)
    return _HOST.sub(lambda m: m.group(0).replace(".", "[.]"), text)


def flatten_lines(text: str) -> str:
    """``text`` on one line: each line break (of any kind) becomes `` / ``."""
    return _LINE_BREAKS.sub(LINE_BREAK_MARK, text.strip())


def safe_free_text(text: str) -> str:
    """A respondent's free text as shown in a report: no address, no live link, one line."""
    return flatten_lines(defang_urls(redact_emails(text)))
