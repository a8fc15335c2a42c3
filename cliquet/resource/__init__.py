"""REST resources: a class declares records, cliquet speaks the whole protocol for them.

::

    from cliquet import resource

    class ArticleSchema(resource.ResourceSchema):
        title = colander.SchemaNode(colander.String())

    @resource.register()
    class Article(resource.UserResource):
        schema = ArticleSchema

serves ``/articles`` (GET, POST, DELETE) and ``/articles/{id}`` (GET, PUT, PATCH, DELETE)
under the version prefix, once the module is ``config.scan()``ed.
"""

from __future__ import annotations

import copy
import email.utils
from dataclasses import replace
from typing import Any

from pyramid import httpexceptions

from cliquet import json_body
from cliquet.authorization import (
    RECORD_PERMISSIONS,
    TOMBSTONE_READ,
    Authenticated,
    get_principals,
)
from cliquet.errors import (
    ERRORS,
    Detail,
    colander_details,
    field_name,
    http_error,
    invalid_request,
    raise_invalid,
)
from cliquet.events import ACTIONS, notify_resource_event
from cliquet.resource import preconditions, querystring
from cliquet.resource.ids import UUID4, IdGenerator
from cliquet.resource.json_patch import JSONPatchConflict, JSONPatchError, apply_json_patch
from cliquet.resource.model import Model
from cliquet.resource.schema import PermissionsSchema, ResourceSchema
from cliquet.resource.viewset import ResourceInfo, register, register_resource
from cliquet.storage import COMPARISON, Filter, RecordNotFoundError, UnicityError

__all__ = [
    "register",
    "register_resource",
    "UserResource",
    "ShareableResource",
    "Model",
    "ResourceSchema",
    "IdGenerator",
    "UUID4",
]

_MERGE_PATCH = "application/merge-patch+json"
_JSON_PATCH = "application/json-patch+json"


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: objects merge recursively, ``null`` removes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


def _copy_path(source: dict[str, Any], target: dict[str, Any], path: list[str]) -> None:
    """Copy the value at ``path`` (``author.name``) of ``source`` into ``target``, nested.

    A partial response asked for ``author.name`` gets ``{"author": {"name": ...}}``, not the
    whole ``author``; a path through something that is not an object keeps that value whole.
    """
    head, rest = path[0], path[1:]
    if head not in source:
        return
    value = source[head]
    if not rest or not isinstance(value, dict):
        target[head] = value
        return
    nested = target.get(head)
    if nested is value:  # already copied whole
        return
    if not isinstance(nested, dict):
        nested = target[head] = {}
    _copy_path(value, nested, rest)


_MISSING = object()


def _value_at(record: Any, path: tuple[str | int, ...]) -> Any:
    """The value at ``path`` in ``record``, or a marker equal to no value."""
    for part in path:
        try:
            record = record[part]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return record


def _touches_permissions(operations: Any) -> bool:
    """Whether a JSON Patch names ``/permissions`` (or below) in a path."""
    if not isinstance(operations, list):
        return False
    return any(
        isinstance(op, dict)
        and any(
            isinstance(op.get(m), str) and (op[m] + "/").startswith("/permissions/")
            for m in ("path", "from")
        )
        for op in operations
    )


def _http_date(timestamp_ms: int) -> str:
    return email.utils.formatdate(timestamp_ms / 1000.0, usegmt=True)


def _collection_uri(info: ResourceInfo, request: Any) -> str:
    """The collection's URI when its path has placeholders of its own, else ``""``."""
    matchdict = {k: v for k, v in (request.matchdict or {}).items() if k != "id"}
    return info.collection_uri(matchdict) if matchdict else ""


