"""Tell what to do next (``cliquet new project`` prints it itself and turns this off)."""

{% if cookiecutter._print_next_steps == "yes" %}
print(
    """
Next steps:
  cd {{ cookiecutter.project_name }}
  pip install -e '.[test]'
  python -m pytest
  pserve development.ini        # serves http://localhost:8888/v1/
"""
)
{% endif %}
