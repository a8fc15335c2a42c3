"""PostgreSQL storage: :mod:`cliquet.storage.sql` under the backend name older services use.

``cliquet.storage_backend = cliquet.storage.postgresql`` keeps working; this module only
insists that ``cliquet.storage_url`` names a PostgreSQL database, as its name promises.
"""

from __future__ import annotations

from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from cliquet.storage import sql
from cliquet.storage.sql import Storage

__all__ = ["Storage", "load_from_config"]

_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")


def load_from_config(config: Configurator) -> Storage:
    """Build the SQL storage, refusing a ``cliquet.storage_url`` that is not PostgreSQL.

    :raises pyramid.exceptions.ConfigurationError: the URL is empty or not PostgreSQL.
    """
    url = str(config.get_settings().get("cliquet.storage_url") or "")
    if url and not url.startswith(_SCHEMES):
        raise ConfigurationError(
            f"Invalid value for setting 'cliquet.storage_url': {url!r}; "
            "cliquet.storage.postgresql expects a postgresql:// URL."
        )
    return sql.load_from_config(config)
