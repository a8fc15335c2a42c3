"""PostgreSQL storage: :mod:`cliquet.storage.sql` under the backend name older services use.

``cliquet.storage_backend = cliquet.storage.postgresql`` keeps working; this module only
insists that ``cliquet.storage_url`` names a PostgreSQL database, as its name promises.
"""

from __future__ import annotations

from pyramid.config import Configurator

from cliquet.sql import require_postgresql
from cliquet.storage import sql
from cliquet.storage.sql import Storage

__all__ = ["Storage", "load_from_config"]


def load_from_config(config: Configurator) -> Storage:
    """Build the SQL storage backend, refusing a ``cliquet.storage_url`` that is not PostgreSQL.

    :raises pyramid.exceptions.ConfigurationError: the URL is empty or not PostgreSQL.
    """
    require_postgresql(config, "storage")
    return sql.load_from_config(config)
