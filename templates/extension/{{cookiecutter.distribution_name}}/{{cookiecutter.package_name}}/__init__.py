"""{{ cookiecutter.description }}

Include it in a cliquet service's ``.ini`` (or with ``config.include()`` in its ``main``)::

    cliquet.includes = {{ cookiecutter.package_name }}

It then

- serves ``GET /v1/{{ cookiecutter.__slug }}``,
  answering the greeting setting and the number of records changed;
- counts changes with a subscriber of :class:`cliquet.events.AfterResourceChanged`;
- advertises itself in the ``capabilities`` of the hello view (``GET /v1/``).
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import cliquet
from cliquet.events import AfterResourceChanged
from pyramid.config import Configurator
from pyramid.security import NO_PERMISSION_REQUIRED

__version__ = "0.1.0.dev0"

#: The settings of this extension with their defaults (a default's type is the setting's
#: type). Each may be set in the ``.ini``; an environment variable named after the setting,
#: upper-cased with ``.`` as ``_``, wins over both:
#: ``{{ cookiecutter.package_name|upper }}_GREETING=hi`` overrides the greeting.
DEFAULT_SETTINGS: dict[str, Any] = {
    "{{ cookiecutter.package_name }}.greeting": "hello",
}


class ChangeCounter:
    """Subscriber counting the records changed, by action (create, update, delete).

    It listens to :class:`~cliquet.events.AfterResourceChanged`, notified once the writes are
    committed: side effects belong there. Each process counts its own changes; something that
    must be right across workers would keep its state in a backend (``registry.cache``...).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def __call__(self, event: AfterResourceChanged) -> None:
        with self._lock:
            self._counts[event.payload["action"]] += len(event.impacted_records)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


def includeme(config: Configurator) -> None:
    """Add the settings, the subscriber, the service and the capability to a service."""
    cliquet.load_default_settings(config, DEFAULT_SETTINGS)
    # Read once, at start-up: views get values, never parse settings per request.
    greeting = config.get_settings()["{{ cookiecutter.package_name }}.greeting"]

    counter = ChangeCounter()
    config.registry["{{ cookiecutter.package_name }}.changes"] = counter
    config.add_subscriber(counter, AfterResourceChanged)

    def status(request: Any) -> dict[str, Any]:
        return {"greeting": greeting, "changes": counter.counts()}

    # cliquet.make_service: a Cornice service with the service's CORS settings, under /v1.
    service = cliquet.make_service(
        config,
        "{{ cookiecutter.package_name }}",
        "/{{ cookiecutter.__slug }}",
        description="Status of {{ cookiecutter.package_name }}",
    )
    service.add_view("GET", status, permission=NO_PERMISSION_REQUIRED)
    config.add_cornice_service(service)

    config.add_api_capability(
        "{{ cookiecutter.__slug }}",
        description={{ cookiecutter.description|tojson }},
        url="https://pypi.org/project/{{ cookiecutter.distribution_name }}/",
        version=__version__,
    )
