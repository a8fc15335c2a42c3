"""Colander schemas of resources' records."""

from __future__ import annotations

from typing import Any

import colander

__all__ = ["ResourceSchema", "PermissionsSchema"]


class ResourceSchema(colander.MappingSchema):
    """Base schema of a resource's records.

    ``Options.readonly_fields`` are set when a record is created and never changed afterwards
    (a PUT keeps them; ``id`` and ``last_modified`` are always the server's). With
    ``Options.preserve_unknown = True`` fields that the schema does not declare are kept
    instead of dropped (and may be filtered and sorted on).
    """

    class Options:
        readonly_fields: tuple[str, ...] = ()
        preserve_unknown: bool = False

    def get_option(self, name: str) -> Any:
        return getattr(self.Options, name, getattr(ResourceSchema.Options, name))

    def schema_type(self, **kw: Any) -> colander.Mapping:
        unknown = "preserve" if self.get_option("preserve_unknown") else "ignore"
        return colander.Mapping(unknown=unknown)

    def known_field(self, name: str) -> bool:
        """Whether a filter or sort on ``name`` (maybe dotted) can make sense."""
        if self.get_option("preserve_unknown"):
            return True
        return name.split(".", 1)[0] in {child.name for child in self.children}


class PermissionsSchema(colander.MappingSchema):
    """``{"read": [principals], "write": [principals]}`` of a shareable record."""

    read = colander.SchemaNode(
        colander.Sequence(), colander.SchemaNode(colander.String()), missing=colander.drop
    )
    write = colander.SchemaNode(
        colander.Sequence(), colander.SchemaNode(colander.String()), missing=colander.drop
    )
