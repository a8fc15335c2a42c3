"""{{ cookiecutter.description }}

The backend is the module :mod:`{{ cookiecutter.package_name }}.{{ cookiecutter.kind }}`;
a service enables it with::

    cliquet.{{ cookiecutter.kind }}_backend = {{ cookiecutter.package_name }}.{{ cookiecutter.kind }}
"""

__version__ = "0.1.0.dev0"
