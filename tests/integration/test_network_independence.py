"""Issue 9: countries are independent, drift reaches people, forms kinds are optional.

One month of the real pipeline steps (no Airflow; tests/support/pipeline_harness.py) where, at the
same time, one country's members sent nothing, another country's form changed so that it
no longer fits its mapping, a third country's form gained an option, and a fourth country
has no self-assessment form. Roles are taken from partners.yaml by position, so the test
holds for any network of four or more countries.
"""

from __future__ import annotations

import email
import json
from email import policy

import pytest
from airflow.sdk.exceptions import AirflowSkipException
from bsin_dev.smtp_sink import start_sink

from bsin import pipeline
from bsin.core.config import load_partners
from bsin.reporting.report_i18n import Translator
from bsin.transform.mapping import load_mapping
from tests.support.fixtures_forms import harmonise_case, monthly_case, response
from tests.support.pipeline_harness import harness

COUNTRIES = load_partners().countries
if len(COUNTRIES) < 4:  # pragma: no cover - the shipped network has four or more
    pytest.skip("needs four configured countries", allow_module_level=True)
NO_SA, CHANGED, SILENT, NEW_OPTION = COUNTRIES[0], COUNTRIES[1], COUNTRIES[-1], COUNTRIES[2]
FULL = [c for c in COUNTRIES if c not in (CHANGED, SILENT)]
NEW_LABEL = "Brand-new option 9"
pytestmark = pytest.mark.slow  # one GX validation of a whole month


def _messages(outbox):
    return [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in sorted(outbox.glob("*.eml"))
    ]


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    root = tmp_path_factory.mktemp("independence")
    sink = start_sink(root / "outbox")
    mp = pytest.MonkeyPatch()
    mp.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT",
        json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": sink.port,
                "extra": {"disable_ssl": True, "disable_tls": True, "retry_limit": 0},
            }
        ),
    )
    try:
        with harness(root) as h:
            # NO_SA: a partner without a self-assessment form.
            partners = h.partners.model_copy(
                update={
                    "partners": [
                        p.model_copy(
                            update={"forms": p.forms.model_copy(update={"self_assessment": None})}
                        )
                        if p.country == NO_SA
                        else p
                        for p in h.partners.partners
                    ]
                }
            )
            h.ctx.partners = h.partners = partners
            # SILENT: members, but nobody answered this month.
            h.write_responses(SILENT, [])
            # CHANGED: the satisfaction question deleted (structural drift).
            sat = load_mapping(CHANGED, "monthly").by_field["satisfaction"].question_id
            form = h.read_form(CHANGED)
            form["items"] = [
                i
                for i in form["items"]
                if i.get("questionItem", {}).get("question", {}).get("questionId") != sat
            ]
            h.write_form(CHANGED, form)
            # NEW_OPTION: a challenge option the mapping does not know (additive drift).
            challenges = load_mapping(NEW_OPTION, "monthly").by_field["challenges"].question_id
            form = h.read_form(NEW_OPTION)
            for item in form["items"]:
                question = item.get("questionItem", {}).get("question", {})
                if question.get("questionId") == challenges:
                    question["choiceQuestion"]["options"].insert(0, {"value": NEW_LABEL})
            h.write_form(NEW_OPTION, form)

            h.prepare()
            extracted, errors = {}, {}
            for country in COUNTRIES:
                try:
                    extracted[country] = h.extract(country)
                    h.harmonise(country)
                except pipeline.PipelineError as exc:
                    errors[country] = exc
            drift = pipeline.alert_drift(h.month, h.ctx, run_id="test-run")
            validated = h.validate()
            h.marts()
            sent, held = {}, {}
            for country in COUNTRIES:
                try:
                    sent[country] = h.send(country)
                except (pipeline.CountryHeldBack, AirflowSkipException) as exc:
                    held[country] = exc
            yield {
                "h": h,
                "extracted": extracted,
                "errors": errors,
                "drift": drift,
                "validated": validated,
                "sent": sent,
                "held": held,
                "messages": _messages(root / "outbox"),
            }
    finally:
        mp.undo()
        sink.stop()


def test_a_changed_form_holds_back_its_country_only(month):
    assert set(month["errors"]) == {CHANGED}
    error = month["errors"][CHANGED]
    assert isinstance(error, pipeline.CountryHeldBack)  # fails at once, no retries
    assert "satisfaction" in str(error) and f"{CHANGED.lower()}_monthly.yaml" in str(error)
    assert month["validated"]["held_back"] == {SILENT: ["no_responses"]}
    h = month["h"]
    loaded = {r[0] for r in h.wh.query("select distinct country from feedback")}
    assert loaded == set(FULL)


