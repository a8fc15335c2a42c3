"""Conditional requests: ``If-Match`` and ``If-None-Match`` read and decided as RFC 9110 says.

The service's entity tags are its timestamps, quoted (``"1796123022000"``). Either header is
``*`` or a comma-separated list of entity tags, each strong (``"123"``) or weak (``W/"123"``,
as a compressing proxy rewrites them). ``If-Match`` compares strongly (a weak tag never
matches), ``If-None-Match`` weakly (section 8.8.3.2).

A header that cannot name one of the service's tags (``"*"`` quoted, ``abc``, an unterminated
quote, an empty list) is refused, 400 errno 107 naming it, before any record is read: a
client's mistake must not pass for a failed precondition, nor depend on whether the record
exists. WebOb's parser (``request.if_match``) cannot tell: it reads ``abc`` as a tag and
drops what it does not understand.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass

from cliquet.errors import raise_invalid

__all__ = ["EntityTags", "Outcome", "Preconditions", "read_preconditions"]

_HEADERS = ("If-Match", "If-None-Match")

# One list element (RFC 9110 section 8.8.3): an optional weak prefix (case-sensitive) and a
# quoted opaque tag, which this service only ever makes of digits.
_ENTITY_TAG = re.compile(r'(W/)?"([0-9]+)"')
# Optional white space around list elements (section 5.6.1).
_OWS = " \t"


class Outcome(enum.Enum):
    """What the preconditions make of a request: go on, answer 304, or answer 412."""

    PROCEED = "proceed"
    NOT_MODIFIED = "not modified"
    FAILED = "failed"


@dataclass(frozen=True)
class EntityTags:
    """One header's value: ``*`` (``any``) or its tags, as ``(weak, opaque)`` pairs."""

    any: bool = False
    tags: tuple[tuple[bool, str], ...] = ()

    def matches(self, timestamp: int | None, *, weak: bool) -> bool:
        """Whether the header names ``timestamp``'s tag (None: there is no current one).

        Tags compare as text: ``"0123"`` is not ``"123"`` (a strong comparison is exact).
        """
        if timestamp is None:
            return False
        if self.any:
            return True
        opaque = str(timestamp)
        return any(tag == opaque and (weak or not is_weak) for is_weak, tag in self.tags)


def _parse(value: str) -> EntityTags | None:
    """The header's value, or None when it is malformed (empty lists included)."""
    value = value.strip(_OWS)
    if value == "*":
        return EntityTags(any=True)
    tags = []
    # Our tags hold no comma: splitting first is exact. Empty elements are ignored (5.6.1).
    for element in value.split(","):
        element = element.strip(_OWS)
        if not element:
            continue
        match = _ENTITY_TAG.fullmatch(element)
        if match is None:
            return None
        tags.append((match.group(1) is not None, match.group(2)))
    return EntityTags(tags=tuple(tags)) if tags else None


@dataclass(frozen=True)
class Preconditions:
    """A request's ``If-Match`` and ``If-None-Match`` (None: absent)."""

    if_match: EntityTags | None = None
    if_none_match: EntityTags | None = None

    def evaluate(self, timestamp: int | None, *, safe: bool) -> Outcome:
        """Decide for a target whose current tag is ``timestamp`` (None: it does not exist).

        In the order of RFC 9110 section 13.2.2: ``If-Match`` first (412 unless it names the
        current tag, or is ``*`` and the target exists), then ``If-None-Match`` (if it names
        the current tag, or is ``*`` and the target exists: 304 on a ``safe`` GET or HEAD,
        412 otherwise).
        """
        if self.if_match is not None and not self.if_match.matches(timestamp, weak=False):
            return Outcome.FAILED
        if self.if_none_match is not None and self.if_none_match.matches(timestamp, weak=True):
            return Outcome.NOT_MODIFIED if safe else Outcome.FAILED
        return Outcome.PROCEED


def read_preconditions(headers: Mapping[str, str]) -> Preconditions:
    """The request's preconditions.

    :raises pyramid.httpexceptions.HTTPBadRequest: a header is malformed (errno 107,
        ``details[0]`` names it).
    """
    parsed: dict[str, EntityTags | None] = {}
    for header in _HEADERS:
        value = headers.get(header)
        if value is None:
            parsed[header] = None
            continue
        tags = _parse(value)
        if tags is None:
            raise_invalid(
                location="header",
                name=header,
                description='Must be *, or entity tags such as "<timestamp>" or W/"<timestamp>".',
            )
        parsed[header] = tags
    return Preconditions(if_match=parsed["If-Match"], if_none_match=parsed["If-None-Match"])
