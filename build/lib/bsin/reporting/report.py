"""The monthly partner report: data, rendering and the email message.

Three steps, each testable on its own:

* ``build_report(wh, partners, country, month) -> ReportContext``: pure data read from the
  marts (``indicators_monthly``, ``indicator_value``, ``adaptation_signal``) and the
  country's own ``feedback`` rows. Privacy rules are applied here, once, so no template can
  leak what the context does not hold (docs/reports.md, "Privacy"):

  - another country and the network appear only as aggregates;
  - every figure about another country or the network follows the one disclosure rule of
    ``bsin.reporting.disclosure`` (k from programme.yaml ``min_respondents``): a foreign cell under
    k answers is suppressed, and network figures are computed over the countries with at
    least k answers only, so no subtraction recovers a small country;
  - free text goes through ``bsin.reporting.text.safe_free_text`` (no address, no live link, one
    line) for the email and ``bsin.reporting.text.redact_emails`` for the CSV;
  - member rows carry a per-partner pseudonym (``bsin.ingest.pseudonymise.partner_member_id``).

* ``render_report(ctx, language) -> RenderedReport``: subject, HTML (Jinja2 with autoescape,
  CSS inlined by css-inline, 600 px), plain text, PNG charts keyed by Content-ID and the CSV.
* ``build_message(rendered, partner, sender) -> EmailMessage``: multipart/mixed holding
  multipart/related (multipart/alternative text + HTML, then the CID images) and the CSV.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime, formataddr, parseaddr
from typing import TYPE_CHECKING, Any

from bsin.core.months import month_start, parse_month
from bsin.core.paths import TEMPLATES_DIR
from bsin.reporting.disclosure import (
    COUNT_COLUMNS,
    DEFAULT_MIN_RESPONDENTS,
    HIDDEN,
    Cell,
    for_viewer,
    network_figures,
    to_float,
    to_int,
    validate_k,
)
from bsin.reporting.disclosure import foreign_cell as _foreign_cell
from bsin.reporting.report_csv import to_csv_bytes
from bsin.reporting.report_i18n import Translator
from bsin.reporting.report_view import (  # noqa: F401  (re-exported for existing callers)
    LOWER_IS_BETTER,
    format_change,
    format_delta,
    format_value,
    indicator_kind,
)
from bsin.reporting.text import EMAIL_REDACTION, redact_emails, safe_free_text

if TYPE_CHECKING:
    from bsin.core.config import Partner, PartnersConfig

log = logging.getLogger(__name__)

#: Default smallest number of answers behind a figure shown outside their own country
#: (the configured value is ``programme.yaml`` ``min_respondents``).
MIN_RESPONDENTS = DEFAULT_MIN_RESPONDENTS
NETWORK = "NETWORK"
PROGRAMME_NAME = "Baltic Sea Impact Network"

#: Indicators in display order; any other indicator in the marts follows alphabetically.
INDICATOR_ORDER = (
    "response_rate",
    "satisfaction_mean",
    "satisfaction_low_share",
    "relevance_mean",
    "nps",
    "skill_gain_rate",
    "peer_session_rate",
    "workshop_rate",
    "connections_sum",
    "connections_mean",
    "connections_cumulative",
    "access_public_sector_rate",
    "access_corporate_rate",
    "access_impact_investor_rate",
    "access_media_rate",
    "access_any_rate",
    "needs_coverage",
)
TREND_INDICATORS = ("satisfaction_mean", "nps", "response_rate")
COMPARISON_COLUMNS = ("response_rate", "satisfaction_mean", "nps")
#: Columns of the CSV attachment: an explicit allow-list, so a column added to ``feedback``
#: later never reaches a partner by accident.
CSV_COLUMNS = (
    "member_id",
    "feedback_month",
    "submitted_at",
    "attended_peer_session",
    "attended_workshop",
    "satisfaction",
    "relevance",
    "recommend",
    "new_skill",
    "new_connections_abroad",
    "stakeholder_access",
    "challenges",
    "challenges_other",
    "suggestion",
)
FREE_TEXT_COLUMNS = ("challenges_other", "suggestion")
__all__ = ["EMAIL_REDACTION", "Cell", "redact_emails"]


class ReportDataError(LookupError):
    """The marts lack what the report needs; the message names country, month and the fix."""


# --------------------------------------------------------------------------- data model


@dataclass(frozen=True)
class IndicatorLine:
    """One indicator of the month: the country's value and trend beside the network's."""

    key: str
    country: Cell
    prev_value: float | None
    delta: float | None
    running_mean: float | None
    mean_3m: float | None
    network: Cell


@dataclass(frozen=True)
class TrendPoint:
    """One month of a trend chart."""

    month: date
    country: Cell
    network: Cell


@dataclass(frozen=True)
class ComparisonRow:
    """A country (or the network) in the month's comparison table."""

    scope: str
    name: str
    own: bool
    respondents: Cell
    cells: Mapping[str, Cell]


