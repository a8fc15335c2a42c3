"""Record id generators: they make ids and recognise the ones they could have made."""

from __future__ import annotations

import re
import uuid

__all__ = ["IdGenerator", "UUID4"]


class IdGenerator:
    """Base of id generators: ``__call__`` makes an id, ``match`` checks one.

    A subclass sets ``regexp`` (what its ids look like) and implements ``__call__``.
    """

    regexp = r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$"

    def __init__(self) -> None:
        self._regexp = re.compile(self.regexp)

    def __call__(self) -> str:
        raise NotImplementedError

    def match(self, record_id: str) -> bool:
        """Whether ``record_id`` is an id this generator could have produced."""
        return bool(self._regexp.match(record_id))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.regexp}>"


class UUID4(IdGenerator):
    """Random UUIDs (``6a3d...-...``), the default."""

    regexp = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"

    def __call__(self) -> str:
        return str(uuid.uuid4())
