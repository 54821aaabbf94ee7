"""`make preview`: renders a partner-month report to files, sends nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from babel import Locale
from bsin_dev.localenv import duckdb_uri

from bsin.core.config import load_partners
from tests.support.pipeline_harness import MONTH, copy_golden

ROOT = Path(__file__).resolve().parents[2]
#: The partner previewed on its own: the last configured one.
PARTNER = load_partners().partners[-1]


def run_preview(
    tmp_path: Path, *args: str, timeout: int, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """``scripts/preview_report.py ARGS`` into tmp_path/preview from tmp_path/wh.duckdb."""
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "preview_report.py"),
            *args,
            "--out",
            str(tmp_path / "preview"),
            "--warehouse",
            duckdb_uri(tmp_path / "wh.duckdb"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_preview_writes_html_text_charts_and_csv(tmp_path):
    wh = copy_golden(tmp_path / "wh.duckdb")
    wh.close()
    out = tmp_path / "preview"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_SMTP")}
    proc = run_preview(
        tmp_path,
        "--country",
        PARTNER.country,
        "--month",
        f"{MONTH:%Y-%m}",
        "--eml",
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    folders = list(out.iterdir())
    assert len(folders) == 1
    assert folders[0].name.startswith(f"{PARTNER.country}_{MONTH:%Y-%m}"), folders[0].name
    files = {p.suffix for p in folders[0].iterdir()}
    assert {".html", ".txt", ".png", ".csv", ".eml"} <= files
    html = (folders[0] / "report.html").read_text(encoding="utf-8")
    # The partner's country, as partners.yaml names it or in the report's language.
    in_language = Locale.parse(PARTNER.report_language).territories[PARTNER.country]
    assert PARTNER.name in html or in_language in html
    # Charts are local files in the preview, so a browser shows them.
    for png in folders[0].glob("*.png"):
        assert png.name in html
        assert png.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--country", PARTNER.country, "--month", "2023-13"], "MONTH '2023-13' is not a month"),
        (["--country", PARTNER.country, "--month", "March"], "MONTH 'March' is not a month"),
        (["--country", "XX", "--month", "2023-03"], "unknown COUNTRY 'XX': partners.yaml has"),
        (
            ["--country", PARTNER.country, "--month", "2031-01"],
            "MONTH 2031-01 is outside the programme",
        ),
    ],
)
def test_preview_bad_arguments_are_one_line_errors(tmp_path, args, message):
    # Arguments are checked before the warehouse is opened: none is needed here.
    proc = run_preview(tmp_path, *args, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()], proc.stderr
    assert proc.stderr.startswith(f"error: {message}"), proc.stderr
    assert not (tmp_path / "preview").exists()


@pytest.mark.chromium
@pytest.mark.slow
def test_preview_shots_of_every_partner_and_the_programme_report(tmp_path):
    from bsin_dev.report_shots import WIDTHS

    from bsin.core.config import load_partners
    from bsin.reporting.programme_report import report_languages
    from tests.support.services import require_chromium

    require_chromium()
    wh = copy_golden(tmp_path / "wh.duckdb")
    wh.close()
    out = tmp_path / "preview"
    proc = run_preview(tmp_path, "--month", f"{MONTH:%Y-%m}", "--shots", timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    partners = load_partners()
    pages = [f"{c}_{MONTH:%Y-%m}" for c in partners.countries] + ["programme_report"]
    pages += [f"programme_report_{lang}" for lang in report_languages(partners)[1:]]
    want = {f"{page}_{width}px.png" for page in pages for width in WIDTHS}
    got = {p.name for p in (out / "shots").iterdir()}
    assert got == want
    for png in (out / "shots").iterdir():
        data = png.read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 5_000
        # Each width's part of the shared window, cut at that width (IHDR: width, height).
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert png.stem.endswith(f"_{width}px") and height > width, (png.name, width, height)
