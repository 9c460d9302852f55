"""Check a parsed JSON answer against the JSON Schema subset structured outputs use.

Structured outputs accept only a subset (objects with additionalProperties false, no
numeric or length constraints, no external refs), so a small checker covers it without a
dependency. A model's answer can still miss the schema (refusal, max_tokens, enum case),
which is why every structured answer is checked here.
"""

from __future__ import annotations

from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def _is_type(value: Any, name: str) -> bool:
    if name in ("integer", "number") and isinstance(value, bool):
        return False
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES.get(name, (object,)))


def problems(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Every way `value` misses `schema`, as "path: what" lines; empty when it conforms."""
    found: list[str] = []
    if "anyOf" in schema:
        if all(problems(value, option, path) for option in schema["anyOf"]):
            found.append(f"{path}: matches none of the allowed shapes")
        return found
    expected = schema.get("type")
    if expected is not None:
        names = expected if isinstance(expected, list) else [expected]
        if not any(_is_type(value, name) for name in names):
            found.append(f"{path}: expected {' or '.join(names)}, got {type(value).__name__}")
            return found
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{path}: {value!r} is not one of {schema['enum']!r}")
    if "const" in schema and value != schema["const"]:
        found.append(f"{path}: must be {schema['const']!r}")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                found.append(f"{path}: missing required property '{name}'")
        for name, item in value.items():
            if name in properties:
                found += problems(item, properties[name], f"{path}.{name}")
            elif schema.get("additionalProperties") is False:
                found.append(f"{path}: unexpected property '{name}'")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            found += problems(item, schema["items"], f"{path}[{i}]")
    return found
