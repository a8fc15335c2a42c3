"""Redis storage: every collection in three keys, timestamps decided by Redis itself.

Keys, under an optional ``cliquet.storage_prefix`` (several services may share one Redis):

- ``{prefix}{parent_id}/{collection_id}:records``: a hash, record id -> record JSON;
- ``{prefix}{parent_id}/{collection_id}:deleted``: a hash, record id -> tombstone JSON;
- ``{prefix}{parent_id}/{collection_id}:timestamp``: the collection timestamp.

Each write (create, update, delete, delete_all) is one Lua script: it computes
``max(now_ms, timestamp + 1)`` from the server's ``TIME``, stores it and writes the record
in the same atomic step. Workers' clocks never matter, ``last_modified`` strictly increases
per collection across processes and machines, and a record is never visible before its
timestamp (a client reading ``_since`` cannot miss a write that lands later with a lower one).

Redis cannot filter or sort JSON: :meth:`Storage.list_all` loads the whole collection and
selects in Python with :func:`cliquet.storage.selection.select`, the reference semantics. Unique
fields are checked the same way, against a snapshot of the collection; the write script then
refuses to run if the collection timestamp moved since that snapshot, and the check starts
over (optimistic concurrency), so the check and the write are atomic in effect without making
Redis decode JSON. All this costs a transfer of the collection per listing: fine for modest
collections (thousands of records), not for large ones, which belong on PostgreSQL
(``cliquet.storage.postgresql``; DESIGN.md, "Data and scale").

``begin``/``commit``/``rollback`` keep the contract's no-ops: Redis has no transaction that
reads its own writes and can be rolled back, so each write stands alone.

:meth:`Storage.flush` deletes only the storage keys under the prefix (never ``FLUSHDB``).
Collection ids should not contain ``/``, or two addresses could share keys; give each
component sharing a database its own prefix.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, cast

import redis
from pyramid.config import Configurator
from redis.client import Pipeline

from cliquet.redis_client import client_settings, create_client, glob_escape, translate_errors
from cliquet.storage import (
    DEFAULT_DELETED_FIELD,
    DEFAULT_ID_FIELD,
    DEFAULT_MODIFIED_FIELD,
    Filter,
    RecordNotFoundError,
    Sort,
    StorageBase,
    StorageError,
    UnicityError,
)
from cliquet.storage.selection import compile_filters, order_key, select

__all__ = ["Storage", "load_from_config"]

# Keys asked of each SCAN step, and deleted per DEL while flushing.
_BATCH = 500
# Snapshots tried before a checked write gives up on a collection written without a pause.
_ATTEMPTS = 50
_SUFFIXES = ("records", "deleted", "timestamp")

# Shared by every script. Before Redis 5, a script may write after TIME only in the
# effects-replication mode; since Redis 7 that mode is the only one and the call a no-op.
_PRELUDE = """
if redis.replicate_commands then redis.replicate_commands() end

local function fmt(number)
  -- Not tostring(): it keeps 14 significant digits only.
  return string.format('%.0f', number)
end

local function now_ms()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end

-- The collection's next timestamp, stored before it is returned.
local function bump(key, wished)
  local current = tonumber(redis.call('GET', key))
  local new
  if current == nil then
    new = wished or now_ms()
  elseif wished ~= nil and wished > current then
    new = wished
  else
    new = math.max(now_ms(), current + 1)
  end
  redis.call('SET', key, fmt(new))
  return new
end

-- Whether the collection was written since the caller's snapshot ('' for never).
local function moved(key, seen)
  return (redis.call('GET', key) or '') ~= seen
