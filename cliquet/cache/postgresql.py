"""PostgreSQL cache: :mod:`cliquet.cache.sql` under the backend name older services use.

``cliquet.cache_backend = cliquet.cache.postgresql`` keeps working; this module only insists
that ``cliquet.cache_url`` names a PostgreSQL database, as its name promises.
"""

from __future__ import annotations

from pyramid.config import Configurator

from cliquet.cache import sql
from cliquet.cache.sql import Cache
from cliquet.sql import require_postgresql

__all__ = ["Cache", "load_from_config"]


def load_from_config(config: Configurator) -> Cache:
    """Build the SQL cache backend, refusing a ``cliquet.cache_url`` that is not PostgreSQL.

    :raises pyramid.exceptions.ConfigurationError: the URL is empty or not PostgreSQL.
    """
    require_postgresql(config, "cache")
    return sql.load_from_config(config)
