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

Several widths of one page share a Chromium launch (about a second of CPU each): the frames
stand one above the other in one window, so ``probes`` measures them all in one launch and
``screenshots`` photographs them all in one more, then cuts the image apart.
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
    if (!own) { continue; }
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
  pre.id = "bsin-probe-%(frame)s";
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


def _framed(page: Path, frames: list[tuple[int, int]], probe: bool = False) -> Path:
    """A page next to ``page`` showing it in frames of ``(width, height)`` CSS pixels, one
    above the other (with the layout probe in each when ``probe``)."""
    text = page.read_text(encoding="utf-8")
    iframes = []
    for i, (width, height) in enumerate(frames):
        shown = text
        if probe:
            shown = text.replace("</body>", _PROBE.replace("%(frame)s", str(i)) + "</body>", 1)
        iframes.append(
            f'<iframe style="border:0;display:block;width:{width}px;height:{height}px" '
            f'srcdoc="{html.escape(shown, quote=True)}"></iframe>'
        )
    doc = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
        '<body style="margin:0;background:#ffffff">' + "".join(iframes) + "</body></html>"
    )
    framed = page.with_name(f".{page.stem}.frame{'-'.join(str(w) for w, _ in frames)}.html")
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
    return probes(page, [width])[width]


def probes(page: Path, widths: list[int]) -> dict[int, dict[str, Any]]:
    """``probe`` at each of ``widths``, in one Chromium launch."""
    frames = [(width, 1200) for width in widths]
    framed = _framed(page, frames, probe=True)
    try:
        done = _run(framed, max(widths), 1200 * len(frames), "--dump-dom")
    finally:
        framed.unlink(missing_ok=True)
    found = dict(re.findall(r'<pre id="bsin-probe-(\d+)">(.*?)</pre>', done.stdout, re.S))
    missing = [w for i, w in enumerate(widths) if str(i) not in found]
    if missing:
        raise RuntimeError(
            f"layout probe missing at {missing} px; chromium stderr:\n{done.stderr[-2000:]}"
        )
    return {w: json.loads(html.unescape(found[str(i)])) for i, w in enumerate(widths)}


#: Tallest page a screenshot takes (CSS pixels).
MAX_SHOT_HEIGHT = 16000


def screenshot(page: Path, png: Path, width: int) -> Path:
    """A PNG of the whole of ``page`` laid out ``width`` CSS pixels wide."""
    return screenshots(page, {width: png})[0]


def screenshots(page: Path, pngs: dict[int, Path]) -> list[Path]:
    """A PNG of the whole of ``page`` at each width (``{width: png}``), from one probe and
    one screenshot launch while the frames' heights together fit ``MAX_SHOT_HEIGHT``.

    The page's height at each width is measured first (``probes``): a window much taller
    than the page makes Chromium's screenshot several times slower.
    """
    heights = {
        w: min(int(p["height"]) + 8, MAX_SHOT_HEIGHT) for w, p in probes(page, [*pngs]).items()
    }
    batches = frame_batches(heights, MAX_SHOT_HEIGHT)
    for batch in batches:
        _shoot(page, [(w, heights[w]) for w in batch], [pngs[w] for w in batch])
    return list(pngs.values())


def frame_batches(heights: dict[int, int], limit: int) -> list[list[int]]:
    """The widths of ``heights`` (width -> frame height) in order, grouped into windows no
    taller than ``limit``; a frame taller than ``limit`` on its own gets a window of its own."""
    batches: list[list[int]] = []
    for width, height in heights.items():
        if batches and sum(heights[w] for w in batches[-1]) + height <= limit:
            batches[-1].append(width)
        else:
            batches.append([width])
    return batches


def _shoot(page: Path, frames: list[tuple[int, int]], pngs: list[Path]) -> None:
    """One window of ``frames`` (stacked), cut into one PNG per frame."""
    framed = _framed(page, frames)
    whole = framed.with_suffix(".png")
    whole.unlink(missing_ok=True)
    try:
        done = _run(
            framed, max(w for w, _ in frames), sum(h for _, h in frames), f"--screenshot={whole}"
        )
        if not whole.exists():
            raise RuntimeError(f"no screenshot of {page}; chromium stderr:\n{done.stderr[-2000:]}")
        _cut(whole, frames, pngs)
    finally:
        framed.unlink(missing_ok=True)
        whole.unlink(missing_ok=True)


def _cut(whole: Path, frames: list[tuple[int, int]], pngs: list[Path]) -> None:
    """Each frame's part of the window's image, without the blank right margin (a frame
    narrower than the window) and the uniform background below the end of the page."""
    import matplotlib.image as mpimg
    import numpy as np

    image = mpimg.imread(whole)
    top = 0
    for (width, height), png in zip(frames, pngs, strict=True):
        pixels = image[top : top + height, :width]
        top += height
        last = pixels[-1]
        differs = np.flatnonzero(np.any(np.abs(pixels - last) > 1e-3, axis=(1, 2)))
        end = int(differs[-1]) + 17 if differs.size else pixels.shape[0]
        png.parent.mkdir(parents=True, exist_ok=True)
        mpimg.imsave(png, pixels[: min(end, pixels.shape[0])], format="png")
