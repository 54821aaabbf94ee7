"""Landed payload texts -> the parts of each FormResponse that harmonising reads.

The extract lands every FormResponse as JSON text (``raw_response.payload``), and
harmonising reads only a few of its members: the id, the member, the two timestamps and
the answers' texts. Decoding each whole payload into dicts (``json.loads``) and walking
them was most of harmonising at network scale (docs/performance.md). msgspec (already a
dependency of Airflow's task SDK) decodes the payload straight into the typed shape the
Forms API documents, skipping every member harmonising does not read, in about half the
time. The decoded answers are frozen and hashable, so an answer that repeats across a
country's responses ("Jah", "4") is parsed once (``bsin.transform.answers.parse_landed``).

Nothing here decides anything. A payload that does not fit the documented shape exactly
(a member of another type, answers that are not an object, a value that is not a string,
JSON that only Python's decoder takes, such as ``NaN``) is decoded by ``json.loads`` instead
and parsed the ordinary way, so the outcome is the same either way;
``tests/support/fixtures_forms.harmonise_case`` holds every harmonisation test to that.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import msgspec


class TextAnswer(msgspec.Struct, frozen=True, gc=False):
    """One ``TextAnswer``; a missing value is None, as ``dict.get`` gives it."""

    value: str | None = None


class TextAnswers(msgspec.Struct, frozen=True, gc=False):
    answers: tuple[TextAnswer, ...] | None = None


class Answer(msgspec.Struct, frozen=True, gc=False):
    """An ``Answer`` as harmonising reads it: its text answers (other members are skipped)."""

    textAnswers: TextAnswers | None = None  # noqa: N815 (the API's name)

    def texts(self) -> list[str]:
        """The answer's non-blank texts, as ``bsin.transform.answers`` reads them from a dict."""
        values = self.textAnswers.answers if self.textAnswers is not None else None
        if not values:
            return []
        return [t.value for t in values if t.value and not t.value.isspace()]


class LandedResponse(msgspec.Struct, gc=False):
    """The members of a landed FormResponse that harmonising reads (the rest is skipped)."""

    responseId: str | None = None  # noqa: N815 (the API's names)
    member_id: str | None = None
    respondentEmail: str | None = None  # noqa: N815
    lastSubmittedTime: str | None = None  # noqa: N815
    createTime: str | None = None  # noqa: N815
    answers: dict[str, Answer | None] | None = None

    def get(self, name: str, default: Any = None) -> Any:
        """Member ``name``, as ``dict.get`` on the decoded payload gives it."""
        # Fields only: a method's name (``get``) is not a member of the payload.
        return getattr(self, name) if name in self.__struct_fields__ else default


class LandedPayloads(Sequence[str]):
    """The landed payload texts of one country, form kind and month, in landing order;
    ``ids`` (their response ids) name a payload that cannot be read."""

    def __init__(self, texts: Sequence[str], ids: Sequence[str] | None = None) -> None:
        self.texts = list(texts)
        self.ids = list(ids) if ids is not None else None

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, index):  # type: ignore[override]
        return self.texts[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self.texts)


_DECODER = msgspec.json.Decoder(LandedResponse)


def decode(payloads: Sequence[str]) -> list[LandedResponse | dict]:
    """Each payload as a :class:`LandedResponse`, or as its ``json.loads`` where it does not
    fit the documented shape (module docstring); in the order given."""
    out: list[LandedResponse | dict] = []
    ids = getattr(payloads, "ids", None)
    for index, text in enumerate(payloads):
        try:
            out.append(_DECODER.decode(text))
        except msgspec.MsgspecError:
            try:
                out.append(json.loads(text))
            except ValueError as exc:
                # The extract lands json.dumps output: this payload was changed by hand. A
                # re-run extract keeps a landed version as it is, so the row must go first.
                which = f"#{index}" + (f" (response {ids[index]})" if ids else "")
                raise ValueError(
                    f"landed payload {which} is not JSON ({exc}): delete its raw_response row "
                    "(or restore the payload from raw_response_history), then re-run the "
                    "country's extract task, which lands the response from the API again"
                ) from exc
    return out
