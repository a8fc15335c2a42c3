"""PostgreSQL cache: :mod:`cliquet.cache.sql` under the backend name older services use.

``cliquet.cache_backend = cliquet.cache.postgresql`` keeps working; this module only insists
that ``cliquet.cache_url`` names a PostgreSQL database, as its name promises.
"""

from __future__ import annotations

from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from cliquet.cache import sql
from cliquet.cache.sql import Cache

__all__ = ["Cache", "load_from_config"]

_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")


def load_from_config(config: Configurator) -> Cache:
    """Build the SQL cache, refusing a ``cliquet.cache_url`` that is not PostgreSQL.

    :raises pyramid.exceptions.ConfigurationError: the URL is empty or not PostgreSQL.
    """
    url = str(config.get_settings().get("cliquet.cache_url") or "")
    if url and not url.startswith(_SCHEMES):
        raise ConfigurationError(
            f"Invalid value for setting 'cliquet.cache_url': {url!r}; "
            "cliquet.cache.postgresql expects a postgresql:// URL."
        )
    return sql.load_from_config(config)
