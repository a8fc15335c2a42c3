"""PostgreSQL permissions: :mod:`cliquet.permission.sql` under the backend name older services use.

``cliquet.permission_backend = cliquet.permission.postgresql`` keeps working; this module only
insists that ``cliquet.permission_url`` names a PostgreSQL database, as its name promises.
"""

from __future__ import annotations

from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from cliquet.permission import sql
from cliquet.permission.sql import Permission

__all__ = ["Permission", "load_from_config"]

_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")


def load_from_config(config: Configurator) -> Permission:
    """Build the SQL backend, refusing a ``cliquet.permission_url`` that is not PostgreSQL.

    :raises pyramid.exceptions.ConfigurationError: the URL is empty or not PostgreSQL.
    """
    url = str(config.get_settings().get("cliquet.permission_url") or "")
    if url and not url.startswith(_SCHEMES):
        raise ConfigurationError(
            f"Invalid value for setting 'cliquet.permission_url': {url!r}; "
            "cliquet.permission.postgresql expects a postgresql:// URL."
        )
    return sql.load_from_config(config)
