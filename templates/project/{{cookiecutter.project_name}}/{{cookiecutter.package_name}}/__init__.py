"""{{ cookiecutter.project_name }}: a REST microservice built on cliquet.

``main`` is the application factory that ``pserve`` and ``gunicorn --paste`` call through the
``use = egg:{{ cookiecutter.project_name }}`` line of the ``.ini`` files.
"""

import cliquet
from cliquet.settings import SettingError
from cliquet.startup import app_factory
from pyramid.config import Configurator

__version__ = "0.1.0"


# Served from an .ini, a missing or wrong setting stops start-up with one line naming it.
@app_factory
def main(global_config, **settings):
    """Build the WSGI application from the settings of the ``[app:main]`` section."""
    config = Configurator(settings=settings)
    # Applies the defaults and the CLIQUET_* environment overrides, builds the backends, then
    # includes the packages named by `cliquet.includes`.
    cliquet.initialize(config, __version__, project_name="{{ cookiecutter.project_name }}")
    if not config.get_settings()["cliquet.userid_hmac_secret"]:
        # Unkeyed, a user id is a plain hash of the credentials: whoever sees one can guess
        # the password offline.
        raise SettingError(
            "cliquet.userid_hmac_secret", "is empty", expected="a long random string"
        )
    config.scan("{{ cookiecutter.package_name }}.views")
    return config.make_wsgi_app()