def test_a_partner_without_self_assessment_form_costs_no_call_and_reads_not_collected(month):
    assert "self_assessment_responses" not in month["extracted"][NO_SA]
    assert "self_assessment_responses" in month["extracted"][NEW_OPTION]
    t = Translator(load_partners().partner(NO_SA).report_language)
    assert f"{t('ind.needs_coverage')}: {t('not_collected')}" in _report_text(month, NO_SA)


def _report_text(month, country):
    recipients = ", ".join(load_partners().partner(country).recipients)
    (msg,) = [m for m in month["messages"] if m["To"] == recipients]
    return msg.get_body(preferencelist=("plain",)).get_content()


def test_every_other_partner_gets_its_report_with_network_over_countries_present(month):
    assert set(month["sent"]) == set(FULL)
    assert all(r["status"] == "sent" for r in month["sent"].values())
    h = month["h"]
    net = h.wh.query(
        "select active_members from indicators_monthly where scope_country = 'NETWORK'"
        " and month = :m",
        {"m": h.month},
    )[0][0]
    partners = load_partners()
    assert net == sum(partners.partner(c).members_in(h.month) for c in FULL)
    for country in FULL:
        t = Translator(partners.partner(country).report_language)
        note = t("network_coverage", present=len(FULL), total=len(COUNTRIES))
        assert note in _report_text(month, country), country
        # NO_SA collects no self-assessment: the network's needs figures say so.
        collecting = sum(p.has_form("self_assessment") for p in month["h"].partners.partners)
        sa_note = t("network_sa_coverage", present=collecting, total=len(COUNTRIES))
        assert sa_note in _report_text(month, country), country


def test_the_silent_country_gets_a_notice_and_data_staff_what_to_do(month):
    held = month["held"][SILENT]
    assert isinstance(held, pipeline.CountryHeldBack)
    message = str(held)
    assert SILENT in message and "2023-03" in message and "no_responses" in message
    assert "active_members_by_month" in message  # what to do if nobody was expected
    notices = {m["X-BSIN-Country"]: m for m in month["messages"] if m["X-BSIN-Status"]}
    assert notices[SILENT]["X-BSIN-Status"] == "no_responses"
    # The changed form's partner is told too; its extract task already alerted staff.
    assert isinstance(month["held"][CHANGED], AirflowSkipException)
    assert notices[CHANGED]["X-BSIN-Status"] == "structural_drift"
    assert set(notices) == {SILENT, CHANGED}


def test_one_drift_message_lists_every_finding_and_the_exact_edit(month):
    assert month["drift"]["sent"] == 1
    (alert,) = [m for m in month["messages"] if "form drift" in str(m["Subject"])]
    assert CHANGED in alert["Subject"] and NEW_OPTION in alert["Subject"]
    body = alert.get_body(preferencelist=("html",)).get_content()
    assert "structural_drift" in body and "satisfaction" in body
    assert "unknown_choice_label" in body
    # The one documented way for an option with no canonical value: map it to other.
    assert f"{NEW_LABEL}&#39;: other" in body or f"{NEW_LABEL}': other" in body


def test_an_option_mapped_to_other_keeps_its_label_as_other_text():
    case = monthly_case("sv")
    case.form["items"][8]["questionItem"]["question"]["choiceQuestion"]["options"].insert(
        0, {"value": NEW_LABEL}
    )
    challenges = next(q for q in case.mapping_data["questions"] if q["field"] == "challenges")
    challenges["choices"][NEW_LABEL] = "other"
    answers = case.answers()
    answers[case.ids["challenges"]] = [NEW_LABEL, case.label("challenges", "funding")]
    result = harmonise_case(case, [response("r1", answers, email="m1@example.org")])
    row = result.rows.iloc[0]
    assert row["challenges"] == "funding;other"
    assert row["challenges_other"] == NEW_LABEL


def test_a_removed_country_keeps_its_history_and_leaves_new_reports(month):
    h = month["h"]
    gone = FULL[-1]
    before = h.count("feedback", f"country = '{gone}'")
    assert before > 0
    h.ctx.partners = h.partners.model_copy(
        update={"partners": [p for p in h.partners.partners if p.country != gone]}
    )
    h.prepare()
    h.marts()
    assert h.count("feedback", f"country = '{gone}'") == before  # nothing deleted
    assert h.count("indicators_monthly", f"scope_country = '{gone}'") == 0
    network = h.wh.query(
        "select respondents from indicators_monthly where scope_country = 'NETWORK' and month = :m",
        {"m": h.month},
    )[0][0]
    assert network == h.count(
        "feedback", f"country <> '{gone}' and feedback_month = :m", {"m": h.month}
    )
