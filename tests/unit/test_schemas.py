"""The wire contract: what EventIn accepts, rejects and normalizes."""

from __future__ import annotations

from datetime import timezone

import pytest
from pydantic import ValidationError

from cell_monitor.contract.events import EventIn, IngestResponse, RejectedEvent

# An event exactly as the public reference extension sends it (IStudentProgressData).
REFERENCE_EVENT = {
    "eventId": "0b7c6f5e-2a51-4c3e-9f0e-0d6a8d6b9f10",
    "eventType": "cell_executed",
    "eventTime": "2025-01-18T10:15:00.123Z",
    "emailAddress": "student@example.org",
    "userName": "Student One",
    "teamName": "Team A",
    "sessionId": "b1a3c7b2-9f5e-4d0a-a1e2-7c5b8f0d1e2a",
    "notebookPath": "/notebooks/lesson1.ipynb",
    "cellId": "9f1c",
    "cellIndex": 3,
    "cellType": "code",
    "code": "x = 1/0",
    "executionCount": 7,
    "hasError": True,
    "errorMessage": "division by zero",
    "result": "",
    "executionDurationMs": 41,
}


def test_reference_extension_event_is_accepted_field_by_field() -> None:
    model = EventIn.model_validate(REFERENCE_EVENT)
    assert model.event_id == REFERENCE_EVENT["eventId"]
    assert model.email_address == "student@example.org"
    assert model.cell_index == 3
    assert model.has_error is True
    assert model.execution_duration_ms == 41
    assert model.event_time is not None and model.event_time.tzinfo == timezone.utc


def test_time_without_offset_is_utc_and_offsets_are_converted() -> None:
    naive = EventIn.model_validate({**REFERENCE_EVENT, "eventTime": "2025-01-18T10:15:00"})
    assert naive.event_time is not None and naive.event_time.hour == 10
    assert naive.event_time.tzinfo == timezone.utc
    tokyo = EventIn.model_validate({**REFERENCE_EVENT, "eventTime": "2025-01-18T19:15:00+09:00"})
    assert tokyo.event_time == naive.event_time


def test_identity_is_required() -> None:
    body = {k: v for k, v in REFERENCE_EVENT.items() if k != "emailAddress"}
    with pytest.raises(ValidationError, match="emailAddress or userId"):
        EventIn.model_validate(body)
    assert EventIn.model_validate({**body, "userId": "u-42"}).user_id == "u-42"


def test_blank_strings_count_as_absent() -> None:
    # The reference extension sends "" for settings a student never filled in.
    model = EventIn.model_validate({**REFERENCE_EVENT, "userName": "", "teamName": "  "})
    assert model.user_name is None and model.team_name is None
    with pytest.raises(ValidationError):
        EventIn.model_validate({**REFERENCE_EVENT, "emailAddress": " ", "userId": ""})


def test_unknown_fields_are_kept_not_rejected() -> None:
    model = EventIn.model_validate({**REFERENCE_EVENT, "kernelName": "python3", "x": [1]})
    assert model.model_extra == {"kernelName": "python3", "x": [1]}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("eventType", ""),
        ("eventType", "cell executed!"),
        ("eventTime", "yesterday"),
        ("cellIndex", -1),
        ("executionDurationMs", -5),
        ("executionCount", "many"),
        ("eventId", "x" * 129),
    ],
)
def test_invalid_values_are_rejected(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        EventIn.model_validate({**REFERENCE_EVENT, field: value})


def test_event_type_is_lower_cased_and_new_types_are_allowed() -> None:
    assert EventIn.model_validate({**REFERENCE_EVENT, "eventType": "HELP"}).event_type == "help"
    kernel = EventIn.model_validate({**REFERENCE_EVENT, "eventType": "kernel_restarted"})
    assert kernel.event_type == "kernel_restarted"


def test_ingest_response_uses_the_contract_names() -> None:
    response = IngestResponse(
        accepted=1, duplicates=2, rejected=[RejectedEvent(index=3, event_id="e", errors=["x"])]
    )
    assert response.model_dump(by_alias=True) == {
        "accepted": 1,
        "duplicates": 2,
        "truncated": 0,
        "clockAdjusted": 0,
        "rejected": [{"index": 3, "eventId": "e", "errors": ["x"]}],
    }
