"""Every partner's report email in headless Chromium, on a phone (375 px) and at 600 px.

The email's ``cid:`` images are written next to the page as files (what a mail client
does with the related parts) and the page is measured by ``bsin_dev.report_shots.probe``: no
horizontal scrolling, no table cell whose content spills out of it, no broken image, no
text under 12 px (computed font sizes of every element holding text, and for the charts
the smallest chart text scaled to the width the image is displayed at). Screenshots are
kept under tests/artifacts/ for a human look.
"""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest
from bsin_dev.report_shots import MIN_TEXT_PX, WIDTHS, probes, screenshot

from bsin.reporting.programme_charts import PHONE
from bsin.reporting.report import build_message, build_report, render_report
from bsin.reporting.report_charts import CHART_META, CHART_WIDTH_PX, DPI, MIN_FONT_PX
from tests.support.report_fixtures import REPORT_MONTH, build_fixture_warehouse, partners
from tests.support.services import require_chromium

pytestmark = [pytest.mark.chromium, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
COUNTRIES = partners().countries


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """country -> the report as mailed, saved as a page whose cid: images are local files."""
    require_chromium()
    folder = tmp_path_factory.mktemp("browser")
    wh = build_fixture_warehouse(folder)
    cfg = partners()
    out = {}
    for country in COUNTRIES:
        ctx = build_report(wh, cfg, country, REPORT_MONTH)
        msg = build_message(render_report(ctx), cfg.partner(country), "reports@bsin.example.org")
        parsed = email.message_from_bytes(bytes(msg), policy=email.policy.default)
        html = parsed.get_body(("html",)).get_content()
        for part in parsed.walk():
            if part.get_content_maintype() == "image":
                cid = part["Content-ID"].strip("<>")
                name = part.get_filename()
                (folder / name).write_bytes(part.get_content())
                html = html.replace(f"cid:{cid}", name)
        assert "cid:" not in html, "an image reference did not match any related part"
        path = folder / f"report_{country}.html"
        path.write_text(html, encoding="utf-8")
        out[country] = path
    wh.close()
    return out


@pytest.fixture(scope="module")
def measured(pages):
    """country -> width -> the layout probe of its report (one Chromium launch a country)."""
    return {country: probes(page, list(WIDTHS)) for country, page in pages.items()}


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("country", COUNTRIES)
def test_readable_without_scrolling(measured, country, width):
    got = measured[country][width]
    assert got["innerWidth"] == width
    assert got["scrollWidth"] <= width, got
    assert got["bodyScrollWidth"] <= width, got
    assert got["overflowingCells"] == [], f"{country} at {width}px: cells spill over"
    assert got["smallText"] == [] and got["minFontPx"] >= MIN_TEXT_PX, got["smallText"]
    images = got["images"]
    assert len(images) == len(CHART_META)
    for image in images:
        assert image["complete"] and image["natural"] > 0, f"broken image {image}"
        # Drawn at 2x: the image has twice the pixels of its layout width.
        assert image["natural"] == 2 * CHART_WIDTH_PX
        assert image["shown"] <= CHART_WIDTH_PX
        smallest_chart_text = MIN_FONT_PX * image["shown"] / CHART_WIDTH_PX
        assert smallest_chart_text >= MIN_TEXT_PX, (country, width, image)
        assert image["alt"] and len(image["alt"]) > 20, image


def test_screenshot_artifacts(pages):
    ARTIFACTS.mkdir(exist_ok=True)
    country = COUNTRIES[0]
    for width in WIDTHS:
        shot = screenshot(pages[country], ARTIFACTS / f"report_{country}_{width}px.png", width)
        assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 10_000


@pytest.fixture(scope="module")
def programme_page(tmp_path_factory):
    """The programme report HTML of the fixture's three months."""
    from bsin.core.config import load_programme
    from bsin.reporting.programme_report import build_programme_report, render_programme_report
    from tests.support.report_fixtures import MONTHS

    require_chromium()
    folder = tmp_path_factory.mktemp("programme_browser")
    wh = build_fixture_warehouse(folder)
    window = load_programme().model_copy(
        update={"first_month": MONTHS[0], "last_month": MONTHS[-1]}
    )
    rendered = render_programme_report(build_programme_report(wh, partners(), window))
    wh.close()
    path = folder / "programme_report.html"
    path.write_text(rendered.html, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def programme_measured(programme_page):
    """width -> the layout probe of the programme report (one Chromium launch)."""
    return probes(programme_page, list(WIDTHS))


@pytest.mark.parametrize("width", WIDTHS)
def test_programme_report_fits_a_phone(programme_measured, width):
    got = programme_measured[width]
    assert got["scrollWidth"] <= width and got["bodyScrollWidth"] <= width, got
    assert got["overflowingCells"] == [], got["overflowingCells"]
    assert got["smallText"] == [], got["smallText"]
    assert got["images"] and all(i["complete"] and i["natural"] > 0 for i in got["images"])
    assert all(i["shown"] <= width for i in got["images"])


@pytest.mark.parametrize("width", WIDTHS)
def test_programme_charts_legible_on_a_phone(programme_measured, width):
    """Up to 640 px the page shows the phone rendition of every chart, its smallest text
    at least 12 px at the width it is displayed at (the print rendition's would be 6 px)."""
    images = programme_measured[width]["images"]
    assert images
    for image in images:
        assert image["natural"] == round(PHONE.width_in * DPI), image["alt"]
        smallest = PHONE.font_pt / 72 * DPI * image["shown"] / image["natural"]
        assert smallest >= MIN_TEXT_PX, (width, image["alt"], smallest)
