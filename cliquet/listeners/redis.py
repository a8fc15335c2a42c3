"""Send committed resource changes to Redis: pushed on a list (a queue) or published.

Settings (``<prefix>`` is ``cliquet.event_listeners.<name>.``): ``url`` (required),
``listname`` (default ``cliquet.events``): ``LPUSH`` there, consumers ``BRPOP``;
or ``channel``: ``PUBLISH`` there instead; ``pool_size``.
Each message is the JSON of ``{"payload": ..., "impacted_records": [...]}``.
"""

from __future__ import annotations

import json
from typing import Any

from pyramid.exceptions import ConfigurationError

from cliquet.events import AfterResourceChanged
from cliquet.listeners import ListenerBase, ListenerError
from cliquet.redis_client import create_client, translate_errors

__all__ = ["Listener", "load_from_config"]


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
    settings = config.get_settings()
    url = str(settings.get(prefix + "url") or "").strip()
    if not url:
        raise ConfigurationError(f"Setting {prefix + 'url'!r} is empty; expected redis://...")
    try:
        client = create_client(url, pool_size=int(settings.get(prefix + "pool_size") or 5))
    except ValueError as e:
        raise ConfigurationError(f"Invalid value for setting {prefix + 'url'!r}: {e}") from None
    channel = settings.get(prefix + "channel") or None
    listname = settings.get(prefix + "listname") or "cliquet.events"
    return Listener(client, listname=None if channel else listname, channel=channel)
