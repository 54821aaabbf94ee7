"""The failure alert reads as sentences: words and spaces survive the way Airflow's SMTP
notifier loads the template (it deletes every line break before rendering)."""

from __future__ import annotations

import re
from datetime import datetime
from html.parser import HTMLParser
from types import SimpleNamespace

import jinja2
import pytest
from airflow.providers.smtp.notifications.smtp import SmtpNotifier

from bsin.core.paths import TEMPLATES_DIR


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag, attrs):
        if tag == "p":
            self.parts.append("\n")


def _render(map_index: str | None, tries: int) -> tuple[str, str]:
    source = SmtpNotifier._read_template(str(TEMPLATES_DIR / "alert_failure.html"))
    # Airflow's template environment trims blocks; the worst case for lost spaces.
    env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    html = env.from_string(source).render(
        ti=SimpleNamespace(
            task_id="validate",
            rendered_map_index=map_index,
            try_number=tries,
            log_url="http://airflow.example/log?x=1",
        ),
        dag=SimpleNamespace(dag_id="bsin_monthly_feedback"),
        data_interval_start=datetime(2026, 10, 1),
        run_id="scheduled__2026-10-01",
        exception=ValueError("<boom> & bust"),
    )
    parser = _Text()
    parser.feed(html)
    return html, re.sub(r"[ \t]+", " ", "".join(parser.parts))


@pytest.mark.parametrize(("map_index", "tries"), [(None, 4), ("LV", 1)])
def test_alert_text_has_its_spaces(map_index, tries):
    html, text = _render(map_index, tries)
    country = f" for country {map_index}" if map_index else ""
    plural = "try" if tries == 1 else "tries"
    assert (
        f"Task validate{country} of DAG bsin_monthly_feedback failed for report month "
        f"2026-10 after {tries} {plural}." in text
    )
    assert "Error: <boom> & bust" in text
    assert "&lt;boom&gt;" in html  # the exception is escaped in the HTML