@dataclass(frozen=True)
class FiredSignal:
    """An adaptation signal that fired for the country this month."""

    rule_id: str
    subject: str
    indicator: str
    measure: str
    observed: float | None
    comparison: str
    threshold: float | None
    recommendation: str
    #: The indicator's value in the month (the observed quantity may be a change).
    value: float | None = None


@dataclass(frozen=True)
class ReportContext:
    """Everything one partner's report shows, and nothing else."""

    country: str
    country_name: str
    organisation: str
    language: str
    recipients: tuple[str, ...]
    month: date
    programme_name: str
    active_members: int | None
    respondents: int
    indicators: tuple[IndicatorLine, ...]
    trends: Mapping[str, tuple[TrendPoint, ...]]
    comparison: tuple[ComparisonRow, ...]
    signals: tuple[FiredSignal, ...]
    suggestions: tuple[str, ...]
    csv_columns: tuple[str, ...] = CSV_COLUMNS
    member_rows: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)
    min_respondents: int = MIN_RESPONDENTS
    #: (countries with data this month, countries configured with members): the network
    #: figures cover the first; the report says so when it is fewer.
    network_countries: tuple[int, int] | None = None
    #: Indicators this partner does not collect (no self-assessment form): "not collected".
    not_collected: tuple[str, ...] = ()
    #: (countries collecting self-assessments, countries): the network's needs figures
    #: cover the first; the report says so when it is fewer.
    self_assessment_countries: tuple[int, int] | None = None

    def line(self, key: str) -> IndicatorLine | None:
        """The indicator line ``key`` (None when the marts do not have it)."""
        return next((line for line in self.indicators if line.key == key), None)

    @property
    def month_label(self) -> str:
        """``YYYY-MM``."""
        return self.month.strftime("%Y-%m")


@dataclass(frozen=True)
class RenderedReport:
    """The rendered report, ready to be packed into an email or written to files."""

    country: str
    month: date
    language: str
    subject: str
    html: str
    text: str
    images: dict[str, bytes]
    csv_bytes: bytes
    csv_filename: str


# --------------------------------------------------------------------------- helpers


# One definition of the warehouse-value conversions, shared with bsin.reporting.disclosure.
_num, _int = to_float, to_int


def _as_month(month: date | datetime | str) -> date:
    if isinstance(month, str):
        return parse_month(month)
    return month_start(month)


def _to_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def foreign_cell(value: Any, n: Any, k: int = MIN_RESPONDENTS) -> Cell:
    """An aggregate of another country: hidden under ``k`` answers (``bsin.reporting.disclosure``)."""
    return _foreign_cell(value, n, k)


def _indicator_sort_key(key: str) -> tuple[int, str]:
    return (
        (INDICATOR_ORDER.index(key), "") if key in INDICATOR_ORDER else (len(INDICATOR_ORDER), key)
    )


# --------------------------------------------------------------------------- build


