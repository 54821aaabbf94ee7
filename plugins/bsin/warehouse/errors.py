"""The warehouse's one error type and the identifier check every module of it shares."""

from __future__ import annotations

import re

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


class WarehouseError(RuntimeError):
    """A warehouse operation failed; the message names the table, file or statement."""


def check_ident(name: str, what: str) -> str:
    """``name`` when it is a plain lower-case SQL identifier, else a WarehouseError.

    Table and column names are spliced into SQL text, so only plain lower-case identifiers
    are accepted: no quoting games, no injection through a DataFrame header.
    """
    if not _IDENT.match(name):
        raise WarehouseError(
            f"invalid {what} name {name!r}: use lower-case letters, digits and underscores"
        )
    return name
