"""GX Data Docs: one site per report month, both suites, offline, titled (bsin.quality.data_docs).

The site test runs GX once (about 10 s) and opens the pages in headless Chromium with
every host name unresolvable, as a laptop without internet would.
"""

from __future__ import annotations

import logging
import re
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bsin.core.config import load_partners
from bsin.quality.data_docs import make_offline, scope_title
from bsin.quality.gx_run import GX_LOG_LEVEL_ENV, DataDocsSite, quiet_gx_logging
from bsin.quality.validation import (
    FEEDBACK_SUITE,
    SELF_ASSESSMENT_SUITE,
    ValidationFailed,
    validate_feedback_month,
    validate_self_assessment,
)
from tests.support import fixtures_forms as forms
from tests.support.pipeline_harness import harness
from tests.support.services import require_chromium

PARTNERS = load_partners()
REMOTE = re.compile(r"<(?:script|link|img)\b[^>]*(?:src|href)=\"https?://", re.IGNORECASE)

# The shape GX 1.x writes for an index table (trimmed): options as Python literals.
GX_INDEX = """<html><head><title>Data Docs created by Great Expectations</title>
<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css"/>
<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>
</head><body>
<img class="NO-CACHE" src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=1" alt="GX"/>
<table
  id="t1"
  class="table-sm" data-toggle="table"
>
</table>
<script>
  $('#t1').bootstrapTable(
    Object.assign(
      {
        columns: [{'field': 'validation_success', 'title': 'Status'}, {'field': 'expectation_suite_name', 'title': 'Expectation Suite'}],
        data: [{'validation_success': '<i class="fas fa-check"></i>', '_validation_success_text': 'Succeeded', 'expectation_suite_name': 'bsin_feedback', '_table_row_link_path': 'validations/bsin_feedback/x.html', '_run_time_sort': 2}, {'validation_success': '<i class="fas fa-times"></i>', '_validation_success_text': 'Failed', 'expectation_suite_name': 'bsin_self_assessment', '_table_row_link_path': 'validations/bsin_self_assessment/y.html', '_run_time_sort': 1}],
        toolbar: '#t1-toolbar'
      },
      {'search': 'true'}
    )
  );
</script>
</body></html>"""


def test_make_offline_writes_index_rows_and_drops_remote_assets(tmp_path: Path) -> None:
    (tmp_path / "static" / "images").mkdir(parents=True)
    (tmp_path / "static" / "images" / "logo-long.png").write_bytes(b"png")
    (tmp_path / "validations" / "old" / "empty").mkdir(parents=True)
    (tmp_path / "index.html").write_text(GX_INDEX, encoding="utf-8")
    make_offline(tmp_path, "2023-03", ["XB", "XA"])
    text = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert not REMOTE.search(text)
    assert "<script" not in text
    assert "<title>Data quality 2023-03 · XA, XB</title>" in text
    assert "static/images/logo-long.png" in text
    assert (tmp_path / "static" / "styles" / "bsin_offline.css").is_file()
    rows = re.findall(r"<tr>(.*?)</tr>", text.split("<tbody>")[1])
    assert len(rows) == 2
    assert 'href="validations/bsin_feedback/x.html"' in rows[0] and "Succeeded" in rows[0]
    assert "bsin_self_assessment" in rows[1] and "Failed" in rows[1]
    assert not (tmp_path / "validations").exists(), "empty folders are removed"


def test_gx_log_level_defaults_to_warning_and_follows_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    child = logging.getLogger("great_expectations.data_context.types.base")
    child.setLevel(logging.INFO)  # what that GX module does at import
    monkeypatch.delenv(GX_LOG_LEVEL_ENV, raising=False)
    quiet_gx_logging()
    assert not child.isEnabledFor(logging.INFO)
    assert child.isEnabledFor(logging.WARNING)
    monkeypatch.setenv(GX_LOG_LEVEL_ENV, "debug")
    quiet_gx_logging()
    assert child.isEnabledFor(logging.DEBUG)
    monkeypatch.setenv(GX_LOG_LEVEL_ENV, "loud")
    quiet_gx_logging()
    assert child.getEffectiveLevel() == logging.WARNING
    monkeypatch.delenv(GX_LOG_LEVEL_ENV)
    quiet_gx_logging()


