"""SQL permissions: two tables on SQLite (embedded) or PostgreSQL (shared by every worker).

Every question is answered by one indexed query; nothing loads a whole table. Object ids are
stored in a column that sorts by code point, so that "every object under ``/buckets/b1/``" is a
range scan of an index. The tables are created by :meth:`Permission.initialize_schema`
(``cliquet migrate``), never at request time.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from pyramid.config import Configurator
from sqlalchemy.engine import Engine

from cliquet.permission import PermissionBackendError, PermissionBase
from cliquet.sql import (
    bytewise_text,
    chunked,
    engine_from_config,
    startswith,
    translate_errors,
    unit_of_work,
    upsert,
)

__all__ = ["Permission", "load_from_config"]

_metadata = sa.MetaData()

_user_principals = sa.Table(
    "user_principals",
    _metadata,
    sa.Column("user_id", sa.Text(), primary_key=True),
    sa.Column("principal", sa.Text(), primary_key=True),
)

_aces = sa.Table(
    "access_control_entries",
    _metadata,
    # The primary key serves lookups by object and object-id prefix.
    sa.Column("object_id", bytewise_text(), primary_key=True),
    sa.Column("permission", sa.Text(), primary_key=True),
    sa.Column("principal", sa.Text(), primary_key=True),
    # Serves get_accessible_objects: by principal, then by object-id prefix.
    sa.Index("idx_access_control_entries_principal_object_id", "principal", "object_id"),
)


class Permission(PermissionBase):
    """Permission backend on a SQLAlchemy engine (see :mod:`cliquet.sql`)."""

    #: Joins each transaction itself, through zope.sqlalchemy (see cliquet.unit_of_work).
    joins_transactions = True

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.units = unit_of_work(engine)
        # Asked on every authenticated request and every record's check: built once, so
        # that SQLAlchemy finds them compiled without computing their cache key again.
        self._user_principals = sa.select(_user_principals.c.principal).where(
            _user_principals.c.user_id == sa.bindparam("user")
        )
        self._principals_of = sa.select(_aces.c.principal).where(
            _aces.c.object_id == sa.bindparam("object"),
            _aces.c.permission == sa.bindparam("permission_name"),
        )

    # Units of work, shared with the storage when on the same database (cliquet.sql.UnitOfWork)

    def begin(self) -> None:
        self.units.begin()

    def commit(self) -> None:
        from cliquet.storage import StorageError

        try:
            with translate_errors(PermissionBackendError):
                self.units.commit()
        except StorageError as e:  # the unit of work's failed commit
            raise PermissionBackendError(original=e) from e

    def rollback(self) -> None:
        self.units.rollback()

    def __repr__(self) -> str:
        url = self.engine.url.render_as_string(hide_password=True)
        return f"<cliquet.permission.sql.Permission url={url!r}>"

    def initialize_schema(self) -> str:
        """Create or upgrade the tables (the Alembic revisions of this component)."""
        from cliquet.migration import migrate

        with translate_errors(PermissionBackendError):
            return migrate(self.engine, "permission")

    def flush(self) -> None:
        with translate_errors(PermissionBackendError), self.units.connect() as conn:
            conn.execute(sa.delete(_user_principals))
            conn.execute(sa.delete(_aces))

    def add_user_principal(self, user_id: str, principal: str) -> None:
        statement = (
            upsert(self.engine, _user_principals)
            .values(user_id=user_id, principal=principal)
            .on_conflict_do_nothing()
        )
        with translate_errors(PermissionBackendError), self.units.connect() as conn:
            conn.execute(statement)

    def remove_user_principal(self, user_id: str, principal: str) -> None:
        statement = sa.delete(_user_principals).where(
            _user_principals.c.user_id == user_id, _user_principals.c.principal == principal
        )
        with translate_errors(PermissionBackendError), self.units.connect() as conn:
            conn.execute(statement)

    def remove_principal(self, principal: str) -> None:
        # A scan of the table (its key leads with user_id): rare, when a group goes.
        statement = sa.delete(_user_principals).where(_user_principals.c.principal == principal)
        with translate_errors(PermissionBackendError), self.units.connect() as conn:
            conn.execute(statement)

    def get_user_principals(self, user_id: str) -> set[str]:
        connecting = self.units.connect(one_read=True)
        with translate_errors(PermissionBackendError), connecting as conn:
            return set(conn.execute(self._user_principals, {"user": user_id}).scalars())

    def add_principal_to_ace(self, object_id: str, permission: str, principal: str) -> None:
        statement = (
            upsert(self.engine, _aces)
            .values(object_id=object_id, permission=permission, principal=principal)
            .on_conflict_do_nothing()
        )
        with translate_errors(PermissionBackendError), self.units.connect() as conn:
            conn.execute(statement)

    def remove_principal_from_ace(self, object_id: str, permission: str, principal: str) -> None:
        statement = sa.delete(_aces).where(
            _aces.c.object_id == object_id,
            _aces.c.permission == permission,
            _aces.c.principal == principal,
        )
        with translate_errors(PermissionBackendError), self.units.connect() as conn:
            conn.execute(statement)

    def get_object_permission_principals(self, object_id: str, permission: str) -> set[str]:
        params = {"object": object_id, "permission_name": permission}
        connecting = self.units.connect(one_read=True)
        with translate_errors(PermissionBackendError), connecting as conn:
            return set(conn.execute(self._principals_of, params).scalars())

    def get_object_permissions(
        self, object_id: str, permissions: list[str] | None = None
    ) -> dict[str, set[str]]:
        connecting = self.units.connect(one_read=True)
        with translate_errors(PermissionBackendError), connecting as conn:
            return self._object_permissions(conn, object_id, permissions)

    def replace_object_permissions(
        self, object_id: str, permissions: dict[str, Iterable[str]]
    ) -> dict[str, set[str]]:
        # Materialize first: a generator that fails must not leave a half-done change.
        replacements = {
            permission: set(principals) for permission, principals in permissions.items()
        }
        rows = [
            {"object_id": object_id, "permission": permission, "principal": principal}
            for permission, principals in replacements.items()
            for principal in principals
        ]
        with translate_errors(PermissionBackendError), self.units.connect() as conn:
            for batch in chunked(replacements):
                conn.execute(
                    sa.delete(_aces).where(
                        _aces.c.object_id == object_id, _aces.c.permission.in_(batch)
                    )
                )
            if rows:
                # A concurrent replace may have inserted the same rows since the delete.
                conn.execute(upsert(self.engine, _aces).on_conflict_do_nothing(), rows)
            return self._object_permissions(conn, object_id, None)

    def delete_object_permissions(self, *object_ids: str) -> None:
        if not object_ids:
            return
        with translate_errors(PermissionBackendError), self.units.connect() as conn:
            for batch in chunked(object_ids):
                conn.execute(sa.delete(_aces).where(_aces.c.object_id.in_(batch)))

    def get_accessible_objects(
        self,
        principals: Iterable[str],
        *,
        permissions: list[str] | None = None,
        object_id_prefix: str = "",
    ) -> dict[str, set[str]]:
        wanted = list(set(principals))
        accessible: dict[str, set[str]] = {}
        if not wanted:
            return accessible
        with translate_errors(PermissionBackendError), self.units.connect() as conn:
            for batch in chunked(wanted):
                query = (
                    sa.select(_aces.c.object_id, _aces.c.permission)
                    .distinct()
                    .where(
                        _aces.c.principal.in_(batch),
                        startswith(_aces.c.object_id, object_id_prefix),
                    )
                )
                if permissions is not None:
                    query = query.where(_aces.c.permission.in_(permissions))
                for object_id, permission in conn.execute(query):
                    accessible.setdefault(object_id, set()).add(permission)
        return accessible

    def _object_permissions(
        self, conn: sa.Connection, object_id: str, permissions: list[str] | None
    ) -> dict[str, set[str]]:
        query = sa.select(_aces.c.permission, _aces.c.principal).where(
            _aces.c.object_id == object_id
        )
        if permissions is not None:
            query = query.where(_aces.c.permission.in_(permissions))
        result: dict[str, set[str]] = {}
        for permission, principal in conn.execute(query):
            result.setdefault(permission, set()).add(principal)
        return result


def load_from_config(config: Configurator) -> Permission:
    """Build the backend from ``cliquet.permission_url``.

    Pool settings: ``cliquet.permission_pool_size``, ``cliquet.permission_max_overflow``,
    ``cliquet.permission_pool_timeout_seconds``, ``cliquet.permission_statement_timeout_ms``
    (see :func:`cliquet.sql.engine_settings`). Connects lazily.

    :raises pyramid.exceptions.ConfigurationError: the URL is empty or not a database URL.
    """
    engine = engine_from_config(config, "permission")
    return Permission(engine)
