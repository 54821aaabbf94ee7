"""Disclosure control: the one rule every figure released outside its country obeys.

**The rule.** An aggregate released to anyone outside a country (another partner's email,
its charts, alt texts and CSV, the programme report, any export) may rest on that
country's answers only when the country has at least *k* answers behind that figure in
that month (``programme.yaml`` ``min_respondents``, default 3). A country under *k* is
not shown; it is also left out of every figure it would otherwise be part of.

How each kind of figure follows the rule:

* **A foreign country's cell** (``foreign_cell``): shown when its ``n >= k``, else the
  ``n<k`` marker. A country with no answers at all looks exactly like one with 1 or 2,
  so even "somebody answered" is not disclosed.
* **A network figure** (``network_figures``) is computed here, from the per-country counts
  and sums of ``int_monthly_counts``, over the countries with ``n >= k`` for that figure
  and month only (the marts' ``NETWORK`` rows, which include every country, are never
  released). The network minus every country that could be subtracted from it is then a
  sum of countries of at least *k* answers each: nothing of a small country is in it.
  This is the cell-exclusion form of protection; it needs no complementary suppression
  because the protected cells never enter the total in the first place.
* **Cumulative figures** (``connections_cumulative``) are the running sum of the released
  monthly network figures, not the marts' running total. "This month minus last month"
  is then exactly this month's released figure, never a small country's earlier months
  that joined the network later.
* **A network figure seen by a partner** (``for_viewer``) is also hidden when the only
  country in it is the viewer's own: that would be the partner's own figure under the
  network's name.
* **Totals over many months** (``pooled``) sum the same publishable (country, month)
  pairs: a network total is the sum of its released months, a country's total rests only
  on its months with at least *k* answers.
* **Groups of several countries over the programme** (``disclosure_safe``,
  ``protect_group``): primary suppression under *k*, then complementary suppression of the
  smallest shown countries until the hidden ones together are safe as well.

Every released figure in the partner email and the programme report is derived from
these functions, so the same countries are in the same figure on every channel: the
programme report's network series and the partner emails' network column agree, and no
difference between two channels isolates a small country.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

#: Default smallest number of answers behind any figure released outside its country.
DEFAULT_MIN_RESPONDENTS = 3
NETWORK = "NETWORK"


@dataclass(frozen=True)
class Cell:
    """One aggregate: its value, count behind it, whether it is hidden and its countries.

    ``scopes`` lists the countries a network figure was computed over (empty for one
    country's own figure).
    """

    value: float | None
    n: int | None
    suppressed: bool = False
    scopes: tuple[str, ...] = ()

    @property
    def shown(self) -> float | None:
        """The value a reader may see (None when suppressed or missing)."""
        return None if self.suppressed else self.value


#: A suppressed figure: no value, no count, no countries.
HIDDEN = Cell(None, None, suppressed=True)


@dataclass(frozen=True)
class Part:
    """How one indicator is computed from the counts of ``int_monthly_counts``.

    value = sum(weight * numerator column) / sum(denominator); without a denominator the
    value is the weighted sum itself. ``n`` names the count of answers behind the figure:
    it decides whether a country may be part of it.
    """

    numerator: tuple[tuple[str, float], ...]
    denominator: str | None
    n: str


def _ratio(num: str, den: str, n: str | None = None) -> Part:
    return Part(((num, 1.0),), den, n or den)


#: The indicators of the marts (include/sql/marts/20_indicators_monthly.sql) as sums of
#: per-country counts. tests/integration/test_disclosure.py checks that, over one country, these
#: reproduce the marts' values exactly, so the two definitions cannot drift apart.
INDICATOR_PARTS: dict[str, Part] = {
    "response_rate": _ratio("respondents", "active_members", "respondents"),
    "peer_session_rate": _ratio("peer_yes", "peer_n"),
    "workshop_rate": _ratio("workshop_yes", "workshop_n"),
    "satisfaction_mean": _ratio("satisfaction_sum", "satisfaction_n"),
    "satisfaction_low_share": _ratio("satisfaction_low", "satisfaction_n"),
    "relevance_mean": _ratio("relevance_sum", "relevance_n"),
    "nps": Part((("promoters", 100.0), ("detractors", -100.0)), "recommend_n", "recommend_n"),
    "skill_gain_rate": Part((("skill_half_points", 0.5),), "skill_n", "skill_n"),
    "connections_sum": Part((("connections_sum", 1.0),), None, "connections_n"),
    "connections_mean": _ratio("connections_sum", "connections_n"),
    "access_public_sector_rate": _ratio("access_public_sector", "access_n"),
    "access_corporate_rate": _ratio("access_corporate", "access_n"),
    "access_impact_investor_rate": _ratio("access_impact_investor", "access_n"),
    "access_media_rate": _ratio("access_media", "access_n"),
    "access_any_rate": _ratio("access_any", "access_n"),
    "needs_coverage": _ratio("baseline_covered", "baseline_members"),
}
#: Running totals, built from the released monthly figure of the indicator named.
CUMULATIVE_OF: dict[str, str] = {"connections_cumulative": "connections_sum"}
#: Every column of ``int_monthly_counts`` the parts read.
COUNT_COLUMNS: tuple[str, ...] = tuple(
    sorted(
        {c for p in INDICATOR_PARTS.values() for c, _ in p.numerator}
        | {p.denominator for p in INDICATOR_PARTS.values() if p.denominator}
        | {p.n for p in INDICATOR_PARTS.values()}
    )
)


def validate_k(k: int) -> int:
    """``k`` itself, or ValueError when it cannot protect anyone (below 2)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise ValueError(f"min_respondents must be a whole number of at least 2, not {k!r}")
    return k


def publishable(n: int | None, k: int) -> bool:
    """Whether a country's figure over ``n`` answers may leave the country."""
    return n is not None and n >= k


def foreign_cell(value: Any, n: Any, k: int) -> Cell:
    """An aggregate of another country: hidden under ``k`` answers (0 included).

    A hidden cell holds neither value nor count: what the report context does not hold,
    no template, chart or export can leak.
    """
    n_int = _int(n)
    if not publishable(n_int, k):
        return HIDDEN
    return Cell(_num(value), n_int)


def for_viewer(cell: Cell, viewer: str) -> Cell:
    """A network cell as ``viewer``'s partner sees it: hidden when only its own country is in it."""
    if cell.suppressed or set(cell.scopes) - {viewer}:
        return cell
    return Cell(None, None, suppressed=True, scopes=cell.scopes)


@dataclass(frozen=True)
class _Sums:
    num: float
    den: float
    n: int
    scopes: tuple[str, ...]


def _sum_part(rows: Iterable[tuple[str, Mapping[str, Any]]], part: Part, k: int) -> _Sums:
    num = den = 0.0
    n = 0
    scopes: list[str] = []
    for country, row in rows:
        n_c = _int(row.get(part.n)) or 0
        if not publishable(n_c, k):
            continue
        scopes.append(country)
        n += n_c
        num += sum(w * (_num(row.get(col)) or 0.0) for col, w in part.numerator)
        if part.denominator:
            den += _num(row.get(part.denominator)) or 0.0
    return _Sums(num, den, n, tuple(sorted(scopes)))


def _value(part: Part, s: _Sums) -> float | None:
    if part.denominator is None:
        return s.num if s.n > 0 else None
    return s.num / s.den if s.den > 0 else None


def network_figures(counts: Iterable[Mapping[str, Any]], k: int) -> dict[tuple[date, str], Cell]:
    """The releasable network figure of every (month, indicator), from per-country counts.

    ``counts`` are rows of ``int_monthly_counts`` (``scope_country``, ``month`` and the
    ``COUNT_COLUMNS``); ``NETWORK`` rows are ignored. A figure over no publishable country
    is suppressed, whatever the countries under ``k`` answered.
    """
    by_month: dict[date, list[tuple[str, Mapping[str, Any]]]] = {}
    for row in counts:
        country = str(row["scope_country"])
        if country == NETWORK:
            continue
        by_month.setdefault(to_date(row["month"]), []).append((country, row))
    out: dict[tuple[date, str], Cell] = {}
    for m, rows in by_month.items():
        rows.sort(key=lambda cr: cr[0])
        for key, part in INDICATOR_PARTS.items():
            s = _sum_part(rows, part, k)
            out[(m, key)] = Cell(_value(part, s), s.n, scopes=s.scopes) if s.scopes else HIDDEN
    for key, monthly in CUMULATIVE_OF.items():
        running, running_n, scopes = 0.0, 0, set()
        for m in sorted(by_month):
            cell = out[(m, monthly)]
            if not cell.suppressed and cell.value is not None:
                running += cell.value
                running_n += cell.n or 0
                scopes |= set(cell.scopes)
            out[(m, key)] = (
                Cell(running, running_n, scopes=tuple(sorted(scopes))) if scopes else HIDDEN
            )
    return out


# --------------------------------------------------------------------------- groups


def disclosure_safe(counts: Iterable[int | None], k: int) -> bool:
    """Whether the total over a group of countries may be known, given per-country counts.

    Safe when nobody is behind it, or when at least ``k`` members are and every country's
    partner, who knows its own members' answers, still faces either none or at least
    ``k`` other members after subtracting its own.
    """
    ns = [n for n in (c or 0 for c in counts) if n > 0]
    total = sum(ns)
    if total == 0:
        return True
    if total < k:
        return False
    return all(total - n == 0 or total - n >= k for n in ns)


def _hidden(cell: Cell) -> Cell:
    return Cell(cell.value, cell.n, suppressed=True, scopes=cell.scopes)


def protect_group(cells: Mapping[str, Cell], network: Cell, k: int) -> tuple[dict[str, Cell], Cell]:
    """Suppress country cells (and the network total) so no small group can be worked out.

    Primary: a country under ``k``. Secondary (complementary suppression): the suppressed
    countries can be recovered together as network minus the countries shown, so more
    countries are hidden, smallest first, until that remainder is ``disclosure_safe``;
    when even hiding every country is not enough, the network total is hidden too.
    """
    ns = {c: cell.n or 0 for c, cell in cells.items()}
    hidden = {c for c, n in ns.items() if 0 < n < k}
    network_hidden = network.suppressed or not disclosure_safe(ns.values(), k)
    while not disclosure_safe((ns[c] for c in hidden), k):
        shown = sorted((n, c) for c, n in ns.items() if c not in hidden and n > 0)
        if not shown:
            network_hidden = True
            break
        hidden.add(shown[0][1])
    out = {c: _hidden(cell) if c in hidden else cell for c, cell in cells.items()}
    return out, _hidden(network) if network_hidden and network.value is not None else network


# --------------------------------------------------------------------------- helpers


def to_float(value: Any) -> float | None:
    """A warehouse value as a float; None for NULL, NaN or anything not a number."""
    if value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def to_int(value: Any) -> int | None:
    """A warehouse value as an int (via ``to_float``)."""
    f = to_float(value)
    return None if f is None else int(f)


_num, _int = to_float, to_int


def to_date(value: Any) -> date:
    """A warehouse date, datetime or ISO string as a ``date``."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def pooled(
    counts: Iterable[Mapping[str, Any]],
    key: str,
    k: int,
    countries: Iterable[str] | None = None,
) -> Cell:
    """Indicator ``key`` over many months (a programme total), by the same rule.

    Pools the (country, month) pairs in which the country had at least ``k`` answers for
    ``key``, restricted to ``countries`` when given: the network's total is then exactly
    the sum of its released monthly figures, and a country's total rests only on its
    publishable months, so "total minus the months shown" isolates no small month.
    """
    part = INDICATOR_PARTS[key]
    wanted = None if countries is None else set(countries)
    rows = [
        (str(r["scope_country"]), r)
        for r in counts
        if r["scope_country"] != NETWORK and (wanted is None or r["scope_country"] in wanted)
    ]
    s = _sum_part(rows, part, k)
    return Cell(_value(part, s), s.n, scopes=s.scopes) if s.scopes else HIDDEN


def publishable_pairs(
    counts: Iterable[Mapping[str, Any]], key: str, k: int
) -> dict[str, list[date]]:
    """Country -> the months in which it may be part of figures of ``key``."""
    part = INDICATOR_PARTS[key]
    out: dict[str, list[date]] = {}
    for r in counts:
        c = str(r["scope_country"])
        if c != NETWORK and publishable(_int(r.get(part.n)), k):
            out.setdefault(c, []).append(to_date(r["month"]))
    return {c: sorted(ms) for c, ms in out.items()}
