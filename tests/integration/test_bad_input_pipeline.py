"""Bad input of the walking skeleton: each ends the country's task with an error naming
the country, the form and the fix, and leaves nothing half-written in the warehouse."""

from __future__ import annotations

import pytest

from bsin.core.config import PartnersConfig
from bsin.ingest.forms_hook import build_service
from bsin.pipeline import PipelineError
from tests.support.pipeline_harness import harness


def _with_form_id(partners: PartnersConfig, country: str, form_id: str) -> PartnersConfig:
    data = partners.model_dump()
    for p in data["partners"]:
        if p["country"] == country:
            p["forms"]["monthly"] = form_id
    return PartnersConfig.model_validate(data)


def test_unknown_form_id_names_country_form_and_fix(tmp_path):
    with harness(tmp_path) as h:
        country = h.partners.countries[-1]
        h.prepare()
        h.ctx.partners = _with_form_id(
            h.partners, country, "1NoSuchFormXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
        )
        before = h.dump()
        with pytest.raises(PipelineError) as err:
            h.extract(country)
        message = str(err.value)
        assert country in message
        assert "1NoSuchFormXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX" in message
        assert "partners.yaml" in message or "share" in message.lower()
        assert h.dump() == before


def test_unreachable_forms_api_names_country_form_and_endpoint(tmp_path):
    with harness(tmp_path) as h:
        h.prepare()
        url = h.emu.url
        h.emu.stop()
        h.service = build_service({"endpoint": url, "num_retries": 0, "timeout": 2})
        country = h.partners.countries[0]
        before = h.dump()
        with pytest.raises(PipelineError) as err:
            h.extract(country)
        message = str(err.value)
        assert country in message
        assert h.partners.partner(country).forms.monthly in message
        assert url.rstrip("/") in message or "127.0.0.1" in message
        assert h.dump() == before


def test_a_failed_harmonise_does_not_fail_the_other_countries_validation(tmp_path):
    """One country landed but its harmonise never completed: the others are still
    validated and loaded."""
    with harness(tmp_path) as h:
        *others, unharmonised = h.partners.countries
        h.ingest(*others)
        h.extract(unharmonised)
        summary = h.validate()
        assert summary["loaded"] > 0
        loaded = {r[0] for r in h.wh.query("select distinct country from feedback")}
        assert loaded == set(others)


@pytest.mark.parametrize(
    "backend", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_landed_payload_changed_by_hand_is_named_with_the_fix_that_works(tmp_path, backend):
    """A raw_response payload that is no longer JSON stops the country's harmonise with the
    response's id and a fix; following the fix harmonises the country again."""
    with harness(tmp_path, backend=backend) as h:
        country = h.partners.countries[0]
        h.prepare()
        h.extract(country)
        wanted = h.harmonise(country)["monthly"]
        [(response_id,)] = h.wh.query(
            "select min(response_id) from raw_response where country = :c and form_kind = 'monthly'",
            {"c": country},
        )
        h.wh.execute(
            "update raw_response set payload = '{\"responseId\": ' where response_id = :r",
            {"r": response_id},
        )
        with pytest.raises(ValueError, match=rf"response {response_id}\) is not JSON.*delete"):
            h.harmonise(country)
        # The fix the message gives: delete the row, re-run the extract.
        h.wh.execute("delete from raw_response where response_id = :r", {"r": response_id})
        h.extract(country)
        assert h.harmonise(country)["monthly"] == wanted
