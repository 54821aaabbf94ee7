"""The self-assessment fingerprint digests the landed keys in the warehouse
(queries/self_assessment_response_keys.sql): it changes with every key that decides a
harmonisation, and with nothing else, on both backends."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd

from bsin.warehouse.sql_text import query_text


def _land(wh, rows):
    frame = pd.DataFrame(
        [
            {
                "form_id": form_id,
                "response_id": response_id,
                "country": country,
                "form_kind": kind,
                "report_month": date(2031, 3, 1),
                "last_submitted_time": submitted,
                "create_time": submitted,
                "payload": '{"answers": {}}',
                "response_key": k,
            }
            for k, (form_id, response_id, country, kind, submitted) in enumerate(rows)
        ]
    )
    wh.replace("raw_response", {}, frame)


def _digest(wh, country="XK"):
    [(responses, digest)] = wh.query(
        query_text("self_assessment_response_keys"), {"country": country}
    )
    return responses, digest


def test_the_key_digest_follows_the_landed_self_assessments(warehouse):
    t = datetime(2031, 3, 4, 10, 30, 5, 120_000)
    base = [
        ("f-sa", "r1", "XK", "self_assessment", t),
        ("f-sa", "r2", "XK", "self_assessment", t),
        ("f-sa", "ŗ3", "XK", "self_assessment", t),
    ]
    others = [
        ("f-mo", "r9", "XK", "monthly", t),  # a monthly response is not an input
        ("f-sa2", "r1", "QZ", "self_assessment", t),  # nor another country's
    ]
    assert _digest(warehouse) == (0, "")  # nothing landed yet: a stable empty digest
    _land(warehouse, base + others)
    first = _digest(warehouse)
    assert first[0] == 3 and len(first[1]) == 32
    # The order rows were landed in does not matter; the digest is stable.
    _land(warehouse, list(reversed(base)) + others)
    assert _digest(warehouse) == first
    # Other countries and the monthly form do not move it.
    _land(warehouse, base + [("f-mo", "r10", "XK", "monthly", t)])
    assert _digest(warehouse) == first
    # An edit (a newer lastSubmittedTime, even by a microsecond), a removal and a new
    # response each give a different digest.
    edited = base[:2] + [(*base[2][:4], t.replace(microsecond=120_001))]
    seen = {first}
    for rows in (edited, base[:2], [*base, ("f-sa", "r4", "XK", "self_assessment", t)]):
        _land(warehouse, rows)
        got = _digest(warehouse)
        assert got not in seen, rows
        seen.add(got)
