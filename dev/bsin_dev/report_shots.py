"""Look at a report as a reader does: headless Chromium at phone and desktop widths.

Headless Chromium will not make a window narrower than 500 px, so a page is shown the way
a phone's mail app shows it: inside a frame of the given width (an ``<iframe srcdoc>``,
whose viewport is exactly that wide; relative image paths resolve next to the page).

Used by ``make preview SHOTS=1`` (screenshots for a person to look at) and by
tests/integration/test_report_browser.py (measurements), so both open the page the same way.

``probe(page, width)`` loads the page at ``width`` CSS pixels and returns what a layout
check needs, measured by a small script in the page (read back with ``--dump-dom``): the
page's scroll width, every image's natural and displayed width, table cells whose content
is wider than the cell (headers running into each other), and the smallest computed font
size of any element holding text.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

#: Widths every report is checked and photographed at: a phone and the email's full width.
WIDTHS = (375, 600)
#: No text in an email may be smaller than this, in CSS pixels.
MIN_TEXT_PX = 12.0

_PROBE = """
<script>
window.addEventListener("load", function () {
  var minFont = 1000, small = [];
  var all = document.body.getElementsByTagName("*");
  for (var i = 0; i < all.length; i++) {
    var el = all[i], own = "";
    for (var c = el.firstChild; c; c = c.nextSibling) {
      if (c.nodeType === 3) { own += c.nodeValue; }
    }
    own = own.trim();
    if (!own || el.id === "bsin-probe") { continue; }
    var style = window.getComputedStyle(el);
    if (style.display === "none" || style.visibility === "hidden") { continue; }
    var size = parseFloat(style.fontSize);
    if (size < minFont) { minFont = size; }
    if (size < %(min_px)s) { small.push({tag: el.tagName, size: size, text: own.slice(0, 40)}); }
  }
  var overflowing = [];
  var cells = document.querySelectorAll("td, th");
  for (var j = 0; j < cells.length; j++) {
    var cell = cells[j];
    if (cell.scrollWidth > cell.clientWidth + 1) {
      overflowing.push({text: cell.textContent.trim().slice(0, 40), scroll: cell.scrollWidth, client: cell.clientWidth});
    }
  }
  var imgs = Array.prototype.slice.call(document.images);
  var out = {
    innerWidth: window.innerWidth,
    scrollWidth: document.documentElement.scrollWidth,
    bodyScrollWidth: document.body.scrollWidth,
    minFontPx: minFont,
    smallText: small.slice(0, 20),
    overflowingCells: overflowing.slice(0, 20),
    images: imgs.map(function (im) {
      return {src: im.getAttribute("src"), alt: im.getAttribute("alt"), natural: im.naturalWidth,
              shown: im.getBoundingClientRect().width, complete: im.complete};
    })
  };
  out.height = document.documentElement.scrollHeight;
  var host = window.parent.document;
  var pre = host.createElement("pre");
  pre.id = "bsin-probe";
  pre.textContent = JSON.stringify(out);
  host.body.appendChild(pre);
});
</script>
""".replace("%(min_px)s", str(MIN_TEXT_PX))


class BrowserUnavailable(RuntimeError):
    """No Chromium binary: the message says how to get one."""


def chromium_binary() -> str:
    """Path of Chromium (``BSIN_CHROMIUM`` or ``chromium`` on PATH)."""
    path = os.environ.get("BSIN_CHROMIUM") or shutil.which("chromium")
    if not path or not os.access(path, os.X_OK):
        raise BrowserUnavailable(
            "Chromium not found: install it (apt-get install -y chromium) or set BSIN_CHROMIUM"
        )
    return path


def _framed(page: Path, width: int, height: int, extra: str = "") -> Path:
    """A page next to ``page`` showing it in a frame ``width`` x ``height`` CSS pixels."""
    text = page.read_text(encoding="utf-8")
    if extra:
        text = text.replace("</body>", extra + "</body>", 1)
    doc = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
        '<body style="margin:0;background:#ffffff">'
        f'<iframe style="border:0;display:block;width:{width}px;height:{height}px" '
        f'srcdoc="{html.escape(text, quote=True)}"></iframe></body></html>'
    )
    framed = page.with_name(f".{page.stem}.frame{width}.html")
    framed.write_text(doc, encoding="utf-8")
    return framed


def _run(page: Path, width: int, height: int, *args: str) -> subprocess.CompletedProcess:
    # The window is at least 500 px wide: Chromium's headless minimum.
    width = max(width, 500)
    with tempfile.TemporaryDirectory(prefix="bsin-chromium-") as profile:
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
            f"--window-size={width},{height}",
            "--virtual-time-budget=5000",
        ]
        return subprocess.run(
            [chromium_binary(), *flags, *args, page.resolve().as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def probe(page: Path, width: int) -> dict[str, Any]:
    """Layout measurements of ``page`` (an HTML file) shown ``width`` CSS pixels wide."""
    framed = _framed(page, width, 1200, _PROBE)
    try:
        done = _run(framed, width, 1200, "--dump-dom")
    finally:
        framed.unlink(missing_ok=True)
    match = re.search(r'<pre id="bsin-probe">(.*?)</pre>', done.stdout, re.S)
    if not match:
        raise RuntimeError(f"layout probe missing; chromium stderr:\n{done.stderr[-2000:]}")
    return json.loads(html.unescape(match.group(1)))


#: Tallest page a screenshot takes (CSS pixels).
MAX_SHOT_HEIGHT = 16000


def screenshot(page: Path, png: Path, width: int) -> Path:
    """A PNG of the whole of ``page`` laid out ``width`` CSS pixels wide.

    The page's height at that width is measured first (``probe``): a window much taller
    than the page makes Chromium's screenshot several times slower.
    """
    height = min(int(probe(page, width)["height"]) + 8, MAX_SHOT_HEIGHT)
    framed = _framed(page, width, height)
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    try:
        done = _run(framed, width, height, f"--screenshot={png.resolve()}")
    finally:
        framed.unlink(missing_ok=True)
    if not png.exists():
        raise RuntimeError(f"no screenshot of {page}; chromium stderr:\n{done.stderr[-2000:]}")
    _crop(png, width)
    return png


def _crop(png: Path, width: int) -> None:
    """Cut the window's blank right margin (a frame narrower than the window) and the
    uniform background below the end of the page."""
    import matplotlib.image as mpimg
    import numpy as np

    pixels = mpimg.imread(png)[:, :width]
    last = pixels[-1]
    differs = np.flatnonzero(np.any(np.abs(pixels - last) > 1e-3, axis=(1, 2)))
    end = int(differs[-1]) + 17 if differs.size else pixels.shape[0]
    mpimg.imsave(png, pixels[: min(end, pixels.shape[0])], format="png")