class UserResource:
    """Records private to the user who wrote them (``parent_id`` is the user id).

    Subclasses set ``schema`` (a :class:`ResourceSchema` subclass), and may set
    ``default_model``, ``id_generator`` (an :class:`IdGenerator` class), ``unique_fields``,
    ``indexed_fields`` and ``default_principals`` (``{"read"|"write"|"create": [principals]}``).

    ``indexed_fields`` names the fields (dotted when nested) whose ``like_`` and range
    filters the storage should answer from indexes: the SQL backend builds them when it
    migrates (``cliquet migrate``), see :mod:`cliquet.storage.sql_indexes`. Each index costs
    every write a little; equality and ``in_`` filters need none on PostgreSQL.
    """

    default_model: type[Model] = Model
    schema: type[ResourceSchema] = ResourceSchema
    id_generator: type[IdGenerator] = UUID4
    unique_fields: tuple[str, ...] = ()
    indexed_fields: tuple[str, ...] = ()
    default_principals: dict[str, list[str]] = {
        "read": [Authenticated],
        "write": [Authenticated],
        "create": [Authenticated],
    }

    def __init__(self, request: Any, context: Any = None) -> None:
        self.request = request
        self.context = context if context is not None else request.context
        self.info: ResourceInfo = self.context.info
        self.resource_name = self.info.name
        self._schema = self.schema()
        self._ids = self.id_generator()
        self.model = self.default_model(
            request.registry.storage,
            id_generator=self._ids,
            collection_id=self.resource_name,
            parent_id=self.get_parent_id(request),
            auth=request.headers.get("Authorization"),
        )

    def get_parent_id(self, request: Any) -> str:
        """Whose records these are: the user's (anonymous ones share ``system.Everyone``), and,
        when the path has placeholders, the user's in this collection (``<user>:<uri>``)."""
        user = request.authenticated_userid or "system.Everyone"
        uri = _collection_uri(self.info, request)
        return f"{user}:{uri}" if uri else user

    # Hooks -------------------------------------------------------------------------------

    def process_record(self, new: dict[str, Any], old: dict[str, Any] | None = None) -> Any:
        """Last chance to change a record before it is stored (override it)."""
        return new

    # Collection --------------------------------------------------------------------------

    def collection_get(self) -> dict[str, Any]:
        self._preconditions()
        # A malformed querystring is 400 whatever the preconditions (RFC 9110 section 13.1).
        query = self._query()
        page = None
        if query.token is not None:  # checked on HEAD too: a forged token is refused alike
            page = querystring.decode_token(self._secret(), self._scope(), query.token)
        timestamp = self.model.timestamp()
        self._check_preconditions(timestamp)
        filters = query.filters + self._visibility_filters()
        pagination_rules = []
        # A walk's first page answers the collection timestamp; later pages keep it.
        walk_start = timestamp
        if page is not None:
            walk_start = page.until
            pagination_rules = querystring.build_pagination_rules(
                query.sorting, page.last_record, until=page.until
            )
        headers = self.request.response.headers
        self._add_timestamp_headers(timestamp)
        if self.request.method == "HEAD":
            return self._collection_head(filters)
        limit = query.limit
        records = self.model.list_records(
            filters=filters,
            sorting=query.sorting,
            pagination_rules=pagination_rules,
            limit=None if limit is None else limit + 1,
            include_deleted=query.include_deleted,
        )
        if limit is not None and len(records) > limit:
            records = records[:limit]
            headers["Next-Page"] = self._next_page(query, records[-1], walk_start)
        records = self._still_readable(records, timestamp)
        return {"data": [self._shape(r, query.fields) for r in records]}

    def _collection_head(self, filters: list[Filter]) -> Any:
        """The count, which only ``HEAD`` pays for: no record is read, nor ``Next-Page``
        known. Without the length of a body that was not built (RFC 9110, 8.6)."""
        response = self.request.response
        response.headers["Total-Records"] = str(self.model.count_records(filters=filters))
        response.content_type = "application/json"
        response.app_iter = []
        response.content_length = None
        return response

    def collection_post(self) -> dict[str, Any]:
        conditions = self._preconditions()
        # If-None-Match: * is "create only": about the record of the posted id, not the list.
        create_only = conditions.if_none_match is not None and conditions.if_none_match.any
        self.model.lock()
        self._check_preconditions(
            self.model.timestamp(),
            conditions=replace(conditions, if_none_match=None) if create_only else conditions,
        )
        body = self._body()
        new = body["data"]
        self._check_identity(new, None)
        record_id = new.get("id")
        if record_id is not None:
            self._check_id(record_id, location="body")
        # Judged as for a new record even when the id is taken: no way around the schema.
        record = self._validate(new, old=None)
        if record_id is not None:
            existing = self._fetch(record_id)
            if existing is not None:
                # The id is taken: only those who may read that record learn anything of it.
                if not self._may_read(record_id):
                    raise httpexceptions.HTTPForbidden()
                if create_only:
                    self._raise_412(existing)
                self._add_timestamp_headers(existing["last_modified"])
                return self._record_body(existing)
            record["id"] = record_id
        record = self.process_record(record)
        created = self._store(lambda: self.model.create_record(record, unique_fields=self._unique))
        self._set_permissions(created["id"], body.get("permissions"), how="create")
        self.request.response.status_code = 201
        self._notify(ACTIONS.CREATE, [{"new": created}], created["last_modified"])
        self._add_timestamp_headers(created["last_modified"])
        return self._record_body(created)

    def collection_delete(self) -> dict[str, Any]:
        self._preconditions()
        query = self._query()
        self.model.lock()
        self._check_preconditions(self.model.timestamp())
        filters = [f for f in query.filters if f.field != "last_modified" or f.value is not None]
        filters += self._visibility_filters(action="write")
        tombstones = self.model.delete_records(filters=filters)
        timestamp = self.model.timestamp()
        if tombstones:
            self._delete_permissions([t["id"] for t in tombstones])
            self._notify(ACTIONS.DELETE, [{"new": t} for t in tombstones], timestamp)
        self._add_timestamp_headers(timestamp)
        return {"data": tombstones}

    # Record ------------------------------------------------------------------------------

    def get(self) -> dict[str, Any]:
        self._preconditions()
        fields = self._query_fields()
        record = self._get_or_404()
        self._authorize_read(record["id"])
        self._check_preconditions(record["last_modified"], record=record)
        self._add_timestamp_headers(record["last_modified"])
        body = self._record_body(record)
        body["data"] = self._shape(record, fields)
        return body

    def put(self) -> dict[str, Any]:
        self._preconditions()
        self.model.lock()
        record_id = self._record_id()
        existing = self._fetch(record_id)
        self._authorize_write(record_id, existing, creating=True)
        timestamp = None if existing is None else existing["last_modified"]
        self._check_preconditions(timestamp, record=existing)
        body = self._body()
        new = body["data"]
        self._check_identity(new, record_id)
        record = self._validate(new, old=existing)
        record["id"] = record_id
        record = self.process_record(record, existing)
        stored = self._store(lambda: self.model.update_record(record, unique_fields=self._unique))
        how = "create" if existing is None else "replace"
        self._set_permissions(record_id, body.get("permissions"), how=how)
        if existing is None:
            self.request.response.status_code = 201
            self._notify(ACTIONS.CREATE, [{"new": stored}], stored["last_modified"])
        else:
            self._notify(
                ACTIONS.UPDATE, [{"old": existing, "new": stored}], stored["last_modified"]
            )
        self._add_timestamp_headers(stored["last_modified"])
        return self._record_body(stored)

    def patch(self) -> dict[str, Any]:
        self._preconditions()
        self.model.lock()
        existing = self._fetch_for_write()
        self._check_preconditions(existing["last_modified"], record=existing)
        content_type = (self.request.content_type or "").lower()
        if content_type == _JSON_PATCH:
            body = self._json_patched(existing)
            merged = body["data"]
        else:
            body = self._body(data_required=False)  # data, permissions or both
            changes = body.get("data") or {}
            # Another id is ignored here (a PUT refuses it): the id is not the patch's to set.
            self._check_identity(changes, None)
            changes.pop("id", None)
            changes.pop("last_modified", None)
            if content_type == _MERGE_PATCH:
                merged = _merge_patch(existing, changes)
            else:
                merged = {**existing, **changes}
        record = self._validate(merged, old=existing)
        record["id"] = existing["id"]
        record = self.process_record(record, existing)
        if record == {k: v for k, v in existing.items() if k != "last_modified"} and not body.get(
            "permissions"
        ):
            stored = existing
        else:
            stored = self._store(
                lambda: self.model.update_record(record, unique_fields=self._unique)
            )
            self._notify(
                ACTIONS.UPDATE, [{"old": existing, "new": stored}], stored["last_modified"]
            )
        self._set_permissions(existing["id"], body.get("permissions"), how="merge")
        self._add_timestamp_headers(stored["last_modified"])
        return self._record_body(stored)

    def delete(self) -> dict[str, Any]:
        self._preconditions()
        self.model.lock()
        existing = self._fetch_for_write()
        self._check_preconditions(existing["last_modified"], record=existing)
        tombstone = self.model.delete_record(existing)
        self._delete_permissions([existing["id"]])
        self._notify(
            ACTIONS.DELETE, [{"old": existing, "new": tombstone}], tombstone["last_modified"]
        )
        self._add_timestamp_headers(tombstone["last_modified"])
        return {"data": tombstone}

    # Shared machinery --------------------------------------------------------------------

    @property
    def _unique(self) -> list[str]:
        return list(self.unique_fields)

    def _secret(self) -> str:
        return self.request.registry.settings.get("cliquet.userid_hmac_secret", "")

    def _scope(self) -> str:
        return querystring.query_scope(
            self.request.GET, self.request.authenticated_userid, self.info.name
        )

    def _query(self) -> querystring.Query:
        """The querystring in storage terms, parsed once per request (lists and their
        visibility filters both ask for it)."""
        parsed: querystring.Query | None = getattr(self, "_parsed_query", None)
        if parsed is not None:
            return parsed
        settings = self.request.registry.settings
        max_fetch = settings["cliquet.storage_max_fetch_size"]
        paginate_by = settings["cliquet.paginate_by"]
        params = querystring.request_params(self.request)
        try:
            parsed = querystring.parse_query(
                params,
                known_field=self._schema.known_field,
                max_limit=min(paginate_by or max_fetch, max_fetch),
                limits=querystring.Limits.from_settings(settings),
            )
        except ValueError as e:  # a Filter the storage layer refuses
            raise_invalid(location="querystring", description=str(e))
            raise
        self._parsed_query = parsed
        return parsed

    def _query_fields(self) -> list[str] | None:
        raw = querystring.request_params(self.request).get("_fields")
        if raw is None:
            return None
        return self._query().fields

    def _next_page(self, query: querystring.Query, last: dict[str, Any], until: int) -> str:
        values = {s.field: querystring.extract_field(last, s.field) for s in query.sorting}
        page = querystring.PageToken(values, until)
        token = querystring.encode_token(self._secret(), self._scope(), page)
        params = [(k, v) for k, v in self.request.GET.items() if k != "_token"]
        params.append(("_token", token))
        from urllib.parse import urlencode

        # path_url: the mount path (SCRIPT_NAME) once, then the route's path.
        return f"{self.request.path_url}?{urlencode(params)}"

    def _shape(self, record: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
        if not fields or record.get("deleted"):
            return record
        shaped: dict[str, Any] = {}
        for name in ("id", "last_modified", *fields):
            _copy_path(record, shaped, name.split("."))
        return shaped

    def _record_id(self) -> str:
        record_id = self.request.matchdict["id"]
        self._check_id(record_id, location="path")
        return record_id

    def _check_id(self, record_id: Any, *, location: str) -> None:
        if not isinstance(record_id, str) or not self._ids.match(record_id):
            name = "id" if location == "path" else "data.id"
            raise_invalid(location=location, name=name, description="Invalid record id.")

    def _fetch(self, record_id: str) -> dict[str, Any] | None:
        try:
            return self.model.get_record(record_id)
        except RecordNotFoundError:
            return None

    def _get_or_404(self) -> dict[str, Any]:
        record = self._fetch(self._record_id())
        if record is None:
            raise http_error(
                httpexceptions.HTTPNotFound(),
                errno=ERRORS.INVALID_RESOURCE_ID,
                message="The record does not exist.",
                details={"id": self.request.matchdict["id"], "resource_name": self.info.name},
            )
        return record

    def _body(self, *, data_required: bool = True) -> dict[str, Any]:
        """The body of a write, ``{"data": {...}, "permissions": {...}}``, its permissions
        validated; without ``data_required`` (a PATCH), data or permissions are needed."""
        request = self.request
        limit = request.registry.settings["cliquet.max_request_body_bytes"]
        if len(request.body) > limit:
            raise http_error(
                httpexceptions.HTTPRequestEntityTooLarge(),
                errno=ERRORS.REQUEST_TOO_LARGE,
                message=f"The body is over {limit} bytes.",
            )
        # One reader for every body: what it accepts, every storage backend keeps exactly.
        body: Any = json_body.read_body(request.body) if request.body else {}
        if not isinstance(body, dict):
            raise_invalid(
                location="body",
                description="The body must be a JSON object.",
                errno=ERRORS.INVALID_POSTED_DATA,
            )
        keys = ("data", "permissions") if self.info.shareable else ("data",)
        data, permissions = body.get("data"), body.get("permissions")
        if data is None and (data_required or permissions is None):
            what = "the record" if data_required else "the changes"
            wanted = " or ".join(f'{{"{k}": {{...}}}}' for k in keys)
            raise_invalid(
                location="body",
                name="data",
                description=f"Required: {what}, as {wanted}.",
                errno=ERRORS.INVALID_POSTED_DATA,
            )
        unknown = sorted(set(body) - {"data", "permissions"})
        if unknown:
            description = f"Unknown: a body holds {' and '.join(keys)} only."
            raise invalid_request(
                [Detail(location="body", name=k, description=description) for k in unknown]
            )
        if data is not None and not isinstance(data, dict):
            raise_invalid(
                location="body",
                name="data",
                description="Must be an object.",
                errno=ERRORS.INVALID_POSTED_DATA,
            )
        if permissions is not None:
            if not self.info.shareable:
                raise_invalid(
                    location="body", name="permissions", description="Not a shareable resource."
                )
            body["permissions"] = self._validate_permissions(permissions)
        return body

    def _json_patched(self, existing: dict[str, Any]) -> dict[str, Any]:
        """What a JSON Patch (RFC 6902) body makes of the record's answer: the whole record,
        and its whole permissions when the patch changed them (``None`` otherwise).

        The patch applies to ``{"data": record, "permissions": {...}}``, as the record is read;
        ``/permissions/read/<principal>`` adds, removes or tests one principal, as Kinto's
        clients send it.
        """
        document = self._record_body(existing)
        operations = json_body.read_body(self.request.body) if self.request.body else None
        if not self.info.shareable and _touches_permissions(operations):
            raise_invalid(
                location="body", name="permissions", description="Not a shareable resource."
            )
        try:
            patched = apply_json_patch(document, operations, sets_under=["/permissions"])
        except JSONPatchError as e:
            # RFC 5789 section 2.2: a patch the record is not as it assumes is a conflict.
            conflict = isinstance(e, JSONPatchConflict)
            raise invalid_request(
                [Detail(location="body", name=field_name(e.index), description=f"{e}.")],
                errno=ERRORS.CONSTRAINT_VIOLATED if conflict else ERRORS.INVALID_POSTED_DATA,
                httpexception=httpexceptions.HTTPConflict() if conflict else None,
            ) from None
        if not isinstance(patched, dict) or not isinstance(patched.get("data"), dict):
            raise_invalid(
                location="body",
                name="data",
                description="Must stay an object.",
                errno=ERRORS.INVALID_POSTED_DATA,
            )
        data = {**patched["data"], "id": existing["id"]}
        data.pop("last_modified", None)
        permissions = patched.get("permissions")
        if permissions == document.get("permissions"):
            return {"data": data, "permissions": None}
        if not self.info.shareable:
            raise_invalid(
                location="body", name="permissions", description="Not a shareable resource."
            )
        if permissions is None:
            permissions = {}  # removed as a whole: each of them is emptied
        if not isinstance(permissions, dict):
            raise_invalid(
                location="body",
                name="permissions",
                description="Must stay an object.",
                errno=ERRORS.INVALID_POSTED_DATA,
            )
        # Permissions the patch removed are emptied, not kept.
        permissions = {name: [] for name in document.get("permissions") or {}} | permissions
        return {"data": data, "permissions": self._validate_permissions(permissions)}

    def _validate_permissions(self, permissions: Any) -> dict[str, list[str]]:
        import colander

        if not isinstance(permissions, dict):
            raise_invalid(
                location="body",
                name="permissions",
                description='Must be an object: {"read": [principals], "write": [principals]}.',
            )
        description = "Unknown permission: only read and write may be given."
        details = [
            Detail(location="body", name=field_name("permissions", name), description=description)
            for name in sorted(set(permissions) - {"read", "write"})
        ]
        try:
            validated = PermissionsSchema().deserialize(permissions)
        except colander.Invalid as e:
            details += colander_details(e, prefix="permissions")
        if details:
            raise invalid_request(details)
        return validated

    def _check_identity(self, data: dict[str, Any], record_id: str | None) -> None:
        """A body's ``id`` and ``last_modified`` (a record as it was read, sent back), which
        the server decides: ``record_id`` if given, an integer. null is absent."""
        sent_id = data.get("id")
        if sent_id is not None and record_id is not None and sent_id != record_id:
            raise_invalid(location="body", name="data.id", description="Does not match the URL.")
        timestamp = data.get("last_modified")
        integral = isinstance(timestamp, float) and timestamp.is_integer()
        if timestamp is not None and type(timestamp) is not int and not integral:
            raise_invalid(
                location="body", name="data.last_modified", description="Must be an integer."
            )

    def _validate(self, new: dict[str, Any], *, old: dict[str, Any] | None) -> dict[str, Any]:
        """The record ``new`` as the schema makes it; 400 naming each faulty field.

        A field the schema does not know is refused when this write sets or changes it: one
        a record still holds from an older schema does not stop other changes.
        """
        import colander

        data = {k: v for k, v in new.items() if k not in ("id", "last_modified")}
        # Read-only fields are set at creation and never changed afterwards: changing one
        # conflicts with the record as it is (the same write would create a new one).
        for name in self._schema.get_option("readonly_fields"):
            if old is not None and name in data and old.get(name) != data[name]:
                detail = Detail(
                    location="body", name=field_name("data", name), description="Read-only."
                )
                raise invalid_request(
                    [detail],
                    errno=ERRORS.CONSTRAINT_VIOLATED,
                    httpexception=httpexceptions.HTTPConflict(),
                )
            if old is not None and name in old and name not in data:
                data[name] = old[name]  # a replacement keeps them
        description = "Unknown field: not in the schema of this resource."
        details = [
            Detail(location="body", name=field_name("data", *path), description=description)
            for path in self._schema.unknown_fields(data)
            if old is None or _value_at(data, path) != _value_at(old, path)
        ]
        if details:
            raise invalid_request(details)
        try:
            return dict(self._schema.deserialize(data))
        except colander.Invalid as e:
            raise invalid_request(colander_details(e, prefix="data")) from None

    def _store(self, write: Any) -> dict[str, Any]:
        try:
            return write()
        except UnicityError as e:
            # The conflicting record is shown only to those who may read it.
            other_id = e.record.get("id")
            details: dict[str, Any] = {"field": e.field}
            message = f"Conflict of field {e.field}."
            if isinstance(other_id, str) and self._may_read(other_id):
                details["existing"] = e.record
                message = f"Conflict of field {e.field} on record {other_id}."
            raise http_error(
                httpexceptions.HTTPConflict(),
                errno=ERRORS.CONSTRAINT_VIOLATED,
                message=message,
                details=details,
            ) from None

    def _add_timestamp_headers(self, timestamp: int, headers: Any = None) -> None:
        """Date an answer (the view's, or the ``headers`` of a raised one) with ``timestamp``."""
        if headers is None:
            headers = self.request.response.headers
        headers["ETag"] = f'"{timestamp}"'
        headers["Last-Modified"] = _http_date(timestamp)

    def _preconditions(self) -> preconditions.Preconditions:
        """The request's ``If-Match`` / ``If-None-Match``, read once; every view reads them
        before any record, so that a malformed one is a 400 whether or not the record exists."""
        parsed: preconditions.Preconditions | None = getattr(self, "_parsed_preconditions", None)
        if parsed is None:
            parsed = preconditions.read_preconditions(self.request.headers)
            self._parsed_preconditions = parsed
        return parsed

    def _check_preconditions(
        self,
        timestamp: int | None,
        *,
        record: dict[str, Any] | None = None,
        conditions: preconditions.Preconditions | None = None,
    ) -> None:
        """304 or 412 as the preconditions decide for the target whose ETag is ``timestamp``
        (the ``record``'s, or the collection's; None: the record does not exist)."""
        conditions = conditions or self._preconditions()
        safe = self.request.method in ("GET", "HEAD")
        outcome = conditions.evaluate(timestamp, safe=safe)
        if outcome is preconditions.Outcome.NOT_MODIFIED and timestamp is not None:
            response = httpexceptions.HTTPNotModified()
            self._add_timestamp_headers(timestamp, response.headers)
            raise response
        if outcome is preconditions.Outcome.FAILED:
            self._raise_412(record)

    def _raise_412(self, existing: dict[str, Any] | None) -> None:
        """412, dated by the record, or by the collection when there is no record (or none
        the user may read): when anything in it last changed, its deletion included."""
        if existing is not None and not self._may_read(existing["id"]):
            existing = None
        response = http_error(
            httpexceptions.HTTPPreconditionFailed(),
            errno=ERRORS.MODIFIED_MEANWHILE,
            message="Resource was modified meanwhile",
            details={"existing": existing} if existing else None,
        )
        timestamp = existing["last_modified"] if existing else self.model.timestamp()
        self._add_timestamp_headers(timestamp, response.headers)
        raise response

    def _notify(self, action: ACTIONS, impacted: list[dict[str, Any]], timestamp: int) -> None:
        matchdict = dict(self.request.matchdict or {})
        notify_resource_event(
            self.request,
            resource_name=self.info.name,
            uri=self.info.collection_uri(matchdict),
            timestamp=timestamp,
            action=action,
            impacted=impacted,
            extra=matchdict,
        )

    # Permissions (shareable resources only) ----------------------------------------------

    def _fetch_for_write(self) -> dict[str, Any]:
        """The record a PATCH or DELETE changes, once allowed under the collection lock."""
        record_id = self._record_id()
        existing = self._fetch(record_id)
        self._authorize_write(record_id, existing, creating=False)
        if existing is None:
            existing = self._get_or_404()
        return existing

    def _may_read(self, record_id: str, *, tombstone: bool = False) -> bool:
        """Whether the request may learn anything of this record, or of its ``tombstone``
        (a private one is the user's own)."""
        return True

    def _authorize_read(self, record_id: str) -> None:
        """Decide again on the record as it was fetched.

        The route's check ran before: meanwhile the record may have been deleted and its id
        re-created by someone else. Private records are the user's own.
        """

    def _still_readable(
        self, records: list[dict[str, Any]], timestamp: int
    ) -> list[dict[str, Any]]:
        """Those of a list's ``records`` the user may still read once they are fetched.

        The list's rights were read before its records: one written after the list began
        (``last_modified`` over the collection's ``timestamp`` then) may be another record
        on an id the user could read. Private records are the user's own.
        """
        return records

    def _authorize_write(
        self, record_id: str, existing: dict[str, Any] | None, *, creating: bool
    ) -> None:
        """Decide again, under the collection lock, on the record as it now is.

        The route's check ran before the lock: meanwhile the record may have been created,
        deleted or re-created by someone else. Private records are the user's own.
        """

    def _visibility_filters(self, action: str = "read") -> list[Filter]:
        return []

    def _record_body(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"data": record}

    def _set_permissions(self, record_id: str, permissions: Any, *, how: str) -> None:
        """Private records have no permissions."""

    def _delete_permissions(self, record_ids: list[str]) -> None:
        """Private records have no permissions."""


class ShareableResource(UserResource):
    """Records of one shared collection, each with ``read`` and ``write`` principals.

    The creator of a record gets ``write`` on it. Collection-wide rights come from the
    settings ``cliquet.<resource>_<action>_principals`` (by default any authenticated user
    may create, and nobody reads or writes what was not shared with them).
    """

    default_principals: dict[str, list[str]] = {
        "read": [],
        "write": [],
        "create": [Authenticated],
    }

    def get_parent_id(self, request: Any) -> str:
        """One collection per path: ``""`` for ``/notes``, the collection's URI when its path
        has placeholders (``/buckets/blog/collections/tasks/records``), so that records of
        ``/buckets/a/...`` and ``/buckets/b/...`` stay apart."""
        return _collection_uri(self.info, request)

    def _object_uri(self, record_id: str) -> str:
        return self.info.object_uri(dict(self.request.matchdict or {}), record_id)

    def _principals(self) -> set[str]:
        return get_principals(self.request)

    def _may_read(self, record_id: str, *, tombstone: bool = False) -> bool:
        principals = self._principals()
        uri = self._object_uri(record_id)
        if self.context.record_allows(principals, "read", uri):
            return True
        backend = self.request.registry.permission
        return tombstone and backend.check_permission(uri, TOMBSTONE_READ, principals)

    def _authorize_read(self, record_id: str) -> None:
        if not self._may_read(record_id):
            raise httpexceptions.HTTPForbidden()

    def _still_readable(
        self, records: list[dict[str, Any]], timestamp: int
    ) -> list[dict[str, Any]]:
        if not self.context.shared_only:
            return records
        # Written meanwhile: decided again, as is (a tombstone by who could read the record).
        # They come again with the next sync, _since=<the ETag answered: timestamp>.
        return [
            r
            for r in records
            if r["last_modified"] <= timestamp
            or self._may_read(r["id"], tombstone=bool(r.get("deleted")))
        ]

    def _authorize_write(
        self, record_id: str, existing: dict[str, Any] | None, *, creating: bool
    ) -> None:
        principals = self._principals()
        context = self.context
        if existing is not None:
            allowed = context.record_allows(principals, "write", self._object_uri(record_id))
        elif creating:
            allowed = context.collection_allows(principals, "create") or (
                context.collection_allows(principals, "write")
            )
        else:  # a 404 for those who may write any record, a 403 for the others
            allowed = context.collection_allows(principals, "write")
        if not allowed:
            raise httpexceptions.HTTPForbidden()

    def _visibility_filters(self, action: str = "read") -> list[Filter]:
        if not self.context.shared_only:
            return []
        granting = ["read", "write"] if action == "read" else ["write"]
        if action == "read" and self._query().include_deleted:
            granting.append(TOMBSTONE_READ)  # the tombstones of what the user could read
        prefix = self._object_uri("")
        accessible = self.request.registry.permission.get_accessible_objects(
            self._principals(), permissions=granting, object_id_prefix=prefix
        )
        ids = sorted(uri[len(prefix) :] for uri in accessible)
        return [Filter("id", ids, COMPARISON.IN)]

    def _record_body(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record and its permissions: all of them for those who may change them (its
        writers), to the others only the principals they hold themselves."""
        uri = self._object_uri(record["id"])
        permissions = self.request.registry.permission.get_object_permissions(
            uri, list(RECORD_PERMISSIONS)
        )
        principals = self._principals()
        if not self.context.record_allows(principals, "write", uri):
            permissions = {name: held & principals for name, held in permissions.items()}
        return {
            "data": record,
            "permissions": {k: sorted(v) for k, v in sorted(permissions.items()) if v},
        }

    def _set_permissions(self, record_id: str, permissions: Any, *, how: str) -> None:
        """Store a record's permissions as the write asks; the writer keeps ``write``.

        ``create``: a new record has only those given (a re-created id inherits nothing of
        the deleted record, not even who may read its tombstone). ``replace`` (PUT): those
        given replace all of them, permissions not named are emptied; a PUT without
        ``permissions`` keeps them. ``merge`` (PATCH): those named replace theirs only.
        """
        if how != "create" and permissions is None:
            return
        backend = self.request.registry.permission
        uri = self._object_uri(record_id)
        given = {name: set(principals) for name, principals in (permissions or {}).items()}
        if how == "replace":
            wanted = {name: given.get(name, set()) for name in RECORD_PERMISSIONS}
        else:
            wanted = given
        userid = self.request.authenticated_userid
        if userid and (how != "merge" or "write" in wanted):
            wanted.setdefault("write", set()).add(userid)
        if how == "create":
            backend.delete_object_permissions(uri)
        if wanted:
            backend.replace_object_permissions(uri, wanted)

    def _delete_permissions(self, record_ids: list[str]) -> None:
        """Rights go with the record; who could read it may still read its tombstone."""
        backend = self.request.registry.permission
        for record_id in record_ids:
            uri = self._object_uri(record_id)
            held = backend.get_object_permissions(uri, list(RECORD_PERMISSIONS))
            readers = set().union(*held.values())
            backend.delete_object_permissions(uri)
            if readers:
                backend.replace_object_permissions(uri, {TOMBSTONE_READ: readers})
