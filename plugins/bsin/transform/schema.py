"""The canonical schema: columns and pandas dtypes of every harmonised table (feedback,
selections, self-assessment, needs, quarantine), defined once and imported everywhere."""

from __future__ import annotations

from bsin.transform.mapping import CAPABILITY_FIELDS

FEEDBACK_COLUMNS: list[str] = [
    "country",
    "feedback_month",
    "member_id",
    "response_id",
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
    "form_revision_id",
]
SELECTION_COLUMNS: list[str] = ["country", "feedback_month", "member_id", "field", "value"]
SELF_ASSESSMENT_COLUMNS: list[str] = [
    "country",
    "wave",
    "member_id",
    "response_id",
    "submitted_at",
    "needs",
    *CAPABILITY_FIELDS,
    "interests",
]
NEED_COLUMNS: list[str] = ["country", "wave", "member_id", "need"]
QUARANTINE_COLUMNS: list[str] = [
    "country",
    "form_kind",
    "report_month",
    "response_id",
    "rule",
    "field",
    "reason",
    "value",
]
# The quarantine table: the same, plus the stage that wrote the row (harmonise, validate, ...).
QUARANTINE_TABLE_COLUMNS: list[str] = [*QUARANTINE_COLUMNS, "stage"]

_BOOL = "boolean"
_INT = "Int64"
_TEXT = "string"
_TS = "datetime64[us]"
FEEDBACK_DTYPES: dict[str, str] = {
    "country": _TEXT,
    "feedback_month": "object",  # datetime.date, the 1st of the month
    "member_id": _TEXT,
    "response_id": _TEXT,
    "submitted_at": _TS,  # naive UTC
    "attended_peer_session": _BOOL,
    "attended_workshop": _BOOL,
    "satisfaction": _INT,
    "relevance": _INT,
    "recommend": _INT,
    "new_skill": _TEXT,
    "new_connections_abroad": _INT,
    "stakeholder_access": _TEXT,
    "challenges": _TEXT,
    "challenges_other": _TEXT,
    "suggestion": _TEXT,
    "form_revision_id": _TEXT,
}
SELECTION_DTYPES: dict[str, str] = {
    "country": _TEXT,
    "feedback_month": "object",
    "member_id": _TEXT,
    "field": _TEXT,
    "value": _TEXT,
}
SELF_ASSESSMENT_DTYPES: dict[str, str] = {
    "country": _TEXT,
    "wave": _TEXT,
    "member_id": _TEXT,
    "response_id": _TEXT,
    "submitted_at": _TS,
    "needs": _TEXT,
    **dict.fromkeys(CAPABILITY_FIELDS, _INT),
    "interests": _TEXT,
}
NEED_DTYPES: dict[str, str] = dict.fromkeys(NEED_COLUMNS, _TEXT)
QUARANTINE_DTYPES: dict[str, str] = {
    **dict.fromkeys(QUARANTINE_COLUMNS, _TEXT),
    "report_month": "object",
}
