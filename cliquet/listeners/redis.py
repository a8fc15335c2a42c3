"""Send committed resource changes to Redis: pushed on a list (a queue) or published.

Settings (``<prefix>`` is ``cliquet.event_listeners.<name>.``): ``url`` (required),
``listname`` (default ``cliquet.events``): ``LPUSH`` there, consumers ``BRPOP``;
or ``channel``: ``PUBLISH`` there instead; ``pool_size`` (5) and ``pool_timeout_seconds``
(30), as the Redis backends' pool settings.
Each message is the JSON of ``{"payload": ..., "impacted_records": [...]}``.
"""

from __future__ import annotations

import json
from typing import Any

from pyramid.exceptions import ConfigurationError

from cliquet.events import AfterResourceChanged
from cliquet.listeners import ListenerBase, ListenerError
from cliquet.redis_client import create_client, translate_errors
from cliquet.settings import read_int

__all__ = ["Listener", "load_from_config"]

# A listener sends one command per committed change: a few connections are plenty.
_DEFAULT_POOL_SIZE = 5
_DEFAULT_POOL_TIMEOUT_SECONDS = 30


class Listener(ListenerBase):
    def __init__(self, client: Any, *, listname: str | None = None, channel: str | None = None):
        self.client = client
        self.listname = listname
        self.channel = channel

    def __repr__(self) -> str:
        target = f"channel {self.channel}" if self.channel else f"list {self.listname}"
        return f"<cliquet.listeners.redis.Listener {target}>"

    def __call__(self, event: AfterResourceChanged) -> None:
        message = json.dumps(
            {"payload": event.payload, "impacted_records": event.impacted_records},
            default=str,
        )
        with translate_errors(ListenerError):
            if self.channel:
                self.client.publish(self.channel, message)
            else:
                self.client.lpush(self.listname, message)


def load_from_config(config: Any, prefix: str) -> Listener:
    """Build the listener of the settings under ``prefix`` (``cliquet.event_listeners.<name>.``).

    Connects lazily.

    :raises pyramid.exceptions.ConfigurationError: naming the setting that is missing or
        malformed (the URL, a pool setting).
    """
    settings = config.get_settings()
    url_key = prefix + "url"
    url = str(settings.get(url_key) or "").strip()
    if not url:
        raise ConfigurationError(f"Setting {url_key!r} is empty; expected redis://...")
    # Read before the URL is checked, so that each error names its own setting.
    pool_size = read_int(settings, prefix + "pool_size", _DEFAULT_POOL_SIZE, minimum=1)
    pool_timeout_seconds = read_int(
        settings, prefix + "pool_timeout_seconds", _DEFAULT_POOL_TIMEOUT_SECONDS, minimum=1
    )
    try:
        client = create_client(url, pool_size=pool_size, pool_timeout_seconds=pool_timeout_seconds)
    except ValueError as e:
        raise ConfigurationError(f"Invalid value for setting {url_key!r}: {e}") from None
    channel = settings.get(prefix + "channel") or None
    listname = settings.get(prefix + "listname") or "cliquet.events"
    return Listener(client, listname=None if channel else listname, channel=channel)
