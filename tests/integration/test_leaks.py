"""A partner's report never carries another country's microdata (issue 6, section 4).

Every partner's report of a validated month (the golden warehouse of
``tests.support.pipeline_harness``) is taken apart: subject and every header of every MIME part,
the HTML and plain text, each image's alt text and PNG bytes, the CSV attachment and its
file name. None of it may hold another country's suggestions, "Other" texts, interests,
member ids, response ids or recipients, nor any respondent's email address. Canary texts
are planted in every country's data first, so a leak cannot hide behind a bland sample.

Two variants of the month leave a country with 2 respondents, and the network with 2
respondents outside one partner: those aggregates must be suppressed wherever they show.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from email.message import EmailMessage

import pytest

from bsin.core.config import load_partners
from bsin.core.paths import SAMPLE_DIR
from bsin.ingest.pseudonymise import load_key, partner_member_id
from bsin.reporting.report import MIN_RESPONDENTS, build_message, build_report, render_report
from bsin.reporting.report_i18n import Translator
from tests.support.pipeline_harness import GOLDEN_COUNTRIES, MONTH, PipelineHarness, copy_golden

pytestmark = pytest.mark.slow  # builds the golden month (GX) when first in the process

_ALT = re.compile(r'alt="([^"]*)"')
_SENDER = "Baltic Sea Impact Network <reports@bsin.example.org>"


@dataclass
class Rendered:
    ctx: object
    report: object
    message: EmailMessage


def _render_all(h: PipelineHarness, countries=GOLDEN_COUNTRIES) -> dict[str, Rendered]:
    out = {}
    for c in countries:
        ctx = build_report(h.wh, h.partners, c, h.month)
        report = render_report(ctx)
        out[c] = Rendered(ctx, report, build_message(report, h.partners.partner(c), _SENDER))
    return out


def _open(tmp_path_factory, name: str) -> PipelineHarness:
    root = tmp_path_factory.mktemp(name)
    wh = copy_golden(root / "warehouse.duckdb")
    return PipelineHarness(root, warehouse=wh, start=False)


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    """The golden month with canaries planted in every country, and every partner's report."""
    h = _open(tmp_path_factory, "leaks")
    with h.wh.transaction():
        for c in GOLDEN_COUNTRIES:
            (first,) = h.wh.query(
                "select min(response_id) from feedback where country = :c and feedback_month = :m",
                {"c": c, "m": MONTH},
            )[0]
            h.wh.execute(
                "update feedback set suggestion = :s, challenges_other = :o where response_id = :r",
                {
                    "s": f"CANARY suggestion of {c} zq{c}",
                    "o": f"CANARY other of {c} xk{c}",
                    "r": first,
                },
            )
    h.marts()
    yield h, _render_all(h)
    h.wh.close()


def _respondent_emails() -> set[str]:
    emails = set()
    for path in (SAMPLE_DIR / "responses").glob("*.json"):
        for r in json.loads(path.read_text(encoding="utf-8")):
            if r.get("respondentEmail"):
                emails.add(r["respondentEmail"].lower())
    assert emails
    return emails


def _forbidden(h: PipelineHarness, partner: str) -> dict[str, set[str]]:
    """Every piece of microdata that belongs to a country other than ``partner``."""

    def column(sql: str, own: bool = False) -> set[str]:
        op = "=" if own else "<>"
        return {str(v) for (v,) in h.wh.query(sql.format(op=op), {"p": partner}) if v}

    texts_sql = (
        "select suggestion from feedback where country {op} :p union "
        "select challenges_other from feedback where country {op} :p union "
        "select interests from self_assessment where country {op} :p"
    )
    foreign_texts = column(texts_sql) - column(texts_sql, own=True)
    others = [p for p in h.partners.partners if p.country != partner]
    return {
        "member id": column(
            "select member_id from feedback where country {op} :p union "
            "select member_id from self_assessment where country {op} :p union "
            "select member_id from feedback_selection where country {op} :p"
        ),
        "response id": column("select response_id from raw_response where country {op} :p"),
        # Short texts ("Nej", "-") would match anywhere; longer ones are individual answers.
        "free text": {t for t in foreign_texts if len(t.strip()) >= 12},
        "recipient": {r.lower() for p in others for r in p.recipients},
        "respondent email": _respondent_emails(),
    }


def _surface(msg: EmailMessage) -> dict[str, str]:
    """Everything a partner can read in the message, part by part, decoded."""
    out: dict[str, str] = {}
    for i, part in enumerate(msg.walk()):
        out[f"part {i} headers"] = "\n".join(f"{k}: {v}" for k, v in part.items())
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True) or b""
        kind = part.get_content_type()
        if kind.startswith("text/"):
            text = payload.decode(part.get_content_charset() or "utf-8")
            out[f"part {i} {kind}"] = text
            if kind == "text/html":
                out[f"part {i} alt texts"] = "\n".join(_ALT.findall(text))
        else:
            # Images: any text chunk or stray string inside the PNG.
            out[f"part {i} {kind} bytes"] = payload.decode("latin-1")
        if part.get_filename():
            out[f"part {i} filename"] = part.get_filename()
    return out


@pytest.mark.parametrize("partner", GOLDEN_COUNTRIES)
def test_report_holds_no_other_countrys_microdata(month, partner) -> None:
    h, rendered = month
    surface = _surface(rendered[partner].message)
    assert any("alt texts" in k and v for k, v in surface.items()), "charts have alt text"
    assert f"zq{partner}" in surface_text(surface), "the partner's own canary is there"
    leaks = []
    for kind, values in _forbidden(h, partner).items():
        assert values, f"nothing to look for as {kind}"
        for where, text in surface.items():
            lowered = text.lower() if kind in ("recipient", "respondent email") else text
            leaks += [f"{kind} {v!r} in {where}" for v in values if v in lowered]
    assert not leaks, "\n".join(leaks[:20])


