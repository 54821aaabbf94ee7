"""Canonical test data for the warehouse, mart and signal tests, and an independent
pure-Python computation of every indicator from the same rows.

The reference code below deliberately shares nothing with the SQL models: it works on
plain dicts, so a mistake in a model cannot hide behind the same mistake in the check.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from statistics import mean
from typing import Any

import pandas as pd

from bsin.transform.mapping import NEEDS
from bsin.transform.schema import FEEDBACK_COLUMNS
from bsin.warehouse.dbt_project import STAKEHOLDER_TYPES

NETWORK = "NETWORK"


@dataclass
class Canonical:
    """Rows for the canonical and reference tables, as plain dicts."""

    feedback: list[dict[str, Any]] = field(default_factory=list)
    selections: list[dict[str, Any]] = field(default_factory=list)
    self_assessment: list[dict[str, Any]] = field(default_factory=list)
    needs: list[dict[str, Any]] = field(default_factory=list)
    roster: dict[tuple[str, date], int] = field(default_factory=dict)
    topics: dict[date, list[str]] = field(default_factory=dict)

    def add_feedback(self, country: str, month: date, member: str, **answers: Any) -> None:
        """One feedback row (answers not given are None) plus its selection rows."""
        access = answers.pop("stakeholder_access", None)
        row = {c: None for c in FEEDBACK_COLUMNS}
        row.update(
            country=country,
            feedback_month=month,
            member_id=member,
            response_id=f"r_{country}_{member}_{month:%Y%m}",
            submitted_at=datetime(month.year, month.month, 1) + timedelta(days=31),
            form_revision_id="rev1",
        )
        row.update(answers)
        if access is not None:
            row["stakeholder_access"] = ";".join(sorted(access))
            for value in sorted(access):
                self.selections.append(
                    {
                        "country": country,
                        "feedback_month": month,
                        "member_id": member,
                        "field": "stakeholder_access",
                        "value": value,
                    }
                )
        self.feedback.append(row)

    def add_self_assessment(
        self, country: str, wave: str, member: str, needs: list[str], levels: dict[str, int | None]
    ) -> None:
        """One self-assessment row plus its need rows."""
        row: dict[str, Any] = {
            "country": country,
            "wave": wave,
            "member_id": member,
            "response_id": f"sa_{country}_{member}_{wave}",
            "submitted_at": datetime(2023, 1, 5),
            "needs": ";".join(sorted(needs)),
            "interests": None,
        }
        for need in NEEDS:
            row[f"capability_{need}"] = levels.get(need)
        self.self_assessment.append(row)
        for need in sorted(needs):
            self.needs.append({"country": country, "wave": wave, "member_id": member, "need": need})


def load(wh, data: Canonical) -> None:
    """Replace every canonical and reference table of ``wh`` with ``data``."""
    with wh.transaction():
        wh.replace("feedback", {}, pd.DataFrame(data.feedback, columns=FEEDBACK_COLUMNS))
        wh.replace(
            "feedback_selection",
            {},
            pd.DataFrame(
                data.selections,
                columns=["country", "feedback_month", "member_id", "field", "value"],
            ),
        )
        wh.replace("self_assessment", {}, pd.DataFrame(data.self_assessment))
        wh.replace(
            "self_assessment_need",
            {},
            pd.DataFrame(data.needs, columns=["country", "wave", "member_id", "need"]),
        )
        wh.replace(
            "member_roster",
            {},
            pd.DataFrame(
                [
                    {"country": c, "month": m, "active_members": n}
                    for (c, m), n in data.roster.items()
                ],
                columns=["country", "month", "active_members"],
            ),
        )
        wh.replace(
            "programme_topic",
            {},
            pd.DataFrame(
                [{"month": m, "topic": t} for m, ts in data.topics.items() for t in ts],
                columns=["month", "topic"],
            ),
        )


MONTHS = [date(2023, m, 1) for m in range(1, 6)]


def generated(seed: int = 7) -> Canonical:
    """A seeded five-month data set over three countries with gaps and missing answers.

    EE has no feedback in March (a gap: trends must not bridge it); LV is tiny; every
    question is sometimes left unanswered; some members skip the stakeholder question.
    """
    rnd = random.Random(seed)
    data = Canonical()
    members = {"SE": 6, "EE": 5, "LV": 3}
    for country, count in members.items():
        for m in MONTHS:
            data.roster[(country, m)] = count + (1 if m >= date(2023, 4, 1) else 0)

    def maybe(value: Any, p_missing: float = 0.1) -> Any:
        return None if rnd.random() < p_missing else value

    for country, count in members.items():
        for m in MONTHS:
            if country == "EE" and m == date(2023, 3, 1):
                continue
            for k in range(1, count + 1):
                if rnd.random() < 0.2:
                    continue  # did not answer this month
                access = None
                if rnd.random() > 0.15:
                    picked = [t for t in STAKEHOLDER_TYPES if rnd.random() < 0.35]
                    access = picked or ["none"]
                data.add_feedback(
                    country,
                    m,
                    f"m_{country.lower()}{k}",
                    attended_peer_session=maybe(rnd.random() < 0.7),
                    attended_workshop=maybe(rnd.random() < 0.5),
                    satisfaction=maybe(rnd.randint(1, 5)),
                    relevance=maybe(rnd.randint(1, 5)),
                    recommend=maybe(rnd.randint(0, 10)),
                    new_skill=maybe(rnd.choice(["yes", "partly", "no"])),
                    new_connections_abroad=maybe(rnd.randint(0, 6)),
                    stakeholder_access=access,
                    suggestion=maybe("More time for peer exchange", 0.5),
                )
    for country, count in members.items():
        for k in range(1, count + 1):
            member = f"m_{country.lower()}{k}"
            if rnd.random() < 0.15:
                continue  # never filled in the baseline
            needs = [n for n in NEEDS if rnd.random() < 0.3]
            base = {n: maybe(rnd.randint(1, 4)) for n in NEEDS}
            data.add_self_assessment(country, "baseline", member, needs, base)
            if rnd.random() < 0.7:
                end = {n: maybe(min(5, (v or 2) + rnd.randint(-1, 2))) for n, v in base.items()}
                data.add_self_assessment(country, "endline", member, [], end)
    data.topics = {
        date(2023, 1, 1): ["impact_measurement"],
        date(2023, 2, 1): ["visibility", "funding_access"],
        # March: no topic at all
        date(2023, 4, 1): ["scaling", "public_procurement"],
        date(2023, 5, 1): ["team_leadership"],
    }
    return data


# --------------------------------------------------------------------------------------
# Independent reference computation.


def _share(flags: list[Any]) -> float | None:
    answered = [f for f in flags if f is not None]
    return sum(1 for f in answered if f) / len(answered) if answered else None


def _mean(values: list[Any]) -> float | None:
    answered = [v for v in values if v is not None]
    return sum(answered) / len(answered) if answered else None


def _count(values: list[Any]) -> int:
    return sum(1 for v in values if v is not None)


def scopes(data: Canonical) -> list[str]:
    """Every country with feedback, plus NETWORK."""
    return sorted({r["country"] for r in data.feedback}) + [NETWORK]


def _in_scope(row: dict[str, Any], scope: str) -> bool:
    return scope == NETWORK or row["country"] == scope


def reference_indicators(data: Canonical) -> dict[tuple[str, date], dict[str, tuple[Any, int]]]:
    """``{(scope, month): {indicator: (value, n)}}`` plus active_members/respondents."""
    out: dict[tuple[str, date], dict[str, tuple[Any, int]]] = {}
    baseline = [r for r in data.self_assessment if r["wave"] == "baseline"]
    for scope in scopes(data):
        months = sorted({r["feedback_month"] for r in data.feedback if _in_scope(r, scope)})
        cumulative, cumulative_n = 0, 0
        for m in months:
            rows = [r for r in data.feedback if _in_scope(r, scope) and r["feedback_month"] == m]
            # The network counts the members of the countries present in the month only.
            present = {r["country"] for r in data.feedback if r["feedback_month"] == m}
            active = sum(
                n
                for (c, mm), n in data.roster.items()
                if mm == m and _in_scope({"country": c}, scope) and c in present
            )
            has_roster = any(
                mm == m and _in_scope({"country": c}, scope) for (c, mm) in data.roster
            )
            ind: dict[str, tuple[Any, int]] = {}
            ind["active_members"] = (active if has_roster else None, 0)
            ind["respondents"] = (len(rows), len(rows))
            ind["response_rate"] = (
                len(rows) / active if has_roster and active else None,
                len(rows),
            )
            peer = [r["attended_peer_session"] for r in rows]
            ind["peer_session_rate"] = (_share(peer), _count(peer))
            work = [r["attended_workshop"] for r in rows]
            ind["workshop_rate"] = (_share(work), _count(work))
            sat = [r["satisfaction"] for r in rows]
            ind["satisfaction_mean"] = (_mean(sat), _count(sat))
            ind["satisfaction_low_share"] = (
                _share([None if s is None else s <= 2 for s in sat]),
                _count(sat),
            )
            rel = [r["relevance"] for r in rows]
            ind["relevance_mean"] = (_mean(rel), _count(rel))
            rec = [r["recommend"] for r in rows if r["recommend"] is not None]
            nps = (
                100 * (sum(v >= 9 for v in rec) - sum(v <= 6 for v in rec)) / len(rec)
                if rec
                else None
            )
            ind["nps"] = (nps, len(rec))
            skill = [r["new_skill"] for r in rows if r["new_skill"] is not None]
            points = {"yes": 1.0, "partly": 0.5, "no": 0.0}
            ind["skill_gain_rate"] = (
                sum(points[s] for s in skill) / len(skill) if skill else None,
                len(skill),
            )
            conn = [
                r["new_connections_abroad"] for r in rows if r["new_connections_abroad"] is not None
            ]
            ind["connections_sum"] = (sum(conn) if conn else None, len(conn))
            ind["connections_mean"] = (sum(conn) / len(conn) if conn else None, len(conn))
            cumulative += sum(conn)
            cumulative_n += len(conn)
            ind["connections_cumulative"] = (cumulative, cumulative_n)
            sel = [
                s
                for s in data.selections
                if _in_scope(s, scope)
                and s["feedback_month"] == m
                and s["field"] == "stakeholder_access"
            ]
            answered = {(s["country"], s["member_id"]) for s in sel}
            for t in STAKEHOLDER_TYPES:
                reached = {(s["country"], s["member_id"]) for s in sel if s["value"] == t}
                ind[f"access_{t}_rate"] = (
                    len(reached) / len(answered) if answered else None,
                    len(answered),
                )
            anyone = {(s["country"], s["member_id"]) for s in sel if s["value"] != "none"}
            ind["access_any_rate"] = (
                len(anyone) / len(answered) if answered else None,
                len(answered),
            )
            base = [b for b in baseline if _in_scope(b, scope)]
            topics = set(data.topics.get(m, []))
            covered = [
                b
                for b in base
                if topics
                & {
                    n["need"]
                    for n in data.needs
                    if n["wave"] == "baseline"
                    and n["country"] == b["country"]
                    and n["member_id"] == b["member_id"]
                }
            ]
            ind["needs_coverage"] = (len(covered) / len(base) if base else None, len(base))
            out[(scope, m)] = ind
    return out


def month_index(m: date) -> int:
    """Months since year 0, so that consecutive months differ by one."""
    return m.year * 12 + m.month - 1


def reference_trends(
    indicators: dict[tuple[str, date], dict[str, tuple[Any, int]]], names: list[str]
) -> dict[tuple[str, date, str], dict[str, Any]]:
    """indicator_value rows: value, n, prev_value, delta, running_mean, mean_3m."""
    out = {}
    for (scope, m), ind in indicators.items():
        for name in names:
            value, n = ind[name]
            if value is None:
                continue
            history = {
                month_index(mm): i2[name][0]
                for (s2, mm), i2 in indicators.items()
                if s2 == scope and i2[name][0] is not None and mm <= m
            }
            mi = month_index(m)
            prev = history.get(mi - 1)
            last3 = [v for k, v in history.items() if mi - 3 <= k < mi]
            out[(scope, m, name)] = {
                "value": float(value),
                "n": n,
                "prev_value": None if prev is None else float(prev),
                "delta": None if prev is None else float(value) - float(prev),
                "running_mean": mean(float(v) for v in history.values()),
                "mean_3m": mean(float(v) for v in last3) if last3 else None,
            }
    return out


def reference_capability_growth(data: Canonical) -> dict[tuple[str, str], dict[str, Any]]:
    """``{(scope, area): {members, baseline_mean, endline_mean, growth_mean}}``."""
    by_key = {(r["country"], r["wave"], r["member_id"]): r for r in data.self_assessment}
    out = {}
    for scope in sorted({r["country"] for r in data.self_assessment}) + [NETWORK]:
        for area in NEEDS:
            pairs = []
            for (c, wave, member), row in by_key.items():
                if wave != "baseline" or not _in_scope({"country": c}, scope):
                    continue
                end = by_key.get((c, "endline", member))
                col = f"capability_{area}"
                if end and row[col] is not None and end[col] is not None:
                    pairs.append((row[col], end[col]))
            if pairs:
                out[(scope, area)] = {
                    "members": len(pairs),
                    "baseline_mean": mean(b for b, _ in pairs),
                    "endline_mean": mean(e for _, e in pairs),
                    "growth_mean": mean(e - b for b, e in pairs),
                }
    return out


def reference_need_status(data: Canonical) -> dict[tuple[str, date, str], dict[str, Any]]:
    """need_coverage_status rows keyed by (scope, month, need)."""
    out = {}
    baseline = [r for r in data.self_assessment if r["wave"] == "baseline"]
    for scope in scopes(data):
        base = {(b["country"], b["member_id"]) for b in baseline if _in_scope(b, scope)}
        if not base:
            continue
        months = sorted({r["feedback_month"] for r in data.feedback if _in_scope(r, scope)})
        named: dict[str, set] = {}
        for n in data.needs:
            if (
                n["wave"] == "baseline"
                and (n["country"], n["member_id"]) in base
                and _in_scope(n, scope)
            ):
                named.setdefault(n["need"], set()).add((n["country"], n["member_id"]))
        for m in months:
            for need, who in named.items():
                covered_months = sorted(
                    mm for mm, ts in data.topics.items() if need in ts and mm <= m
                )
                out[(scope, m, need)] = {
                    "members_naming": len(who),
                    "baseline_members": len(base),
                    "share": len(who) / len(base),
                    "covered_this_month": need in data.topics.get(m, []),
                    "first_covered_month": covered_months[0] if covered_months else None,
                    "covered_so_far": bool(covered_months),
                }
    return out


def close(a: Any, b: Any, tol: float = 1e-9) -> bool:
    """Equal, or both numbers within ``tol`` (None equals only None)."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) and pd.isna(a):
        return b is None or (isinstance(b, float) and pd.isna(b))
    return abs(float(a) - float(b)) <= tol
