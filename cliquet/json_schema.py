"""Colander schemas as JSON Schema 2020-12 (what the OpenAPI document says of bodies).

Only what colander declares is said: types, required fields, defaults and the validators
JSON Schema can express (``OneOf``, ``ContainsOnly``, ``Range``, ``Length``, ``Regex``,
``Email``, ``All`` of them); a validator of one's own (a function) is left unsaid. And what
the service's JSON reader refuses of any body (``cliquet.json_body``): NUL in strings,
integers past 64 bits. A fuzzer generating from the document then sends what is taken.
"""

from __future__ import annotations

import json
from typing import Any

import colander

__all__ = ["TEXT", "INTEGER", "NUMBER", "json_value", "json_schema"]

# What the service's JSON reader (cliquet/json_body.py) takes, as JSON Schema.
#: A string without NUL (PostgreSQL's jsonb refuses it).
TEXT: dict[str, Any] = {"type": "string", "pattern": "^[^\\x00]*$"}
_NUL = {"pattern": "\\x00"}
#: An integer within the signed 64-bit range.
INTEGER: dict[str, Any] = {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}
#: A number. Its spelling decides what JSON Schema cannot say: ``1e300`` is a double and is
#: kept, ``1000...0`` (20 digits) an integer out of the signed 64-bit range, refused.
NUMBER: dict[str, Any] = {
    "type": "number",
    "description": "A double, or an integer within the signed 64-bit range.",
}


def json_value(ref: str) -> dict[str, Any]:
    """Any JSON value the reader takes, its parts referring to the schema itself at ``ref``
    (``#/components/schemas/Value``)."""
    return {
        "anyOf": [
            {"type": ["null", "boolean"]},
            INTEGER,
            NUMBER,
            TEXT,
            {"type": "array", "items": {"$ref": ref}},
            {"type": "object", "propertyNames": TEXT, "additionalProperties": {"$ref": ref}},
        ]
    }


_TYPES: tuple[tuple[type, dict[str, Any]], ...] = (
    (colander.String, TEXT),
    (colander.Integer, INTEGER),
    (colander.Float, NUMBER),
    (colander.Decimal, NUMBER),
    (colander.Boolean, {"type": "boolean"}),
    (colander.DateTime, {"type": "string", "format": "date-time"}),
    (colander.Date, {"type": "string", "format": "date"}),
    (colander.Time, {"type": "string", "format": "time"}),
)


def json_schema(
    node: colander.SchemaNode, *, partial: bool = False, any_value: Any = True
) -> dict[str, Any]:
    """``node`` as JSON Schema 2020-12: types, required fields, validators.

    A field that may be absent (``missing=drop`` or a default) also accepts null: colander
    reads null as absent; a required string is not empty (colander reads ``""`` as absent,
    unless ``String(allow_empty=True)``). Mappings refuse fields they do not declare unless
    they keep them (``unknown="preserve"``), as the resources do: those are ``any_value``
    (a schema, or True for any). With ``partial`` (a PATCH's changes), no field of the top
    mapping is required.
    """
    typ = node.typ
    schema: dict[str, Any] = {}
    if isinstance(typ, colander.Mapping):
        schema["type"] = "object"
        properties: dict[str, Any] = {}
        required = []
        for child in node.children:
            properties[child.name] = _field_schema(child, any_value)
            if child.required and not partial:
                required.append(child.name)
        schema["properties"] = properties
        if required:
            schema["required"] = required
        if typ.unknown == "preserve":
            schema["propertyNames"] = {"pattern": TEXT["pattern"]}
            schema["additionalProperties"] = any_value
        else:
            schema["additionalProperties"] = False
    elif isinstance(typ, (colander.Sequence, colander.List, colander.Set)):
        schema["type"] = "array"
        if node.children:
            schema["items"] = _field_schema(node.children[0], any_value)
        if isinstance(typ, colander.Set):
            schema["uniqueItems"] = True
    elif isinstance(typ, colander.Tuple):
        schema["type"] = "array"
        schema["prefixItems"] = [_field_schema(child, any_value) for child in node.children]
        schema["items"] = False
        schema["minItems"] = schema["maxItems"] = len(node.children)
    else:
        for colander_type, described in _TYPES:
            if isinstance(typ, colander_type):
                schema.update(json.loads(json.dumps(described)))
                break
    if isinstance(typ, colander.String) and node.required and not typ.allow_empty:
        schema["minLength"] = 1
    if node.validator is not None:
        _add_validator(schema, node.validator)
    if schema.get("pattern") != TEXT["pattern"] and "pattern" in schema:
        schema["not"] = _NUL  # the validator's pattern says what else is refused
    if "enum" in schema and schema.get("pattern") == TEXT["pattern"]:
        # The choices say it all, once the empty one, read as absent, is left out.
        del schema["pattern"]
        if schema.pop("minLength", 0):
            schema["enum"] = [choice for choice in schema["enum"] if choice != ""]
    if node.description:
        schema["description"] = str(node.description)
    return schema


def _field_schema(node: colander.SchemaNode, any_value: Any) -> dict[str, Any]:
    schema = json_schema(node, any_value=any_value)
    if not node.required or getattr(node, "nullable", False):
        if "type" in schema and "null" not in schema["type"]:
            schema["type"] = [schema["type"], "null"]
        if "enum" in schema and None not in schema["enum"]:
            schema["enum"] = [*schema["enum"], None]
    missing = node.missing
    if missing is not colander.drop and missing is not colander.required:
        try:
            schema["default"] = json.loads(json.dumps(missing))
        except (TypeError, ValueError):
            pass  # a default JSON cannot say
    return schema


def _add_validator(schema: dict[str, Any], validator: Any) -> None:
    is_array = schema.get("type") == "array"
    if isinstance(validator, colander.All):
        for each in validator.validators:
            _add_validator(schema, each)
    elif isinstance(validator, colander.OneOf):
        schema["enum"] = list(validator.choices)
    elif isinstance(validator, colander.ContainsOnly) and is_array:
        schema.setdefault("items", {})["enum"] = list(validator.choices)
    elif isinstance(validator, colander.Range):
        if validator.min is not None:
            schema["minimum"] = max(validator.min, schema.get("minimum", validator.min))
        if validator.max is not None:
            schema["maximum"] = min(validator.max, schema.get("maximum", validator.max))
    elif isinstance(validator, colander.Length):
        low, high = ("minItems", "maxItems") if is_array else ("minLength", "maxLength")
        if validator.min is not None:
            schema[low] = max(validator.min, schema.get(low, validator.min))
        if validator.max is not None:
            schema[high] = validator.max
    elif isinstance(validator, colander.Email):
        schema["format"] = "email"
    elif isinstance(validator, colander.Regex):
        # colander matches at the start only (re.match); JSON Schema searches.
        pattern = validator.match_object.pattern
        schema["pattern"] = pattern if pattern.startswith("^") else f"^(?:{pattern})"
