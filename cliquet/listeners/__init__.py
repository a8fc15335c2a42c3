"""Event listeners: where committed resource changes are sent (a queue, a channel...).

Configured by settings, one block per listener::

    cliquet.event_listeners = redis
    cliquet.event_listeners.redis.use = cliquet.listeners.redis
    cliquet.event_listeners.redis.url = redis://localhost:6379/0
    cliquet.event_listeners.redis.actions = create delete       # optional filter
    cliquet.event_listeners.redis.resources = article           # optional filter

``use`` names a module whose ``load_from_config(config, prefix)`` returns a
:class:`ListenerBase`; it receives every :class:`~cliquet.events.AfterResourceChanged` that
passes its filters, i.e. only changes that were committed.
"""

from __future__ import annotations

import abc
from typing import Any

from pyramid.exceptions import ConfigurationError

from cliquet.events import AfterResourceChanged

__all__ = ["ListenerBase", "ListenerError", "setup_listeners"]


class ListenerError(Exception):
    """A listener could not deliver an event (logged; the write stands)."""

    def __init__(self, message: str = "", *, original: BaseException | None = None) -> None:
        super().__init__(message or repr(original))
        self.original = original


class ListenerBase(abc.ABC):
    """Receives committed resource changes."""

    @abc.abstractmethod
    def __call__(self, event: AfterResourceChanged) -> None:
        """Deliver ``event`` (``payload`` and ``impacted_records``).

        :raises ListenerError: delivery failed.
        """


def _words(value: Any) -> set[str]:
    if value is None:
        return set()
    if isinstance(value, str):
        return set(value.split())
    return {str(v) for v in value}


def setup_listeners(config: Any) -> None:
    """Build the listeners of ``cliquet.event_listeners`` and subscribe them (a start-up step)."""
    settings = config.get_settings()
    names = _words(settings.get("cliquet.event_listeners"))
    for name in sorted(names):
        prefix = f"cliquet.event_listeners.{name}."
        use_key = prefix + "use"
        dotted = settings.get(use_key)
        if not dotted:
            raise ConfigurationError(
                f"Setting {use_key!r} is missing; expected the module of listener {name!r}."
            )
        try:
            module = config.maybe_dotted(dotted)
        except (ImportError, AttributeError, ValueError) as e:
            raise ConfigurationError(
                f"Invalid value for setting {use_key!r}: {dotted!r} cannot be imported ({e}); "
                "expected a module with load_from_config(config, prefix)."
            ) from None
        loader = getattr(module, "load_from_config", None)
        listener = loader(config, prefix) if callable(loader) else None
        if not isinstance(listener, ListenerBase):
            raise ConfigurationError(
                f"Invalid value for setting {use_key!r}: {dotted!r}; expected a module whose "
                "load_from_config(config, prefix) returns a cliquet.listeners.ListenerBase."
            )
        actions = _words(settings.get(prefix + "actions"))
        resources = _words(settings.get(prefix + "resources"))
        config.add_subscriber(_filtered(listener, actions, resources), AfterResourceChanged)


def _filtered(listener: ListenerBase, actions: set[str], resources: set[str]) -> Any:
    def deliver(event: AfterResourceChanged) -> None:
        payload = event.payload
        if actions and payload["action"] not in actions:
            return
        if resources and payload["resource_name"] not in resources:
            return
        listener(event)

    return deliver
