"""`make help` lists every target of the Makefile, one line each, with its options."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Variables a user passes on the command line (`make demo MONTH=...`).
OPTIONS = ("MONTH", "COUNTRY", "QUERY", "DELIVER", "WAREHOUSE", "QUICK", "PYTEST_ARGS")


def _recipes() -> dict[str, str]:
    """``{target: recipe text}`` of the Makefile's phony targets."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    phony = re.search(r"^\.PHONY:(.*)$", text, re.MULTILINE)[1].split()
    out = {}
    for target in phony:
        match = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n?)*)", text, re.MULTILINE)
        assert match, f"phony target {target} has no rule"
        out[target] = match[1]
    return out


def test_help_lists_every_target_once_with_its_options():
    if not shutil.which("make"):
        pytest.skip("make not installed")
    out = subprocess.run(
        ["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    lines = {ln.split()[1]: ln for ln in out.splitlines() if ln.startswith("make ")}
    recipes = _recipes()
    assert sorted(lines) == sorted(recipes), "targets without a `## | description` comment"
    for target, recipe in recipes.items():
        line = lines[target]
        assert len(line.split(None, 2)) == 3, f"{target}: no description"
        for option in OPTIONS:
            if f"$({option})" in recipe:
                assert f"{option}=" in line, f"make help does not show {option} for {target}"
