"""cliquet's Cookiecutter templates, one directory per kind (``project``, ``backend``...).

Installed as the package ``cliquet_templates`` so that ``cliquet new`` finds them with
:mod:`importlib.resources`; each directory is also a plain template (``cookiecutter
templates/project``).
"""