def _plain(value: Any) -> Any:
    """A database value as a plain Python object (None for every kind of missing)."""
    import pandas as pd

    if value is None or (not isinstance(value, (str, bytes)) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    # numpy scalars (int64, bool_) become int/bool, so type checks downstream hold.
    return value.item() if hasattr(value, "item") and not isinstance(value, (str, bytes)) else value


def _rows(wh: Any, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Run a query (portable ``:name`` parameters) and return plain dict rows."""
    df = wh.query_df(sql, dict(params))
    return [{k: _plain(v) for k, v in r.items()} for r in df.astype(object).to_dict("records")]


def build_report(
    wh: Any,
    partners: PartnersConfig,
    country: str,
    month: date | datetime | str,
    programme_name: str = PROGRAMME_NAME,
    language: str | None = None,
    min_respondents: int = MIN_RESPONDENTS,
    pseudonym_key: bytes | str | None = None,
) -> ReportContext:
    """Read the marts and the country's own feedback into a ``ReportContext``.

    ``wh`` is a ``bsin.warehouse.db.Warehouse`` (anything with ``query_df(sql, params)``).
    ``language`` (default: the partner's ``report_language``) is the language of the
    signals' advice, which comes from configuration (signals.yaml) rather than templates.
    ``min_respondents`` is k of the disclosure rule (``programme.yaml``);
    ``pseudonym_key`` keys the partner's member pseudonyms (default: ``load_key()``).
    Raises ``ReportDataError`` when the marts have no row for the country and month.
    """
    k = validate_k(min_respondents)
    m = _as_month(month)
    try:
        partner = partners.partner(country)
    except KeyError as exc:
        raise ReportDataError(str(exc.args[0])) from None
    lang = language or partner.report_language
    # dbt creates the marts on their first build, not migrate(): say so instead of a
    # "table does not exist" from the driver.
    if hasattr(wh, "table_exists") and not wh.table_exists("indicators_monthly"):
        raise ReportDataError(
            f"no indicators for {country} {m:%Y-%m}: the marts were never built in {wh!r}; "
            "run the month's build_marts task group (or `make demo MONTH=...`) first"
        )

    monthly = _rows(
        wh,
        "select scope_country, month, active_members, respondents from indicators_monthly "
        "where month <= :m order by month",
        {"m": m},
    )
    respondents: dict[tuple[str, date], int] = {}
    active: dict[tuple[str, date], int | None] = {}
    for r in monthly:
        key = (r["scope_country"], _to_date(r["month"]))
        respondents[key] = _int(r["respondents"]) or 0
        active[key] = _int(r["active_members"])
    if (country, m) not in respondents:
        raise ReportDataError(
            f"no indicators for {country} {m:%Y-%m} in indicators_monthly: run the month's "
            "build_marts task (or `make demo MONTH=...`) before rendering its report"
        )

    values = _rows(
        wh,
        "select scope_country, month, indicator, value, n, prev_value, delta, running_mean, "
        "mean_3m from indicator_value where month <= :m",
        {"m": m},
    )
    by_key: dict[tuple[str, date, str], dict[str, Any]] = {
        (r["scope_country"], _to_date(r["month"]), r["indicator"]): r for r in values
    }

    # Network figures are never read from the marts' NETWORK rows (they include every
    # country): bsin.reporting.disclosure recomputes them from the per-country counts, over the
    # countries with at least k answers only.
    network = network_figures(
        _rows(
            wh,
            # Column names come from the COUNT_COLUMNS constant, never from input.
            "select scope_country, month, "  # noqa: S608
            + ", ".join(COUNT_COLUMNS)
            + " from int_monthly_counts where month <= :m",
            {"m": m},
        ),
        k,
    )

    def net(month_: date, indicator: str) -> Cell:
        cell = network.get((month_, indicator), HIDDEN)
        return for_viewer(cell, country)

    indicators = []
    for key in sorted(
        {k[2] for k in by_key if k[0] == country and k[1] == m}, key=_indicator_sort_key
    ):
        row = by_key[(country, m, key)]
        indicators.append(
            IndicatorLine(
                key=key,
                country=Cell(_num(row["value"]), _int(row["n"])),
                prev_value=_num(row["prev_value"]),
                delta=_num(row["delta"]),
                running_mean=_num(row["running_mean"]),
                mean_3m=_num(row["mean_3m"]),
                network=net(m, key),
            )
        )

    if not partner.has_form("self_assessment"):
        # Shown as "not collected" (not left out): the partner sees what it does not collect.
        shown = {line.key for line in indicators}
        for key in SELF_ASSESSMENT_INDICATORS:
            if key not in shown:
                indicators.append(
                    IndicatorLine(key, Cell(None, None), None, None, None, None, net(m, key))
                )
        indicators.sort(key=lambda line: _indicator_sort_key(line.key))

    months = sorted({k[1] for k in respondents if k[0] == country})
    trends: dict[str, tuple[TrendPoint, ...]] = {}
    for key in TREND_INDICATORS:
        points = []
        for mm in months:
            row = by_key.get((country, mm, key))
            own_cell = Cell(_num(row["value"]) if row else None, _int(row["n"]) if row else None)
            points.append(TrendPoint(mm, own_cell, net(mm, key)))
        trends[key] = tuple(points)

    comparison = []
    scopes = [p.country for p in partners.partners] + [NETWORK]
    for scope in scopes:
        # Every configured country has its row, with or without answers: a country with
        # none shows the same marker as one with 1 or 2, so not even "somebody answered"
        # is disclosed.
        own = scope == country
        n_resp = respondents.get((scope, m), 0)
        cells: dict[str, Cell] = {}
        for key in COMPARISON_COLUMNS:
            row = by_key.get((scope, m, key))
            value, n = (row["value"], row["n"]) if row else (None, n_resp)
            if own:
                cells[key] = Cell(_num(value), _int(n))
            elif scope == NETWORK:
                cells[key] = net(m, key)
            else:
                cells[key] = foreign_cell(value, n, k)
        if own:
            resp_cell = Cell(n_resp, n_resp)
        elif scope == NETWORK:
            count = net(m, "response_rate")
            resp_cell = Cell(count.n, count.n, count.suppressed, count.scopes)
        else:
            resp_cell = foreign_cell(n_resp, n_resp, k)
        name = "" if scope == NETWORK else partners.partner(scope).name
        comparison.append(ComparisonRow(scope, name, own, resp_cell, cells))

    from bsin.reporting.signals import signals_for

    # Advice in the partner's language: bsin.reporting.signals re-renders each rule's translation.
    signal_rows = [
        {k: _plain(v) for k, v in r.items()}
        for r in signals_for(wh, country, m, lang).astype(object).to_dict("records")
    ]
    signals = tuple(
        FiredSignal(
            rule_id=str(r["rule_id"]),
            subject=str(r["subject"] or ""),
            indicator=str(r["indicator"]),
            measure=str(r["measure"] or ""),
            observed=_num(r["observed"]),
            comparison=str(r["comparison"] or ""),
            threshold=_num(r["threshold"]),
            recommendation=redact_emails(str(r["recommendation"])),
            value=_num(r.get("value")),
        )
        for r in signal_rows
    )

    # The country filter is the privacy boundary for individual-level data: only this
    # partner's own members' rows are ever read.
    member_rows_raw = _rows(
        wh,
        # Column names come from the CSV_COLUMNS constant, never from input.
        "select " + ", ".join(CSV_COLUMNS) + " from feedback "  # noqa: S608
        "where country = :c and feedback_month = :m order by member_id",
        {"c": country, "m": m},
    )
    if pseudonym_key is None:
        from bsin.ingest.pseudonymise import load_key

        pseudonym_key = load_key()
    from bsin.ingest.pseudonymise import partner_member_id

    member_rows = []
    for r in member_rows_raw:
        clean = dict(r)
        # Keyed per partner: a person answering two countries' forms cannot be linked
        # across the two partners' files.
        clean["member_id"] = partner_member_id(str(r["member_id"]), pseudonym_key, country)
        for col in FREE_TEXT_COLUMNS:
            if clean.get(col) is not None:
                clean[col] = redact_emails(str(clean[col]))
        member_rows.append(clean)
    # Sorted by the pseudonym the partner sees, not by the warehouse id.
    member_rows.sort(key=lambda r: r["member_id"])
    suggestions = tuple(
        safe_free_text(str(r["suggestion"]))
        for r in member_rows
        if r.get("suggestion") is not None and str(r["suggestion"]).strip()
    )

    return ReportContext(
        country=country,
        country_name=partner.name,
        organisation=partner.organisation,
        language=lang,
        recipients=tuple(partner.recipients),
        month=m,
        programme_name=programme_name,
        active_members=active.get((country, m)),
        respondents=respondents[(country, m)],
        indicators=tuple(indicators),
        trends=trends,
        comparison=tuple(comparison),
        signals=signals,
        suggestions=suggestions,
        member_rows=tuple(member_rows),
        min_respondents=k,
        network_countries=_network_countries(
            partners, m, network.get((m, "response_rate"), HIDDEN)
        ),
        not_collected=() if partner.has_form("self_assessment") else SELF_ASSESSMENT_INDICATORS,
        self_assessment_countries=(
            sum(p.has_form("self_assessment") for p in partners.partners),
            len(partners.partners),
        ),
    )


#: Indicators that rest on the self-assessment form.
SELF_ASSESSMENT_INDICATORS: tuple[str, ...] = ("needs_coverage",)


def _network_countries(partners: PartnersConfig, month: date, network: Cell) -> tuple[int, int]:
    """(countries the network figures of ``month`` cover, configured countries with members).

    The first is the network figure's own scope (bsin.reporting.disclosure: countries with at least k
    answers), never "countries with data": counting a country with 1 or 2 answers would
    tell its "0 versus a few" apart.
    """
    present = len(network.scopes)
    expected = sum(1 for p in partners.partners if p.members_in(month) > 0)
    return present, max(present, expected)


# --------------------------------------------------------------------------- formatting
# Display rules (kinds, changes, labels, alt text) live in bsin.reporting.report_view; the names
# imported at the top stay importable from here for existing callers.


def cid_for(name: str, ctx: ReportContext) -> str:
    """Content-ID of chart ``name`` (without angle brackets), stable per partner-month."""
    return f"{name}.{ctx.country}.{ctx.month_label}@bsin"


def _network_note(ctx: ReportContext, t: Translator) -> str:
    """What the network figures cover, when it is less than every configured country:
    "network figures this month cover 4 of 5 countries", and the needs figures' countries
    when some partner collects no self-assessment."""
    if ctx.network_countries is None:
        return ""
    notes = []
    present, total = ctx.network_countries
    if present < total:
        notes.append(t("network_coverage", present=present, total=total))
    if ctx.self_assessment_countries is not None:
        collecting, configured = ctx.self_assessment_countries
        if collecting < configured:
            notes.append(t("network_sa_coverage", present=collecting, total=configured))
    return " ".join(notes)


def _csv_filename(ctx: ReportContext) -> str:
    return f"bsin_{ctx.country.lower()}_{ctx.month_label}_members.csv"


# --------------------------------------------------------------------------- render


def _environment() -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        # HTML templates escape every value: suggestions are respondents' free text.
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_report(ctx: ReportContext, language: str | None = None) -> RenderedReport:
    """Render ``ctx`` in ``language`` (default: the partner's ``report_language``)."""
    import css_inline

    from bsin.reporting.report_charts import render_charts
    from bsin.reporting.report_view import build_view

    lang = language or ctx.language
    t = Translator(lang)
    pngs = render_charts(ctx, t)
    view = build_view(ctx, t, list(pngs), ctx.min_respondents)
    view["csv_filename"] = _csv_filename(ctx)
    env = _environment()
    html = env.get_template("report.html").render(**view)
    # Mail clients drop <style> blocks; css-inline moves every rule onto its elements.
    html = css_inline.inline(html, load_remote_stylesheets=False)
    text = env.get_template("report.txt").render(**view)
    subject = t(
        "subject",
        programme=ctx.programme_name,
        country=view["country_name"],
        month=view["month_name"],
    )
    return RenderedReport(
        country=ctx.country,
        month=ctx.month,
        language=lang,
        subject=subject,
        html=html,
        text=text,
        images={cid_for(name, ctx): png for name, png in pngs.items()},
        csv_bytes=to_csv_bytes(ctx.csv_columns, ctx.member_rows),
        csv_filename=_csv_filename(ctx),
    )


# --------------------------------------------------------------------------- message


def message_id_for(country: str, month: date, sender: str, attempt: int = 0) -> str:
    """Deterministic Message-ID of a partner-month report (``attempt`` > 0 for resends)."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "bsin.invalid"
    suffix = f".resend{attempt}" if attempt else ""
    return f"<bsin-report.{country}.{month:%Y-%m}{suffix}@{domain}>"


def build_message(rendered: RenderedReport, partner: Partner, sender: str) -> EmailMessage:
    """Pack ``rendered`` into an email to ``partner``'s recipients.

    Structure: multipart/mixed [ multipart/related [ multipart/alternative [text, html],
    image/png ... ], text/csv attachment ].
    """
    if partner.country != rendered.country:
        raise ValueError(
            f"report for {rendered.country} addressed to partner {partner.country}: "
            "render the report of the partner you send to"
        )
    msg = EmailMessage()
    # Before any Content-* header: make_mixed would move those into a sub-part.
    msg.make_mixed()
    msg["Subject"] = rendered.subject
    msg["From"] = sender
    msg["To"] = ", ".join(formataddr(("", r)) for r in partner.recipients)
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = message_id_for(partner.country, rendered.month, sender)
    msg["Content-Language"] = rendered.language
    msg["X-BSIN-Country"] = partner.country
    msg["X-BSIN-Report-Month"] = f"{rendered.month:%Y-%m}"
    # Python's email API will not wrap an alternative part into a related one, so the
    # tree is assembled from parts, innermost first.
    alternative = MIMEPart()
    alternative.set_content(rendered.text, subtype="plain", charset="utf-8")
    alternative.add_alternative(rendered.html, subtype="html", charset="utf-8")
    related = MIMEPart()
    related.make_related()
    # RFC 2387: the type parameter names the root part's type.
    related.set_param("type", "multipart/alternative")
    related.attach(alternative)
    for cid, png in rendered.images.items():
        image = MIMEPart()
        image.set_content(
            png,
            maintype="image",
            subtype="png",
            cid=f"<{cid}>",
            disposition="inline",
            filename=cid.split("@")[0] + ".png",
        )
        related.attach(image)
    attachment = MIMEPart()
    attachment.set_content(
        rendered.csv_bytes,
        maintype="text",
        subtype="csv",
        disposition="attachment",
        filename=rendered.csv_filename,
    )
    msg.attach(related)
    msg.attach(attachment)
    return msg
