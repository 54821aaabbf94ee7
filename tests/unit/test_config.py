"""Config loading: the shipped files validate, bad files fail with file, key and fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bsin.core.config import ConfigError, load_partners, load_programme
from bsin.core.paths import config_dir


def _write_partners(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load((config_dir() / "partners.yaml").read_text(encoding="utf-8"))
    mutate(data["partners"])
    path = tmp_path / "partners.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_shipped_config_loads():
    partners = load_partners()
    programme = load_programme()
    # Read independently of bsin.core.config: every partner of the file is loaded, in order.
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


def test_a_file_is_validated_once_per_content_and_an_edit_is_always_read(tmp_path):
    """Tasks load partners.yaml with every mapping: the same bytes give the same model, and
    an edit of the same size, written at once, is read anew (no modification-time cache)."""
    path = _write_partners(tmp_path, lambda partners: None)
    first = load_partners(path)
    assert load_partners(path) is first
    text = path.read_text(encoding="utf-8")
    name = first.partners[0].name
    renamed = name[:-1] + ("X" if name[-1] != "X" else "Y")  # same length
    path.write_text(text.replace(name, renamed, 1), encoding="utf-8")
    assert path.stat().st_size == len(text.encode("utf-8"))
    assert load_partners(path).partners[0].name == renamed
    path.write_text(text, encoding="utf-8")
    assert load_partners(path) is first
    path.write_bytes(text.encode("utf-8").replace(b"partners:", b"partners: \xff", 1))
    with pytest.raises(ConfigError, match="not UTF-8 text.*save it as UTF-8"):
        load_partners(path)


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
    from bsin.reporting.disclosure import DEFAULT_MIN_RESPONDENTS

    assert load_programme().min_respondents == DEFAULT_MIN_RESPONDENTS == 3
    data = yaml.safe_load((config_dir() / "programme.yaml").read_text(encoding="utf-8"))
    data["min_respondents"] = 5
    path = tmp_path / "programme.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert load_programme(path).min_respondents == 5


def _write_programme(tmp_path: Path, **changes) -> Path:
    data = yaml.safe_load((config_dir() / "programme.yaml").read_text(encoding="utf-8"))
    data.update(changes)
    path = tmp_path / "programme.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


# Each of these passed the old regular expression and would have split, forged or broken a
# mail header (issue 10, finding 12).
BAD_RECIPIENTS = [
    pytest.param("a@x.example.org,b@y.example.org", "comma or semicolon", id="comma"),
    pytest.param("a@x.example.org;b@y.example.org", "comma or semicolon", id="semicolon"),
    pytest.param("a@x.example.org\n", "line breaks", id="trailing-newline"),
    pytest.param("a@x.example.org\nBcc: evil@z.example.org", "line breaks", id="header"),
    pytest.param("a..b@x.example.org", "invalid email address", id="double-dot"),
    pytest.param("a@-x.example.org", "invalid email address", id="bad-domain"),
]


@pytest.mark.parametrize(("address", "expected"), BAD_RECIPIENTS)
def test_partner_recipient_is_one_valid_address(tmp_path, address, expected):
    path = _write_partners(tmp_path, lambda ps: ps[2].update(recipients=[address]))
    with pytest.raises(ConfigError) as err:
        load_partners(path)
    text = str(err.value)
    assert str(path) in text and "partners[2 LV].recipients" in text
    assert expected in text


@pytest.mark.parametrize(("address", "expected"), BAD_RECIPIENTS)
def test_alert_recipient_is_one_valid_address(tmp_path, address, expected):
    path = _write_programme(tmp_path, alert_recipients=[address])
    with pytest.raises(ConfigError) as err:
        load_programme(path)
    assert str(path) in str(err.value) and "alert_recipients" in str(err.value)
    assert expected in str(err.value)


@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        ("Reports <reports@bsin.example.org>\nBcc: x@y.example.org", "line breaks"),
        ("Reports, Inc <reports@bsin.example.org>", "display name"),
        ("Reports <reports@bsin>", "invalid email address"),
        ("reports@bsin.example.org, other@bsin.example.org", "comma or semicolon"),
        ("Reports\x07 <reports@bsin.example.org>", "U+0007"),
    ],
    ids=["header-injection", "comma-in-name", "no-tld", "two-addresses", "control"],
)
def test_sender_is_one_mailbox(tmp_path, sender, expected):
    path = _write_programme(tmp_path, sender=sender)
    with pytest.raises(ConfigError) as err:
        load_programme(path)
    assert str(path) in str(err.value) and "sender" in str(err.value)
    assert expected in str(err.value)


def test_valid_senders_and_addresses_pass(tmp_path):
    for sender in ("reports@bsin.example.org", "BSIN Reports <reports@bsin.example.org>"):
        assert load_programme(_write_programme(tmp_path, sender=sender)).sender == sender
    path = _write_partners(
        tmp_path, lambda ps: ps[0].update(recipients=["Öresund.Team@reachforchange.example.org"])
    )
    assert load_partners(path).partner("SE").recipients == [
        "Öresund.Team@reachforchange.example.org"
    ]


@pytest.mark.parametrize("key", ["name", "organisation"])
@pytest.mark.parametrize("value", ["Sweden\nPhishing line", "Swe\u202eden", "Sweden\r"])
def test_partner_names_are_one_line_of_plain_text(tmp_path, key, value):
    path = _write_partners(tmp_path, lambda ps: ps[0].update({key: value}))
    with pytest.raises(ConfigError) as err:
        load_partners(path)
    assert f"partners[0 SE].{key}" in str(err.value)
    assert "control characters or line breaks" in str(err.value)
