"""Tests of the Cookiecutter templates, baked with pytest-cookies."""
