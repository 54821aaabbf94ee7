"""The report HTML in headless Chromium at 600 px: no horizontal overflow, no broken image.

The email's ``cid:`` images are written next to the page as files (what a mail client
does with the related parts); a small script records the page's scroll width and every
image's natural width into the DOM, which ``--dump-dom`` returns. A screenshot is kept
under tests/artifacts/ for a human look.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import subprocess
from pathlib import Path

import pytest
from report_fixtures import REPORT_MONTH, build_fixture_warehouse, partners
from services import require_chromium

from bsin.report import build_message, build_report, render_report

pytestmark = [pytest.mark.chromium, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
WIDTH = 600
PROBE = """
<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var out = {
    scrollWidth: document.documentElement.scrollWidth,
    bodyScrollWidth: document.body.scrollWidth,
    innerWidth: window.innerWidth,
    images: imgs.map(function (i) { return {src: i.getAttribute("src"), w: i.naturalWidth, complete: i.complete}; })
  };
  var pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


def _chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={WIDTH},1200",
        "--virtual-time-budget=5000",
    ]
    return subprocess.run([binary, *flags, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """The LV report as mailed, saved as a page whose cid: images are local files."""
    folder = tmp_path_factory.mktemp("browser")
    wh = build_fixture_warehouse(folder)
    cfg = partners()
    ctx = build_report(wh, cfg, "LV", REPORT_MONTH)
    wh.close()
    msg = build_message(render_report(ctx), cfg.partner("LV"), "reports@bsin.example.org")
    parsed = email.message_from_bytes(bytes(msg), policy=email.policy.default)
    html = parsed.get_body(("html",)).get_content()
    for part in parsed.walk():
        if part.get_content_maintype() == "image":
            cid = part["Content-ID"].strip("<>")
            name = part.get_filename()
            (folder / name).write_bytes(part.get_content())
            html = html.replace(f"cid:{cid}", name)
    assert "cid:" not in html, "an image reference did not match any related part"
    path = folder / "report.html"
    path.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    return path


def test_no_overflow_and_no_broken_images(page, tmp_path):
    binary = require_chromium()
    done = _chromium(binary, tmp_path / "profile", "--dump-dom", page.as_uri())
    match = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert match, f"probe missing; chromium stderr:\n{done.stderr[-2000:]}"
    probe = json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert probe["innerWidth"] == WIDTH
    assert probe["scrollWidth"] <= WIDTH, probe
    assert probe["bodyScrollWidth"] <= WIDTH, probe
    assert len(probe["images"]) == 4
    for image in probe["images"]:
        assert image["complete"] and image["w"] > 0, f"broken image {image}"


def test_screenshot_artifact(page, tmp_path):
    binary = require_chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report_LV_600px.png"
    shot.unlink(missing_ok=True)
    done = _chromium(binary, tmp_path / "profile", f"--screenshot={shot}", page.as_uri())
    assert shot.exists() and shot.stat().st_size > 10_000, done.stderr[-2000:]
    assert shot.read_bytes().startswith(b"\x89PNG")
