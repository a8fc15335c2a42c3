"""PostgreSQL permissions: :mod:`cliquet.permission.sql` under the backend name older services use.

``cliquet.permission_backend = cliquet.permission.postgresql`` keeps working; this module only
insists that ``cliquet.permission_url`` names a PostgreSQL database, as its name promises.
"""

from __future__ import annotations

from pyramid.config import Configurator

from cliquet.permission import sql
from cliquet.permission.sql import Permission
from cliquet.sql import require_postgresql

__all__ = ["Permission", "load_from_config"]


def load_from_config(config: Configurator) -> Permission:
    """Build the SQL permission backend; ``cliquet.permission_url`` must be PostgreSQL.

    :raises pyramid.exceptions.ConfigurationError: the URL is empty or not PostgreSQL.
    """
    require_postgresql(config, "permission")
    return sql.load_from_config(config)
