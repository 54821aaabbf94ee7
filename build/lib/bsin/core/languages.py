"""Report languages are files: ``include/templates/i18n/<code>.yaml``, discovered, not listed.

A language exists when its catalogue file exists and Babel has a CLDR locale of the same
code (numbers, months and country names come from there, ``bsin.reporting.formatting``). Adding a
language is copying ``en.yaml`` to ``<code>.yaml``, translating the values and, if the
signals' advice should be in that language too, adding a ``translations.<code>`` text to
each rule of ``signals.yaml`` (English is used where a rule has none).

Imported at DAG parse time (config validation): file checks only, nothing heavy.
"""

from __future__ import annotations

import re
from pathlib import Path

from bsin.core.paths import TEMPLATES_DIR

I18N_DIR = TEMPLATES_DIR / "i18n"
#: The reference catalogue: every other language has exactly its keys.
REFERENCE_LANGUAGE = "en"
_CODE = re.compile(r"^[a-z]{2,3}$")


def catalogue_path(language: str, folder: Path | None = None) -> Path:
    """Where the catalogue of ``language`` lives (whether or not it exists)."""
    return (folder or I18N_DIR) / f"{language}.yaml"


def available_languages(folder: Path | None = None) -> tuple[str, ...]:
    """The report languages that have a catalogue file, sorted, English first."""
    codes = sorted(p.stem for p in (folder or I18N_DIR).glob("*.yaml") if _CODE.match(p.stem))
    return tuple(sorted(codes, key=lambda c: (c != REFERENCE_LANGUAGE, c)))


def missing_language_message(language: str, folder: Path | None = None) -> str | None:
    """Why ``language`` cannot be a report language (None when it can)."""
    path = catalogue_path(language, folder)
    if not _CODE.match(language):
        return f"{language!r} is not a language code: use an ISO 639 code such as 'fi' or 'nb'"
    if not path.is_file():
        return (
            f"report language {language!r} has no translation file: add {path} "
            f"(copy {catalogue_path(REFERENCE_LANGUAGE, folder).name} and translate the "
            f"values; languages with a file: {', '.join(available_languages(folder))})"
        )
    from bsin.reporting.formatting import locale_for

    try:
        locale_for(language)
    except ValueError as exc:
        return str(exc)
    return None
