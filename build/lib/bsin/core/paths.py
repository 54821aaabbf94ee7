"""Well-known project paths. Environment variables override them for tests and deployments."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(os.environ.get("BSIN_PROJECT_ROOT", Path(__file__).resolve().parents[3]))
INCLUDE = PROJECT_ROOT / "include"
SQL_DIR = INCLUDE / "sql"
TEMPLATES_DIR = INCLUDE / "templates"
SAMPLE_DIR = INCLUDE / "sample" / "emulator"


def config_dir() -> Path:
    """Folder holding partners.yaml, programme.yaml, mappings/, topics.yaml, signals.yaml."""
    return Path(os.environ.get("BSIN_CONFIG_DIR", INCLUDE / "config"))


def data_dir() -> Path:
    """Folder for local run output (warehouse file, outbox, GX Data Docs)."""
    return Path(os.environ.get("BSIN_DATA_DIR", PROJECT_ROOT / "data"))
