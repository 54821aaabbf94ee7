"""Config loading: the shipped files validate, bad files fail with file, key and fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bsin.config import ConfigError, load_partners, load_programme
from bsin.paths import config_dir


def _write_partners(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load((config_dir() / "partners.yaml").read_text(encoding="utf-8"))
    mutate(data["partners"])
    path = tmp_path / "partners.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_shipped_config_loads():
    partners = load_partners()
    programme = load_programme()
    # Read independently of bsin.config: every partner of the file is loaded, in order.
    raw = yaml.safe_load((config_dir() / "partners.yaml").read_text(encoding="utf-8"))
    assert partners.countries == [p["country"] for p in raw["partners"]]
    assert [p.active_members for p in partners.partners] == [
        p["active_members"] for p in raw["partners"]
    ]
    raw_programme = yaml.safe_load((config_dir() / "programme.yaml").read_text(encoding="utf-8"))
    assert programme.first_month == raw_programme["first_month"]
    assert programme.last_month == raw_programme.get("last_month")


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda ps: ps.append(dict(ps[0])), "duplicate country 'SE'"),
        (lambda ps: ps[1].update(recipients=[]), "partners[1 EE].recipients"),
        (lambda ps: ps[2].update(recipients=["not-an-email"]), "invalid email"),
        (
            lambda ps: ps[3].update(timezone="Europe/Atlantis"),
            "unknown time zone 'Europe/Atlantis'",
        ),
        (lambda ps: ps[0].pop("forms"), "partners[0 SE].forms: required key is missing"),
        (lambda ps: ps[0].update(colour="blue"), "partners[0 SE].colour: unknown key"),
        (lambda ps: ps[0].update(report_language="fr"), "has no translation"),
    ],
    ids=[
        "duplicate",
        "no-recipient",
        "bad-email",
        "bad-timezone",
        "missing-key",
        "unknown-key",
        "language",
    ],
)
def test_bad_partner_config_names_file_key_and_fix(tmp_path, mutate, expected):
    path = _write_partners(tmp_path, mutate)
    with pytest.raises(ConfigError) as err:
        load_partners(path)
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_shared_form_id_is_refused(tmp_path):
    path = _write_partners(
        tmp_path, lambda ps: ps[1]["forms"].update(monthly=ps[0]["forms"]["monthly"])
    )
    with pytest.raises(ConfigError, match="used twice"):
        load_partners(path)


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_partners(tmp_path / "nope.yaml")
    broken = tmp_path / "programme.yaml"
    broken.write_text("name: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_programme(broken)


def test_programme_months_must_be_first_of_month(tmp_path):
    data = yaml.safe_load((config_dir() / "programme.yaml").read_text(encoding="utf-8"))
    data["first_month"] = "2022-08-15"
    path = tmp_path / "programme.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError, match="first_month: .*not the 1st of a month"):
        load_programme(path)


@pytest.mark.parametrize(
    ("value", "message"),
    [(1, "protects nobody: set at least 2"), ("three", "valid integer"), (2.5, "valid integer")],
)
def test_min_respondents_is_validated(tmp_path, value, message):
    data = yaml.safe_load((config_dir() / "programme.yaml").read_text(encoding="utf-8"))
    data["min_respondents"] = value
    path = tmp_path / "programme.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"min_respondents: .*{message}"):
        load_programme(path)


def test_min_respondents_defaults_to_three_and_is_read(tmp_path):
    from bsin.disclosure import DEFAULT_MIN_RESPONDENTS

    assert load_programme().min_respondents == DEFAULT_MIN_RESPONDENTS == 3
    data = yaml.safe_load((config_dir() / "programme.yaml").read_text(encoding="utf-8"))
    data["min_respondents"] = 5
    path = tmp_path / "programme.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert load_programme(path).min_respondents == 5