end
"""

# KEYS: records, deleted, timestamp
# ARGV: id, JSON head, JSON tail, '1' to compare the timestamp with ARGV[5]
_CREATE = """
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if existing then return {'exists', existing} end
if ARGV[4] == '1' and moved(KEYS[3], ARGV[5]) then return {'retry'} end
local stamp = bump(KEYS[3], nil)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. fmt(stamp) .. ARGV[3])
redis.call('HDEL', KEYS[2], ARGV[1])
return {'ok', stamp}
"""

# KEYS: records, deleted, timestamp
# ARGV: id, JSON head, JSON tail, '1' to compare the timestamp with ARGV[5]
_UPDATE = """
if ARGV[4] == '1' and moved(KEYS[3], ARGV[5]) then return false end
local stamp = bump(KEYS[3], nil)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. fmt(stamp) .. ARGV[3])
redis.call('HDEL', KEYS[2], ARGV[1])
return stamp
"""

# KEYS: records, deleted, timestamp
# ARGV: id, wished timestamp or '', '1' to keep a tombstone, tombstone JSON head, tail
_DELETE = """
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return false end
local stamp = bump(KEYS[3], tonumber(ARGV[2]))
if ARGV[3] == '1' then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[4] .. fmt(stamp) .. ARGV[5])
end
return stamp
"""

# KEYS: records, deleted, timestamp
# ARGV: timestamp of the snapshot, '1' to keep tombstones, tombstone JSON head,
#       then (id, tombstone JSON tail) for each record.
_DELETE_ALL = """
if moved(KEYS[3], ARGV[1]) then return false end
local stamps = {}
for i = 4, #ARGV, 2 do
  redis.call('HDEL', KEYS[1], ARGV[i])
  local stamp = bump(KEYS[3], nil)
  if ARGV[2] == '1' then
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[3] .. fmt(stamp) .. ARGV[i + 1])
  end
  stamps[#stamps + 1] = stamp
end
return stamps
"""

# KEYS: timestamp
_TIMESTAMP = """
local current = redis.call('GET', KEYS[1])
if current then return current end
local stamp = fmt(now_ms())
redis.call('SET', KEYS[1], stamp)
return stamp
"""


def _json_parts(fields: dict[str, Any], modified_field: str) -> tuple[str, str]:
    """The JSON of ``fields`` with ``modified_field`` first, cut where its value goes."""
    head = "{" + json.dumps(modified_field) + ":"
    rest = json.dumps(fields, separators=(",", ":"))
    return head, "}" if rest == "{}" else "," + rest[1:]


def _unicity_conflict(
    records: list[dict[str, Any]],
    object_id: str,
    record: dict[str, Any],
    unique_fields: Sequence[str],
    id_field: str,
) -> UnicityError | None:
    """The error to raise if another of ``records`` holds a value of ``unique_fields``."""
    for field in unique_fields:
        wanted = order_key(record[field])
        for other in records:
            if (
                other.get(id_field) != object_id
                and field in other
                and order_key(other[field]) == wanted
            ):
                return UnicityError(field, other)
    return None


def _backoff(attempt: int) -> None:
    # Random, so that writers that collided do not collide again at once.
    time.sleep(random.random() * min(attempt, 10) / 1000)


class Storage(StorageBase):
    """Storage on a Redis client (see :func:`cliquet.redis_client.create_client`)."""

    def __init__(self, client: redis.Redis, *, prefix: str = "") -> None:
        self.client = client
        self.prefix = prefix
        # register_script only hashes: each script is sent once, on its first call.
        self._create = client.register_script(_PRELUDE + _CREATE)
        self._update = client.register_script(_PRELUDE + _UPDATE)
        self._delete = client.register_script(_PRELUDE + _DELETE)
        self._delete_all = client.register_script(_PRELUDE + _DELETE_ALL)
        self._timestamp = client.register_script(_PRELUDE + _TIMESTAMP)

    def __repr__(self) -> str:
        kwargs = self.client.connection_pool.connection_kwargs
        where = kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}"
        return f"<cliquet.storage.redis.Storage server={where!r} prefix={self.prefix!r}>"

    def _keys(self, collection_id: str, parent_id: str) -> list[str]:
        """The records, tombstones and timestamp keys of a collection."""
        base = f"{self.prefix}{parent_id}/{collection_id}"
        return [f"{base}:{suffix}" for suffix in _SUFFIXES]

    def _snapshot(self, keys: list[str]) -> tuple[str, list[dict[str, Any]]]:
        """The collection's timestamp ('' if none) and live records, read at one instant."""
        pipe = self.client.pipeline(transaction=True)
        pipe.get(keys[2])
        pipe.hvals(keys[0])
        stamp, values = pipe.execute()
        return stamp or "", [json.loads(value) for value in values]

    # The contract says None; its callers (start-up, ``cliquet migrate``) show a returned line.
    def initialize_schema(self, *, dry_run: bool = False) -> str:  # type: ignore[override]
        """Redis needs no schema; the line is for ``cliquet migrate`` and start-up messages."""
        return "storage: nothing to migrate (redis)"

    def flush(self) -> None:
        prefix = glob_escape(self.prefix)
        with translate_errors(StorageError):
            for suffix in _SUFFIXES:
                batch: list[str] = []
                for key in self.client.scan_iter(match=f"{prefix}*:{suffix}", count=_BATCH):
                    batch.append(key)
                    if len(batch) == _BATCH:
                        self.client.delete(*batch)
                        batch = []
                if batch:
                    self.client.delete(*batch)

    def heartbeat(self) -> bool:
        """One PING: cheaper than the default listing, and it writes nothing."""
        try:
            return bool(self.client.ping())
        except Exception:
            return False

    def collection_timestamp(self, collection_id: str, parent_id: str) -> int:
        key = self._keys(collection_id, parent_id)[2]
        with translate_errors(StorageError):
            return int(self._timestamp(keys=[key]))

    def create(
        self,
        collection_id: str,
        parent_id: str,
        record: dict[str, Any],
        *,
        id_generator: Callable[[], str] | None = None,
        unique_fields: Sequence[str] | None = None,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
        auth: Any = None,
    ) -> dict[str, Any]:
        fields = {k: v for k, v in record.items() if k != modified_field}
        if fields.get(id_field) is None:
            fields[id_field] = (id_generator or _uuid4)()
        object_id = fields[id_field]
        head, tail = _json_parts(fields, modified_field)
        checked = [f for f in unique_fields or () if fields.get(f) is not None]
        keys = self._keys(collection_id, parent_id)
        with translate_errors(StorageError):
            for attempt in range(_ATTEMPTS):
                seen = ""
                if checked:
                    seen, records = self._snapshot(keys)
                    for other in records:
                        if other.get(id_field) == object_id:
                            raise UnicityError(id_field, other)
                    conflict = _unicity_conflict(records, object_id, fields, checked, id_field)
                    if conflict is not None:
                        raise conflict
                args = [object_id, head, tail, "1" if checked else "0", seen]
                status, *rest = self._create(keys=keys, args=args)
                if status == "exists":
                    raise UnicityError(id_field, json.loads(rest[0]))
                if status == "ok":
                    return cast("dict[str, Any]", json.loads(head + str(rest[0]) + tail))
                _backoff(attempt)
        raise StorageError(f"{collection_id!r} of {parent_id!r} changes too fast to create into")

    def get(
        self,
        collection_id: str,
        parent_id: str,
        object_id: str,
        *,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
        auth: Any = None,
    ) -> dict[str, Any]:
        key = self._keys(collection_id, parent_id)[0]
        with translate_errors(StorageError):
            value = cast("str | None", self.client.hget(key, object_id))
        if value is None:
            raise RecordNotFoundError(object_id)
        return cast("dict[str, Any]", json.loads(value))

    def update(
        self,
        collection_id: str,
        parent_id: str,
        object_id: str,
        record: dict[str, Any],
        *,
        unique_fields: Sequence[str] | None = None,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
        auth: Any = None,
    ) -> dict[str, Any]:
        fields = {k: v for k, v in record.items() if k != modified_field}
        fields[id_field] = object_id
        head, tail = _json_parts(fields, modified_field)
        checked = [f for f in unique_fields or () if fields.get(f) is not None]
        keys = self._keys(collection_id, parent_id)
        with translate_errors(StorageError):
            for attempt in range(_ATTEMPTS):
                seen = ""
                if checked:
                    seen, records = self._snapshot(keys)
                    conflict = _unicity_conflict(records, object_id, fields, checked, id_field)
                    if conflict is not None:
                        raise conflict
                args = [object_id, head, tail, "1" if checked else "0", seen]
                stamp = self._update(keys=keys, args=args)
                if stamp is not None:
                    return cast("dict[str, Any]", json.loads(head + str(stamp) + tail))
                _backoff(attempt)
        raise StorageError(f"{collection_id!r} of {parent_id!r} changes too fast to update")

    def delete(
        self,
        collection_id: str,
        parent_id: str,
        object_id: str,
        *,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
        deleted_field: str = DEFAULT_DELETED_FIELD,
        with_deleted: bool = True,
        auth: Any = None,
        last_modified: int | None = None,
    ) -> dict[str, Any]:
        head, tail = _json_parts({id_field: object_id, deleted_field: True}, modified_field)
        wished = "" if last_modified is None else str(int(last_modified))
        keep = "1" if with_deleted else "0"
        keys = self._keys(collection_id, parent_id)
        with translate_errors(StorageError):
            stamp = self._delete(keys=keys, args=[object_id, wished, keep, head, tail])
        if stamp is None:
            raise RecordNotFoundError(object_id)
        return {id_field: object_id, modified_field: int(stamp), deleted_field: True}

    def delete_all(
        self,
        collection_id: str,
        parent_id: str,
        *,
        filters: Sequence[Filter] | None = None,
        sorting: Sequence[Sort] | None = None,
        pagination_rules: Sequence[Sequence[Filter]] | None = None,
        limit: int | None = None,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
        deleted_field: str = DEFAULT_DELETED_FIELD,
        with_deleted: bool = True,
        auth: Any = None,
    ) -> list[dict[str, Any]]:
        keys = self._keys(collection_id, parent_id)
        with translate_errors(StorageError):
            for attempt in range(_ATTEMPTS):
                seen, records = self._snapshot(keys)
                doomed = select(
                    records,
                    filters=filters,
                    sorting=sorting,
                    pagination_rules=pagination_rules,
                    limit=limit,
                    modified_field=modified_field,
                )
                if not doomed:
                    return []
                ids = [record[id_field] for record in doomed]
                args = [seen, "1" if with_deleted else "0", ""]
                for object_id in ids:
                    tombstone = {id_field: object_id, deleted_field: True}
                    args[2], tail = _json_parts(tombstone, modified_field)
                    args += [object_id, tail]
                stamps = self._delete_all(keys=keys, args=args)
                if stamps is not None:
                    return [
                        {id_field: object_id, modified_field: int(stamp), deleted_field: True}
                        for object_id, stamp in zip(ids, stamps, strict=True)
                    ]
                _backoff(attempt)
        raise StorageError(f"{collection_id!r} of {parent_id!r} changes too fast to delete from")

    def purge_deleted(
        self,
        collection_id: str,
        parent_id: str,
        *,
        before: int | None = None,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
        auth: Any = None,
    ) -> int:
        key = self._keys(collection_id, parent_id)[1]
        purged: list[str] = []

        def purge(pipe: Pipeline) -> None:
            # Watching the tombstones: if a delete lands before EXEC, Redis refuses and
            # this runs again, so a newer tombstone of the same id is never purged.
            tombstones = cast("dict[str, str]", pipe.hgetall(key))
            doomed = [
                object_id
                for object_id, tombstone in tombstones.items()
                if before is None or json.loads(tombstone)[modified_field] < before
            ]
            pipe.multi()
            if doomed:
                pipe.hdel(key, *doomed)
            purged[:] = doomed

        with translate_errors(StorageError):
            self.client.transaction(purge, key)
        return len(purged)

    def list_all(
        self,
        collection_id: str,
        parent_id: str,
        *,
        filters: Sequence[Filter] | None = None,
        sorting: Sequence[Sort] | None = None,
        pagination_rules: Sequence[Sequence[Filter]] | None = None,
        limit: int | None = None,
        include_deleted: bool = False,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
        deleted_field: str = DEFAULT_DELETED_FIELD,
        auth: Any = None,
    ) -> list[dict[str, Any]]:
        keys = self._keys(collection_id, parent_id)
        with translate_errors(StorageError):
            pipe = self.client.pipeline(transaction=True)
            pipe.hvals(keys[0])
            if include_deleted:
                pipe.hvals(keys[1])
            replies = pipe.execute()
        documents = [value for reply in replies for value in reply]
        return select(
            [json.loads(value) for value in documents],
            filters=filters,
            sorting=sorting,
            pagination_rules=pagination_rules,
            limit=limit,
            modified_field=modified_field,
        )

    def count_all(
        self,
        collection_id: str,
        parent_id: str,
        *,
        filters: Sequence[Filter] | None = None,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
        deleted_field: str = DEFAULT_DELETED_FIELD,
        auth: Any = None,
    ) -> int:
        """``HLEN`` of the records' hash (no transfer) without filters, else as listing does."""
        key = self._keys(collection_id, parent_id)[0]
        with translate_errors(StorageError):
            if not filters:
                return int(self.client.hlen(key))
            documents = cast("list[str]", self.client.hvals(key))
        keep = compile_filters(filters)
        return sum(1 for value in documents if keep(json.loads(value)))


def _uuid4() -> str:
    return str(uuid.uuid4())


def load_from_config(config: Configurator) -> Storage:
    """Build the storage from ``cliquet.storage_url`` and ``cliquet.storage_prefix``.

    Pool settings: ``cliquet.storage_pool_size``, ``cliquet.storage_pool_timeout_seconds`` (see
    :func:`cliquet.redis_client.client_settings`). Connects lazily.

    :raises pyramid.exceptions.ConfigurationError: the URL is empty or not a Redis URL.
    """
    settings = config.get_settings()
    client = create_client(**client_settings(settings, "storage"))
    return Storage(client, prefix=settings.get("cliquet.storage_prefix", "") or "")