def _chromium_dom(binary: str, profile: Path, page: Path) -> str:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        # Offline: no host name resolves, so a page that needs a CDN shows it.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=3000",
        "--dump-dom",
        page.as_uri(),
    ]
    done = subprocess.run([binary, *flags], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _month_site(directory: Path) -> tuple[DataDocsSite, str]:
    """Both suites of March through one site, as the validate task runs them."""
    df = forms.merged_month(3)
    df.loc[0, "satisfaction"] = 9
    countries = sorted(set(df["country"]))
    site = DataDocsSite(directory, forms.MONTH, countries)
    outcome = validate_feedback_month(df, PARTNERS, forms.MONTH, site, countries=countries)
    assert len(outcome.quarantine_df) == 1
    case = forms.self_assessment_case()
    answers: list[dict[str, Any]] = [
        forms.response(
            f"s{i}", case.answers(), email=f"m{i}@example.org", submitted="2022-08-20T10:00Z"
        )
        for i in range(2)
    ]
    rows = forms.harmonise_case(case, answers).rows
    try:
        validate_self_assessment(rows, PARTNERS, date(2023, 3, 1), site)
    except ValidationFailed:  # a batch failure still belongs on the site
        pass
    return site, site.build()


@pytest.mark.slow
@pytest.mark.chromium
def test_site_lists_both_suites_of_the_month_and_renders_offline(tmp_path: Path) -> None:
    binary = require_chromium()
    docs = tmp_path / "data_docs"
    # An earlier month's site: the new build replaces it instead of piling up next to it.
    (docs / "validations" / "bsin_feedback" / "month__2023-02" / "t").mkdir(parents=True)
    site, uri = _month_site(docs)
    assert uri == (docs / "index.html").resolve().as_uri()
    assert site.suites == [FEEDBACK_SUITE, SELF_ASSESSMENT_SUITE]
    pages = sorted(p.relative_to(docs).as_posix() for p in docs.glob("validations/**/*.html"))
    assert len(pages) == 2, pages
    assert all("/month__2023-03/" in p for p in pages), pages
    empty = [p for p in docs.rglob("*") if p.is_dir() and not any(p.iterdir())]
    assert not empty, empty
    for page in docs.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not REMOTE.search(text), f"{page} still loads from the internet"
        assert f"<title>{scope_title('2023-03', site.countries)}</title>" in text

    index = _chromium_dom(binary, tmp_path / "profile", docs / "index.html")
    countries = ", ".join(sorted(load_partners().countries))  # the configured network
    assert "Report month 2023-03" in index and countries in index
    body = index.split("<tbody>")[1]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.DOTALL)
    suites = {s for s in (FEEDBACK_SUITE, SELF_ASSESSMENT_SUITE) for r in rows if s in r}
    assert suites == {FEEDBACK_SUITE, SELF_ASSESSMENT_SUITE}, rows
    assert any("Failed" in r and FEEDBACK_SUITE in r for r in rows), rows

    feedback_page = next(docs.glob(f"validations/{FEEDBACK_SUITE}/**/*.html"))
    dom = _chromium_dom(binary, tmp_path / "profile", feedback_page)
    # The failed expectation and its offending value are on the page without any script.
    text = " ".join(re.sub(r"<[^>]+>", " ", dom).split())
    assert "Unsuccessful Expectations 1 " in text, text[:2000]
    assert "satisfaction" in text and "month__2023-03" in text


def test_a_month_validated_without_data_docs_loads_the_same_and_writes_no_site(
    tmp_path: Path,
) -> None:
    from bsin import pipeline

    with harness(tmp_path) as h:
        h.ingest(*h.partners.countries)
        without = pipeline.validate_month(h.month, h.ctx, docs=tmp_path / "off", data_docs=False)
        assert without["data_docs"] is None
        assert not (tmp_path / "off").exists()
        assert without["loaded"] > 0
        tables = h.dump()
        # The same month again with its site: the site is the only difference.
        again = pipeline.validate_month(h.month, h.ctx, docs=tmp_path / "docs")
        assert again["data_docs"] == str(tmp_path / "docs" / "index.html")
        assert (tmp_path / "docs" / "index.html").is_file()
        assert {k: v for k, v in again.items() if k != "data_docs"} == {
            k: v for k, v in without.items() if k != "data_docs"
        }
        assert h.dump() == tables
