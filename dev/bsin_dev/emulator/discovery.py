"""Check JSON against the Forms API discovery document bundled with google-api-python-client.

The emulator must answer exactly like Google: a field the real API never sends, or a number
where Google sends a string, would let the pipeline pass against the emulator and fail in
production. ``check(value, "FormResponse")`` walks the discovery ``schemas`` ($ref, type,
properties, items, additionalProperties, format, enum) and lists every deviation.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

INT32 = (-(2**31), 2**31 - 1)
# google-datetime is RFC 3339 in UTC with up to nanosecond precision.
GOOGLE_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")


def discovery_path() -> Path:
    """Path of ``forms.v1.json`` inside the installed google-api-python-client."""
    import googleapiclient

    path = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents" / "forms.v1.json"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: reinstall google-api-python-client (it bundles the document)"
        )
    return path


@lru_cache(maxsize=1)
def discovery_document() -> dict[str, Any]:
    """The parsed Forms v1 discovery document."""
    return json.loads(discovery_path().read_text(encoding="utf-8"))


def check(value: Any, schema_name: str, schemas: dict[str, Any] | None = None) -> list[str]:
    """Every way ``value`` deviates from discovery schema ``schema_name``; empty when it conforms.

    Each problem is one line ``<json path>: <what is wrong>``. Unknown properties are errors
    because the real API never sends fields its discovery document does not declare.
    """
    schemas = schemas if schemas is not None else discovery_document()["schemas"]
    if schema_name not in schemas:
        raise KeyError(f"no schema {schema_name!r} in the discovery document")
    problems: list[str] = []
    _check(value, {"$ref": schema_name}, schemas, "$", problems)
    return problems


def _type_name(value: Any) -> str:
    return type(value).__name__


def _check(value: Any, spec: dict[str, Any], schemas: dict, path: str, out: list[str]) -> None:
    if "$ref" in spec:
        spec = schemas[spec["$ref"]]
    kind = spec.get("type")
    if kind == "object":
        if not isinstance(value, dict):
            out.append(f"{path}: expected an object, got {_type_name(value)}")
            return
        props = spec.get("properties", {})
        extra = spec.get("additionalProperties")
        for key, item in value.items():
            if key in props:
                _check(item, props[key], schemas, f"{path}.{key}", out)
            elif extra is not None:
                _check(item, extra, schemas, f"{path}[{key!r}]", out)
            else:
                out.append(f"{path}.{key}: unknown property (not in the discovery schema)")
    elif kind == "array":
        if not isinstance(value, list):
            out.append(f"{path}: expected an array, got {_type_name(value)}")
            return
        for i, item in enumerate(value):
            _check(item, spec["items"], schemas, f"{path}[{i}]", out)
    elif kind == "string":
        if not isinstance(value, str):
            out.append(f"{path}: expected a string, got {_type_name(value)}")
            return
        fmt = spec.get("format")
        if fmt == "google-datetime" and not GOOGLE_DATETIME.match(value):
            out.append(f"{path}: {value!r} is not an RFC 3339 UTC timestamp (…Z)")
        elif fmt in ("int64", "uint64") and not re.fullmatch(r"-?\d+", value):
            out.append(f"{path}: {value!r} is not a decimal {fmt} string")
        if "enum" in spec and value not in spec["enum"]:
            out.append(f"{path}: {value!r} is not one of {spec['enum']}")
    elif kind == "integer":
        # bool is an int subclass in Python but `true` is not a JSON integer.
        if not isinstance(value, int) or isinstance(value, bool):
            out.append(f"{path}: expected an integer, got {_type_name(value)}")
            return
        if spec.get("format") in ("int32", None) and not INT32[0] <= value <= INT32[1]:
            out.append(f"{path}: {value} is outside the int32 range")
        if spec.get("format") == "uint32" and not 0 <= value < 2**32:
            out.append(f"{path}: {value} is outside the uint32 range")
    elif kind == "number":
        if not isinstance(value, int | float) or isinstance(value, bool):
            out.append(f"{path}: expected a number, got {_type_name(value)}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            out.append(f"{path}: expected a boolean, got {_type_name(value)}")
    elif kind == "any" or kind is None and not spec:
        return
    else:
        out.append(f"{path}: the schema has an unsupported type {kind!r}")
