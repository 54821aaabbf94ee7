"""The month's feedback load derives the set selections in the warehouse by the rule of
``bsin.transform.harmonise.feedback_selections``, on both backends."""

from __future__ import annotations

import random
from datetime import date

import pandas as pd
import pytest

from bsin.transform.harmonise import FEEDBACK_SET_FIELDS, feedback_selections
from bsin.transform.schema import SELECTION_COLUMNS
from bsin.warehouse.sql_text import query_text

# Invented set answers: repeats, an empty part, non-Latin and accented values, a value with
# spaces, nothing chosen ('' and None).
ANSWERS = [None, "", "a", "b;a", "a;a;c", "a;;b", "ö;Ä", "Ž;ž", "媒体;政府", "local council", "x"]


@pytest.mark.parametrize("seed", range(3))
def test_load_selections_equal_the_python_rule(warehouse, seed):
    rnd = random.Random(seed)
    rows = []
    for country in ("XK", "IS", "MT"):
        for member in range(rnd.randint(0, 40)):
            rows.append(
                {
                    "country": country,
                    "feedback_month": date(2031, rnd.randint(1, 2), 1),
                    "member_id": f"m_{member:020x}",
                    **{f: rnd.choice(ANSWERS) for f in FEEDBACK_SET_FIELDS},
                }
            )
    # One row per member and month, as validation guarantees for the staged rows.
    df = pd.DataFrame(
        rows, columns=["country", "feedback_month", "member_id", *FEEDBACK_SET_FIELDS]
    )
    df = df.drop_duplicates(["country", "feedback_month", "member_id"]).reset_index(drop=True)
    with warehouse.transaction():
        warehouse.replace_staging("feedback_incoming", df)
        got = warehouse.query_df(query_text("feedback_selections_incoming"))
    want = feedback_selections(df)

    def as_rows(frame: pd.DataFrame) -> list[tuple]:
        return sorted(map(tuple, frame[SELECTION_COLUMNS].astype(str).values))

    assert as_rows(got) == as_rows(want)
    assert len(want) > 0  # the seeds give selections to compare
