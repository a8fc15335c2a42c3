"""Colander schemas of resources' records."""

from __future__ import annotations

from typing import Any

import colander

__all__ = ["ResourceSchema", "PermissionsSchema", "type_errors"]


class ResourceSchema(colander.MappingSchema):
    """Base schema of a resource's records.

    ``Options.readonly_fields`` are set when a record is created and never changed afterwards
    (a PUT keeps them; ``id`` and ``last_modified`` are always the server's).

    A field the schema does not declare is refused (400 naming it), in nested objects too,
    unless their node keeps unknown fields (``colander.Mapping(unknown="preserve")``): data
    a client sent never vanishes without a word. Each value has the JSON type its node
    declares, as ``/__api__`` says (:func:`type_errors`): colander would read ``"5"`` or
    ``true`` as an integer and any text as a boolean. With ``Options.preserve_unknown = True``
    the records are schemaless, as Kinto's are by default: fields that the schema does not
    declare are kept (and may be filtered and sorted on)::

        class NoteSchema(ResourceSchema):
            text = colander.SchemaNode(colander.String())

            class Options:
                preserve_unknown = True
    """

    class Options:
        readonly_fields: tuple[str, ...] = ()
        preserve_unknown: bool = False

    def get_option(self, name: str) -> Any:
        return getattr(self.Options, name, getattr(ResourceSchema.Options, name))

    def schema_type(self, **kw: Any) -> colander.Mapping:
        unknown = "preserve" if self.get_option("preserve_unknown") else "ignore"
        return colander.Mapping(unknown=unknown)

    def deserialize(self, cstruct: Any = colander.null) -> Any:
        """The record as colander makes it, once each value is of its node's JSON type.

        :raises colander.Invalid: a value of another type (each named), or what colander
            refuses.
        """
        error, value = type_errors(self, cstruct)
        if error is not None:
            raise error
        return super().deserialize(value)

    def unknown_fields(self, record: dict[str, Any]) -> list[tuple[str | int, ...]]:
        """The paths of ``record``'s values that no node declares and none would keep
        (``("place", "zip")``, ``("steps", 1, "km")``), sorted."""
        found: list[tuple[str | int, ...]] = []
        _unknown(self, record, (), found)
        return sorted(found)

    def known_field(self, name: str) -> bool:
        """Whether a filter or sort on ``name`` (maybe dotted) can make sense."""
        if self.get_option("preserve_unknown"):
            return True
        return name.split(".", 1)[0] in {child.name for child in self.children}


def _unknown(
    node: colander.SchemaNode, value: Any, path: tuple[str | int, ...], found: list[Any]
) -> None:
    typ = node.typ
    if isinstance(typ, colander.Mapping) and isinstance(value, dict):
        children = {child.name: child for child in node.children}
        for key, item in value.items():
            if key in children:
                _unknown(children[key], item, (*path, key), found)
            elif typ.unknown != "preserve":
                found.append((*path, key))
    elif isinstance(typ, colander.Sequence) and isinstance(value, list) and node.children:
        for index, item in enumerate(value):
            _unknown(node.children[0], item, (*path, index), found)
    elif isinstance(typ, colander.Tuple) and isinstance(value, list):
        for index, (child, item) in enumerate(zip(node.children, value, strict=False)):
            _unknown(child, item, (*path, index), found)


# What colander coerces, and the JSON values each type is read from instead (as the
# document's JSON Schema says, cliquet/json_schema.py). Other types are colander's alone.
_SCALARS: tuple[tuple[type, tuple[type, ...], str], ...] = (
    (colander.Boolean, (bool,), "Must be a boolean."),
    (colander.String, (str,), "Must be a string."),
    (colander.Integer, (int,), "Must be an integer."),
    (colander.Float, (int, float), "Must be a number."),
    (colander.Decimal, (int, float), "Must be a number."),
    (colander.DateTime, (str,), "Must be a string."),
    (colander.Date, (str,), "Must be a string."),
    (colander.Time, (str,), "Must be a string."),
)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def type_errors(node: colander.SchemaNode, value: Any) -> tuple[colander.Invalid | None, Any]:
    """Whether each value of ``value`` (JSON) has the JSON type its node in ``node`` declares.

    Returns the error naming every other one (None if none), and ``value`` with its declared
    nulls as colander's null: colander reads a ``None`` as the text ``"None"``, a true
    boolean, where JSON means absent. A boolean is no number, a number with a fraction no
    integer (``5.0`` is 5), and a falsy value no string: colander drops it as absent.
    """
    if value is None or value is colander.null:
        return None, colander.null
    typ = node.typ
    if isinstance(typ, colander.Mapping):
        if not isinstance(value, dict):
            return colander.Invalid(node, "Must be an object."), value
        items = [
            (child, child.name, value[child.name])
            for child in node.children
            if child.name in value
        ]
        return _children(node, dict(value), items)
    if isinstance(typ, (colander.Sequence, colander.List, colander.Set, colander.Tuple)):
        if not isinstance(value, list):
            return colander.Invalid(node, "Must be an array."), value
        if isinstance(typ, colander.Tuple):
            pairs = list(zip(node.children, value, strict=False))
        else:
            pairs = [(node.children[0], item) for item in value] if node.children else []
        return _children(
            node, list(value), [(child, i, item) for i, (child, item) in enumerate(pairs)]
        )
    for colander_type, accepted, words in _SCALARS:
        if isinstance(typ, colander_type):
            if isinstance(value, bool) and bool not in accepted:
                return colander.Invalid(node, words), value
            if isinstance(typ, colander.Integer) and isinstance(value, float):
                if not value.is_integer():
                    return colander.Invalid(node, words), value
                if not _INT64_MIN <= value <= _INT64_MAX:
                    return colander.Invalid(node, "Out of the signed 64-bit range."), value
                return None, value
            if not isinstance(value, accepted):
                return colander.Invalid(node, words), value
            break
    return None, value


def _children(
    node: colander.SchemaNode, value: Any, items: list[tuple[colander.SchemaNode, Any, Any]]
) -> tuple[colander.Invalid | None, Any]:
    error = None
    for position, (child, key, item) in enumerate(items):
        child_error, value[key] = type_errors(child, item)
        if child_error is not None:
            error = error or colander.Invalid(node)
            error.add(child_error, key if isinstance(key, int) else position)
    return error, value


class PermissionsSchema(colander.MappingSchema):
    """``{"read": [principals], "write": [principals]}`` of a shareable record."""

    read = colander.SchemaNode(
        colander.Sequence(), colander.SchemaNode(colander.String()), missing=colander.drop
    )
    write = colander.SchemaNode(
        colander.Sequence(), colander.SchemaNode(colander.String()), missing=colander.drop
    )
