"""{{ cookiecutter.project_name }}: a REST microservice built on cliquet.

``main`` is the application factory that ``pserve`` and ``gunicorn --paste`` call through the
``use = egg:{{ cookiecutter.project_name }}`` line of the ``.ini`` files.
"""

import cliquet
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

__version__ = "0.1.0"


def main(global_config, **settings):
    """Build the WSGI application from the settings of the ``[app:main]`` section."""
    config = Configurator(settings=settings)
    # Applies the defaults and the CLIQUET_* environment overrides, builds the backends, then
    # includes the packages named by `cliquet.includes`.
    cliquet.initialize(config, __version__, project_name="{{ cookiecutter.project_name }}")
    if not config.get_settings()["cliquet.userid_hmac_secret"]:
        # Unkeyed, a user id is a plain hash of the credentials: whoever sees one can guess
        # the password offline.
        raise ConfigurationError(
            "Setting 'cliquet.userid_hmac_secret' is empty: set it, or the environment "
            "variable CLIQUET_USERID_HMAC_SECRET, to a long random string."
        )
    config.scan("{{ cookiecutter.package_name }}.views")
    return config.make_wsgi_app()
