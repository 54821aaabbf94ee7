"""The runtime package installs on its own and carries no development tooling (issue 13).

`bsin` (plugins/bsin) is what production tasks import; `bsin_dev` (dev/bsin_dev) is the
emulator, SMTP sink, sample generator and local-run helpers. Both are installed, editable,
in the venv `make` builds; the Docker image installs only `bsin`.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ROOT / "plugins" / "bsin"
# What only development and tests need: never imported by a runtime module.
TOOLING = ("bsin_dev", "tests", "bench", "pytest", "aiosmtpd", "hypothesis", "ruff")


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_runtime_module_imports_development_tooling():
    offenders = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in RUNTIME.rglob("*.py")
        for name in _imported_modules(path)
        if name.split(".")[0] in TOOLING
    }
    assert not offenders, sorted(offenders)


def test_no_sys_path_or_pythonpath_games_anywhere():
    """The packages are installed; nothing puts folders on the import path by hand."""
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    pattern = re.compile(r"sys\.path\.(insert|append)|sys\.path\[|PYTHONPATH")
    this_file = str(Path(__file__).relative_to(ROOT))
    offenders = [
        f"{name}:{number}"
        for name in tracked
        if name != this_file
        and (name.endswith((".py", ".sh", ".yaml", ".toml")) or name in ("Makefile", "Dockerfile"))
        and (ROOT / name).is_file()
        for number, line in enumerate((ROOT / name).read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert not offenders, offenders


@pytest.mark.slow
def test_runtime_wheel_holds_only_the_runtime_package(tmp_path):
    """The wheel the image's `pip install` builds packs bsin and nothing else (built with uv,
    which the venv has, in an isolated build environment as pip would)."""
    # A copy of what the image copies: setuptools writes build/ next to the sources.
    src = tmp_path / "src"
    shutil.copytree(RUNTIME, src / "plugins" / "bsin", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", src)
    uv = Path(sys.executable).parent / "uv"
    out = subprocess.run(
        [str(uv), "build", "--wheel", "-q", "-o", str(tmp_path), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    (wheel,) = tmp_path.glob("bsin_feedback_pipeline-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top == {"bsin"}, top
    expected = {str(path.relative_to(RUNTIME.parent)) for path in RUNTIME.rglob("*.py")}
    assert expected <= set(names), sorted(expected - set(names))


def test_image_runtime_stage_installs_the_package_and_copies_no_tooling():
    text = (ROOT / "Dockerfile").read_text()
    runtime = text.split("FROM runtime AS local-tools")[0]
    copies = re.findall(r"^COPY (?:--\S+ )*(.+) \S+$", runtime, re.M)
    sources = {src for line in copies for src in line.split()}
    assert "plugins/bsin" in sources
    assert not {s for s in sources if s.startswith(("dev", "tests", "bench", "scripts"))}
    assert re.search(r"^RUN pip install --no-cache-dir --no-deps /opt/airflow/src$", runtime, re.M)
    assert "PYTHONPATH" not in text
