"""The Jinja2 environment of every report template (partner email and programme report).

One environment per process: Jinja compiles each template once and keeps it, instead of
recompiling ``report.html`` for every partner of the month (it cost a tenth of a second a
report). An environment is safe to share between threads; templates changed on disk are
reloaded (``auto_reload``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from bsin.core.paths import TEMPLATES_DIR


@lru_cache(maxsize=1)
def template_environment() -> Any:
    """The shared ``jinja2.Environment`` over ``include/templates`` (HTML autoescaped)."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        # HTML templates escape every value: suggestions are respondents' free text.
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
