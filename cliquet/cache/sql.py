"""SQL cache: one table on SQLite (embedded) or PostgreSQL (shared by every worker).

Expiry is a deadline in epoch seconds by the database's clock. Expired rows are ignored on read,
deleted when read, and swept now and then on write, so that keys written once and never read
again do not pile up. The table is created by :meth:`Cache.initialize_schema` (``cliquet
migrate``), never at request time.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from pyramid.config import Configurator
from sqlalchemy.engine import Engine

from cliquet.cache import CacheBase, CacheError
from cliquet.sql import (
    bytewise_text,
    chunked,
    create_engine_from_url,
    engine_settings,
    epoch_now,
    startswith,
    translate_errors,
    upsert,
)

__all__ = ["Cache", "load_from_config"]

# One write in so many also deletes every expired row (an index range scan).
_SWEEP_EVERY_WRITES = 1024

_metadata = sa.MetaData()

_cache = sa.Table(
    "cache",
    _metadata,
    sa.Column("key", bytewise_text(), primary_key=True),
    # The JSON-serialized value.
    sa.Column("value", sa.Text(), nullable=False),
    # Deadline in epoch seconds (database clock); NULL: never expires.
    sa.Column("expires_at", sa.Double(), nullable=True),
    sa.Index("idx_cache_expires_at", "expires_at"),
)


class Cache(CacheBase):
    """Cache on a SQLAlchemy engine (see :func:`cliquet.sql.create_engine_from_url`)."""

    def __init__(self, engine: Engine, *, cache_prefix: str = "") -> None:
        super().__init__(cache_prefix=cache_prefix)
        self.engine = engine
        self._writes = itertools.count(1)

    def __repr__(self) -> str:
        url = self.engine.url.render_as_string(hide_password=True)
        return f"<cliquet.cache.sql.Cache url={url!r} prefix={self.prefix!r}>"

    def initialize_schema(self) -> str:
        """Create or upgrade the tables (Alembic revisions of ``cliquet/migrations/cache``)."""
        from cliquet.migration import migrate

        with translate_errors(CacheError):
            return migrate(self.engine, "cache")

    def flush(self) -> None:
        with translate_errors(CacheError), self.engine.begin() as conn:
            conn.execute(sa.delete(_cache).where(startswith(_cache.c.key, self.prefix)))

    def ttl(self, key: str) -> int:
        query = sa.select(_cache.c.expires_at - epoch_now()).where(
            _cache.c.key == self.prefix + key, _cache.c.expires_at.is_not(None)
        )
        with translate_errors(CacheError), self.engine.connect() as conn:
            remaining: float | None = conn.execute(query).scalar()
        if remaining is None or remaining <= 0:
            return -1
        return math.ceil(remaining)

    def expire(self, key: str, ttl: float) -> None:
        full_key = self.prefix + key
        with translate_errors(CacheError), self.engine.begin() as conn:
            if ttl <= 0:
                conn.execute(sa.delete(_cache).where(_cache.c.key == full_key))
                return
            now = epoch_now()
            conn.execute(
                sa.update(_cache)
                .where(
                    _cache.c.key == full_key,
                    sa.or_(_cache.c.expires_at.is_(None), _cache.c.expires_at > now),
                )
                .values(expires_at=now + float(ttl))
            )

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        # Serialize first: TypeError for non-JSON values, before anything is written.
        serialized = json.dumps(value)
        expires_at = None if ttl is None else epoch_now() + float(ttl)
        insert = upsert(self.engine, _cache).values(
            key=self.prefix + key, value=serialized, expires_at=expires_at
        )
        statement = insert.on_conflict_do_update(
            index_elements=[_cache.c.key],
            set_={"value": insert.excluded.value, "expires_at": insert.excluded.expires_at},
        )
        with translate_errors(CacheError), self.engine.begin() as conn:
            conn.execute(statement)
            if next(self._writes) % _SWEEP_EVERY_WRITES == 0:
                conn.execute(sa.delete(_cache).where(_cache.c.expires_at <= epoch_now()))

    def get(self, key: str) -> Any:
        return self.get_many([key])[key]

    def delete(self, key: str) -> None:
        self.delete_many([key])

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        keys = list(keys)
        found: dict[str, Any] = {}
        expired: list[str] = []
        with translate_errors(CacheError), self.engine.connect() as conn:
            for batch in chunked(keys):
                full_keys = [self.prefix + key for key in batch]
                rows = conn.execute(
                    sa.select(
                        _cache.c.key,
                        _cache.c.value,
                        sa.or_(
                            _cache.c.expires_at.is_(None), _cache.c.expires_at > epoch_now()
                        ).label("alive"),
                    ).where(_cache.c.key.in_(full_keys))
                )
                for full_key, serialized, alive in rows:
                    if alive:
                        found[full_key] = serialized
                    else:
                        expired.append(full_key)
        if expired:
            self._delete_expired(expired)
        return {
            key: json.loads(found[self.prefix + key]) if self.prefix + key in found else None
            for key in keys
        }

    def delete_many(self, keys: Iterable[str]) -> None:
        with translate_errors(CacheError), self.engine.begin() as conn:
            for batch in chunked(self.prefix + key for key in keys):
                conn.execute(sa.delete(_cache).where(_cache.c.key.in_(batch)))

    def _delete_expired(self, full_keys: list[str]) -> None:
        """Delete rows found expired, unless set again meanwhile."""
        with translate_errors(CacheError), self.engine.begin() as conn:
            conn.execute(
                sa.delete(_cache).where(
                    _cache.c.key.in_(full_keys), _cache.c.expires_at <= epoch_now()
                )
            )


def load_from_config(config: Configurator) -> Cache:
    """Build the cache from ``cliquet.cache_url`` and ``cliquet.cache_prefix``.

    Pool settings: ``cliquet.cache_pool_size``, ``cliquet.cache_max_overflow``,
    ``cliquet.cache_pool_timeout_seconds``, ``cliquet.cache_statement_timeout_ms`` (see
    :func:`cliquet.sql.engine_settings`). Connects lazily.

    :raises pyramid.exceptions.ConfigurationError: the URL is empty or not a database URL.
    """
    settings = config.get_settings()
    engine = create_engine_from_url(**engine_settings(settings, "cache"))
    return Cache(engine, cache_prefix=settings.get("cliquet.cache_prefix", "") or "")
