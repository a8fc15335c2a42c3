"""Colander schemas of resources' records."""

from __future__ import annotations

from typing import Any

import colander

__all__ = ["ResourceSchema", "PermissionsSchema"]


class ResourceSchema(colander.MappingSchema):
    """Base schema of a resource's records.

    ``Options.readonly_fields`` are set when a record is created and never changed afterwards
    (a PUT keeps them; ``id`` and ``last_modified`` are always the server's).

    A field the schema does not declare is refused (400 naming it), in nested objects too,
    unless their node keeps unknown fields (``colander.Mapping(unknown="preserve")``): data
    a client sent never vanishes without a word. With ``Options.preserve_unknown = True``
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


class PermissionsSchema(colander.MappingSchema):
    """``{"read": [principals], "write": [principals]}`` of a shareable record."""

    read = colander.SchemaNode(
        colander.Sequence(), colander.SchemaNode(colander.String()), missing=colander.drop
    )
    write = colander.SchemaNode(
        colander.Sequence(), colander.SchemaNode(colander.String()), missing=colander.drop
    )