def surface_text(surface: dict[str, str]) -> str:
    return "\n".join(surface.values())


@pytest.mark.parametrize("partner", GOLDEN_COUNTRIES)
def test_headers_and_attachment_are_the_partners_own(month, partner) -> None:
    h, rendered = month
    msg = rendered[partner].message
    mine = h.partners.partner(partner)
    assert msg["X-BSIN-Country"] == partner
    assert {a.strip() for a in str(msg["To"]).split(",")} == set(mine.recipients)
    for header in ("Cc", "Bcc", "Reply-To"):
        assert msg[header] is None
    assert f".{partner}." in msg["Message-ID"]
    key = load_key()
    own_members = {
        partner_member_id(m, key, partner)
        for (m,) in h.wh.query(
            "select member_id from feedback where country = :c and feedback_month = :m",
            {"c": partner, "m": MONTH},
        )
    }
    rows = list(csv.DictReader(io.StringIO(rendered[partner].report.csv_bytes.decode("utf-8-sig"))))
    assert rows and {r["member_id"] for r in rows} == own_members
    assert len(rows) == len(own_members)
    assert rendered[partner].report.csv_filename.startswith(f"bsin_{partner.lower()}_")


# --------------------------------------------------------------------------- small n


def _shrink(h: PipelineHarness, keep: dict[str, int]) -> None:
    """Keep only the first ``keep[country]`` respondents of the month; rebuild the marts."""
    with h.wh.transaction():
        for country, n in keep.items():
            gone = [
                m
                for (m,) in h.wh.query(
                    "select member_id from feedback where country = :c and feedback_month = :m"
                    " order by response_id",
                    {"c": country, "m": MONTH},
                )
            ][n:]
            for member in gone:
                for table in ("feedback_selection", "feedback"):
                    h.wh.execute(
                        f"delete from {table} where country = :c and feedback_month = :m"  # noqa: S608
                        " and member_id = :x",
                        {"c": country, "m": MONTH, "x": member},
                    )
    h.marts()


@pytest.fixture(scope="module")
def small_country(tmp_path_factory):
    """The month with Lithuania down to 2 respondents."""
    h = _open(tmp_path_factory, "small-country")
    _shrink(h, {"LT": 2})
    yield h, _render_all(h, ("SE", "EE", "LV"))
    h.wh.close()


@pytest.fixture(scope="module")
def small_network(tmp_path_factory):
    """The month with every other country silent and Lithuania at 2: Latvia's network is 2 + own."""
    h = _open(tmp_path_factory, "small-network")
    silent = {c: 0 for c in load_partners().countries if c not in ("LV", "LT")}
    _shrink(h, {**silent, "LT": 2})
    yield h, _render_all(h, ("LV", "LT"))
    h.wh.close()


def test_small_country_is_suppressed_for_everyone_else(small_country) -> None:
    h, rendered = small_country
    (lt_n,) = h.wh.query(
        "select respondents from indicators_monthly where scope_country = 'LT' and month = :m",
        {"m": MONTH},
    )[0]
    assert lt_n == 2 < MIN_RESPONDENTS
    for partner, r in rendered.items():
        row = next(c for c in r.ctx.comparison if c.scope == "LT")
        assert row.respondents.suppressed, partner
        assert all(cell.suppressed for cell in row.cells.values()), partner
        # In the text part the Lithuanian line shows markers only: no number at all. The
        # row is named in the report's language (CLDR): "Lithuania", "Litauen", "Leedu".
        lt_name = Translator(r.report.language).country("LT")
        line = next(ln for ln in r.report.text.splitlines() if ln.startswith(f"- {lt_name}:"))
        assert not re.search(r"\d", line.replace("n<3", "")), line
        html_row = re.search(rf">{re.escape(lt_name)}</td>(.*?)</tr>", r.report.html, re.S)
        assert html_row and not re.search(r">\s*[-+]?\d", html_row.group(1).replace("n&lt;3", ""))


def test_network_with_two_foreign_respondents_is_hidden_from_latvia(small_network) -> None:
    h, rendered = small_network
    lv = rendered["LV"].ctx
    # The 2 Lithuanians are left out of every network figure (network minus Latvia would
    # reveal them); what is left is Latvia alone, which Latvia does not see as "network".
    # (needs_coverage counts members with a baseline self-assessment, not respondents.)
    lines = {line.key: line.network for line in lv.indicators}
    for key in ("response_rate", "satisfaction_mean", "nps"):
        assert lines[key].suppressed and lines[key].value is None, key
    # (LT's 7 baseline members make it publishable in needs_coverage; the running total
    # holds its earlier months)
    answered = {
        k: c for k, c in lines.items() if k not in ("needs_coverage", "connections_cumulative")
    }
    assert answered and all("LT" not in c.scopes for c in answered.values())
    assert "n<3" in rendered["LV"].report.text
    network_row = next(c for c in lv.comparison if c.scope == "NETWORK")
    assert network_row.respondents.suppressed
    assert all(cell.suppressed for cell in network_row.cells.values())
    this_month = [p for points in lv.trends.values() for p in points if p.month == MONTH]
    assert this_month and all(p.network.suppressed for p in this_month)
    # Seen from Lithuania the foreign part is all of Latvia's respondents: shown.
    lt_network = next(c for c in rendered["LT"].ctx.comparison if c.scope == "NETWORK")
    assert not lt_network.respondents.suppressed
