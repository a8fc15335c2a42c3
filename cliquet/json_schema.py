"""Colander schemas as JSON Schema 2020-12 (what the OpenAPI document says of bodies).

Only what colander declares is said: types, required fields, defaults and the validators
JSON Schema can express (``OneOf``, ``ContainsOnly``, ``Range``, ``Length``, ``Regex``,
``Email``, ``All`` of them); a validator of one's own (a function) is left unsaid.
"""

from __future__ import annotations

import json
from typing import Any

import colander

__all__ = ["json_schema"]

_TYPES: tuple[tuple[type, dict[str, Any]], ...] = (
    (colander.String, {"type": "string"}),
    (colander.Integer, {"type": "integer"}),
    (colander.Float, {"type": "number"}),
    (colander.Decimal, {"type": "number"}),
    (colander.Boolean, {"type": "boolean"}),
    (colander.DateTime, {"type": "string", "format": "date-time"}),
    (colander.Date, {"type": "string", "format": "date"}),
    (colander.Time, {"type": "string", "format": "time"}),
)


def json_schema(node: colander.SchemaNode, *, partial: bool = False) -> dict[str, Any]:
    """``node`` as JSON Schema 2020-12: types, required fields, validators.

    A field that may be absent (``missing=drop`` or a default) also accepts null: colander
    reads null as absent. Mappings refuse fields they do not declare unless they keep them
    (``unknown="preserve"``), as the resources do. With ``partial`` (a PATCH's changes), no
    field of the top mapping is required.
    """
    typ = node.typ
    schema: dict[str, Any] = {}
    if isinstance(typ, colander.Mapping):
        schema["type"] = "object"
        properties: dict[str, Any] = {}
        required = []
        for child in node.children:
            properties[child.name] = _field_schema(child)
            if child.required and not partial:
                required.append(child.name)
        schema["properties"] = properties
        if required:
            schema["required"] = required
        schema["additionalProperties"] = typ.unknown == "preserve"
    elif isinstance(typ, (colander.Sequence, colander.List, colander.Set)):
        schema["type"] = "array"
        if node.children:
            schema["items"] = _field_schema(node.children[0])
        if isinstance(typ, colander.Set):
            schema["uniqueItems"] = True
    elif isinstance(typ, colander.Tuple):
        schema["type"] = "array"
        schema["prefixItems"] = [_field_schema(child) for child in node.children]
        schema["items"] = False
        schema["minItems"] = schema["maxItems"] = len(node.children)
    else:
        for colander_type, described in _TYPES:
            if isinstance(typ, colander_type):
                schema.update(described)
                break
    if node.validator is not None:
        _add_validator(schema, node.validator)
    if node.description:
        schema["description"] = str(node.description)
    return schema


def _field_schema(node: colander.SchemaNode) -> dict[str, Any]:
    schema = json_schema(node)
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
            schema["minimum"] = validator.min
        if validator.max is not None:
            schema["maximum"] = validator.max
    elif isinstance(validator, colander.Length):
        low, high = ("minItems", "maxItems") if is_array else ("minLength", "maxLength")
        if validator.min is not None:
            schema[low] = validator.min
        if validator.max is not None:
            schema[high] = validator.max
    elif isinstance(validator, colander.Email):
        schema["format"] = "email"
    elif isinstance(validator, colander.Regex):
        # colander matches at the start only (re.match); JSON Schema searches.
        pattern = validator.match_object.pattern
        schema["pattern"] = pattern if pattern.startswith("^") else f"^(?:{pattern})"
