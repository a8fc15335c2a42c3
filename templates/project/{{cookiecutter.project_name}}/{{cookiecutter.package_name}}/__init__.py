"""{{ cookiecutter.project_name }}: a REST microservice built on cliquet.

``main`` is the application factory that ``pserve`` and ``gunicorn --paste`` call through the
``use = egg:{{ cookiecutter.project_name }}`` line of the ``.ini`` files.
"""

import cliquet
from cliquet.startup import app_factory
from pyramid.config import Configurator

__version__ = "0.1.0"


# Served from an .ini, a missing or wrong setting stops start-up with one line naming it.
@app_factory
def main(global_config, **settings):
    """Build the WSGI application from the settings of the ``[app:main]`` section."""
    config = Configurator(settings=settings)
    # Applies the defaults and the CLIQUET_* environment overrides, builds the backends, then
    # includes the packages named by `cliquet.includes`. With basic auth, production.ini's
    # cliquet.userid_hmac_secret_required stops it on a weak secret: unkeyed, a user id is a
    # plain hash of the credentials, and whoever sees one can guess the password offline.
    cliquet.initialize(config, __version__, project_name="{{ cookiecutter.project_name }}")
    config.scan("{{ cookiecutter.package_name }}.views")
    return config.make_wsgi_app()
