"""Keep only the chosen kind's module and tests; the template holds all three."""

import os

KIND = "{{ cookiecutter.kind }}"
PACKAGE = "{{ cookiecutter.package_name }}"

for other in ("cache", "storage", "permission"):
    if other != KIND:
        os.remove(os.path.join(PACKAGE, f"{other}.py"))
        os.remove(os.path.join("tests", f"test_{other}.py"))
