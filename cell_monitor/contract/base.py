"""What every answer model shares: camelCase on the wire, and how timestamps are written."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AliasGenerator, BaseModel, ConfigDict, PlainSerializer, WithJsonSchema
from pydantic.alias_generators import to_camel


def _isoformat(value: datetime) -> str:
    return value.isoformat()


# A timestamp written as Python's isoformat ("…+00:00"), as the live feed and /health
# have always sent them (Pydantic alone would write "…Z").
Timestamp = Annotated[
    datetime,
    PlainSerializer(_isoformat, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class ReadModel(BaseModel):
    """A model the server sends: snake_case in Python, camelCase on the wire."""

    model_config = ConfigDict(
        alias_generator=AliasGenerator(serialization_alias=to_camel),
        populate_by_name=True,
        from_attributes=True,
        # Every field is in the answer (None as null): the generated types make none optional.
        json_schema_serialization_defaults_required=True,
    )
