"""The one errno table and the one way to build an error response.

Every error a client sees is JSON of the same shape, whatever layer raised it::

    {"code": 412, "errno": 114, "error": "Precondition Failed",
     "message": "...", "info": "...", "details": {...}}

Errnos are appended to :class:`ERRORS`, never renumbered: clients switch on them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from enum import IntEnum
from typing import Any, NoReturn, TypedDict

from pyramid import httpexceptions

__all__ = [
    "ERRORS",
    "Detail",
    "http_error",
    "json_error_response",
    "errno_for_status",
    "invalid_request",
    "raise_invalid",
    "field_name",
    "describe",
    "colander_details",
]


class ERRORS(IntEnum):
    """The errno table (see PROTOCOL.md).

    ========================  ======  =====  =============================================
    name                      status  errno  meaning
    ========================  ======  =====  =============================================
    MISSING_AUTH_TOKEN        401     104    credentials required and absent
    INVALID_AUTH_TOKEN        401     105    credentials present but invalid
    BADJSON                   400     106    body is not valid JSON
    INVALID_PARAMETERS        400     107    invalid querystring, header, path or field
    MISSING_PARAMETERS        400     108    a required field or header is missing
    INVALID_POSTED_DATA       400     109    the body has the wrong shape
    INVALID_RESOURCE_ID       404     110    the record does not exist
    MISSING_RESOURCE          404     111    no such URL
    REQUEST_TOO_LARGE         413     113    body over the configured limit
    MODIFIED_MEANWHILE        412     114    a precondition (If-Match...) failed
    METHOD_NOT_ALLOWED        405     115    method not allowed here (or read-only)
    CLIENT_REACHED_CAPACITY   429     117    too many requests
    FORBIDDEN                 403     121    authenticated but not allowed
    CONSTRAINT_VIOLATED       409     122    conflicts with the record: a unique field, or
                                             a JSON Patch that does not apply to it
    BACKEND                   503     201    a backend failed
    SERVICE_DEPRECATED        410     202    past end of service
    UNDEFINED                 500     999    anything unexpected
    ========================  ======  =====  =============================================
    """

    MISSING_AUTH_TOKEN = 104
    INVALID_AUTH_TOKEN = 105
    BADJSON = 106
    INVALID_PARAMETERS = 107
    MISSING_PARAMETERS = 108
    INVALID_POSTED_DATA = 109
    INVALID_RESOURCE_ID = 110
    MISSING_RESOURCE = 111
    REQUEST_TOO_LARGE = 113
    MODIFIED_MEANWHILE = 114
    METHOD_NOT_ALLOWED = 115
    CLIENT_REACHED_CAPACITY = 117
    FORBIDDEN = 121
    CONSTRAINT_VIOLATED = 122
    BACKEND = 201
    SERVICE_DEPRECATED = 202
    UNDEFINED = 999


# The errno an HTTP status gets when the code that raised it did not say.
_ERRNO_BY_STATUS = {
    400: ERRORS.INVALID_PARAMETERS,
    401: ERRORS.MISSING_AUTH_TOKEN,
    403: ERRORS.FORBIDDEN,
    404: ERRORS.MISSING_RESOURCE,
    405: ERRORS.METHOD_NOT_ALLOWED,
    406: ERRORS.INVALID_PARAMETERS,
    409: ERRORS.CONSTRAINT_VIOLATED,
    410: ERRORS.SERVICE_DEPRECATED,
    411: ERRORS.MISSING_PARAMETERS,
    412: ERRORS.MODIFIED_MEANWHILE,
    413: ERRORS.REQUEST_TOO_LARGE,
    415: ERRORS.INVALID_PARAMETERS,
    429: ERRORS.CLIENT_REACHED_CAPACITY,
    503: ERRORS.BACKEND,
}


def errno_for_status(status: int) -> ERRORS:
    """The errno that goes with ``status`` when nothing more precise is known."""
    if status in _ERRNO_BY_STATUS:
        return _ERRNO_BY_STATUS[status]
    return ERRORS.INVALID_PARAMETERS if 400 <= status < 500 else ERRORS.UNDEFINED


def _error_body(
    code: int,
    errno: int,
    error: str,
    message: str | None,
    info: str | None,
    details: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "errno": int(errno), "error": error}
    if message is not None:
        body["message"] = message
    if info is not None:
        body["info"] = info
    if details is not None:
        body["details"] = details
    return body


def http_error(
    httpexception: httpexceptions.HTTPException,
    *,
    errno: int | None = None,
    code: int | None = None,
    error: str | None = None,
    message: str | None = None,
    info: str | None = None,
    details: Any = None,
) -> httpexceptions.HTTPException:
    """Turn a Pyramid HTTP exception into cliquet's JSON error, ready to raise or return.

    Headers already set on ``httpexception`` (``WWW-Authenticate``, ``Allow``...) are kept.

    :param httpexception: an instance such as ``HTTPNotFound()``.
    :param errno: one of :class:`ERRORS`; guessed from the status when omitted.
    :param code: the ``code`` field; the response status by default.
    :param error: the ``error`` field; the status text by default.
    :param message: a human-readable explanation.
    :param info: a URL with more information.
    :param details: anything JSON-serializable (validation errors, the existing record...).
    :returns: the same exception, with a JSON body.
    """
    status = httpexception.code or 500
    if errno is None:
        errno = errno_for_status(status)
    body = _error_body(
        code or status,
        errno,
        error or httpexception.title,
        message,
        info,
        details,
    )
    httpexception.content_type = "application/json"
    httpexception.charset = "utf-8"
    httpexception.body = json.dumps(body).encode("utf-8")
    # Tell the exception views that this one is already in our format.
    httpexception.cliquet_error = True  # type: ignore[attr-defined]
    return httpexception


def json_error_response(status: int, **kwargs: Any) -> httpexceptions.HTTPException:
    """Build the JSON error response for an HTTP ``status`` (see :func:`http_error`)."""
    exc_class = httpexceptions.status_map.get(status, httpexceptions.HTTPInternalServerError)
    return http_error(exc_class(), **kwargs)


class Detail(TypedDict):
    """One faulty part of a request: ``name`` is its dotted path from the root of its
    ``location`` (``data.tags.0`` in ``body``, ``_since`` in ``querystring``), or None when
    the whole location is at fault."""

    location: str
    name: str | None
    description: str


def field_name(*parts: str | int | None) -> str | None:
    """The dotted name of a value: ``field_name("data", "tags", 0)`` is ``data.tags.0``."""
    return ".".join(str(p) for p in parts if p is not None and p != "") or None


def invalid_request(
    details: Sequence[Detail],
    *,
    errno: int = ERRORS.INVALID_PARAMETERS,
    httpexception: httpexceptions.HTTPException | None = None,
) -> httpexceptions.HTTPException:
    """The error naming each faulty part of the request in ``details`` (a 400 unless
    ``httpexception`` says otherwise); its message is the first one's, in words.

    Every error about what a client sent is built here, so that all name their values the
    same way (see :class:`Detail`).
    """
    first = details[0]
    message = first["description"]
    if first["name"]:
        message = f"{first['name']} in {first['location']}: {message}"
    return http_error(
        httpexception if httpexception is not None else httpexceptions.HTTPBadRequest(),
        errno=errno,
        message=message,
        details=[dict(d) for d in details],
    )


def raise_invalid(
    *,
    location: str = "body",
    name: str | None = None,
    description: str,
    errno: int = ERRORS.INVALID_PARAMETERS,
) -> NoReturn:
    """Raise a 400 that names the faulty part of the request in ``details``.

    :raises pyramid.httpexceptions.HTTPBadRequest: always.
    """
    detail = Detail(location=location, name=name, description=description)
    raise invalid_request([detail], errno=errno)


# Colander's messages about a value of the wrong type quote the value and its own internals
# ("5 is not a string: {'title': ''}"): they are said in words instead. Others (ranges,
# lengths, choices) are readable as they are.
_TYPE_MESSAGES = {
    "${val} is not a string: ${err}": "Must be a string.",
    '"${val}" is not a string': "Must be a string.",
    "${val} is not a string": "Must be a string.",
    '"${val}" is not a number': "Must be a number.",
    '"${val}" is not a mapping type: ${err}': "Must be an object.",
    '"${val}" is not iterable': "Must be an array.",
    "${cstruct} is not iterable": "Must be an array.",
    '"${val}" is neither in (${false_choices}) nor in (${true_choices})': "Must be a boolean.",
    'Unrecognized keys in mapping: "${val}"': "Holds unknown fields.",
}
# Each template as a pattern of the text Cornice interpolated: any text where "${...}" was.
_TYPE_PATTERNS = [
    (re.compile("(?s:.*)".join(map(re.escape, re.split(r"\$\{\w+\}", template)))), words)
    for template, words in _TYPE_MESSAGES.items()
]


def describe(message: Any) -> str:
    """A colander message (a translation string, or the text Cornice made of one) in words."""
    text = message.interpolate() if hasattr(message, "interpolate") else str(message)
    for pattern, words in _TYPE_PATTERNS:
        if pattern.fullmatch(text):
            return words
    return text


def colander_details(
    error: Any, *, location: str = "body", prefix: str | None = None
) -> list[Detail]:
    """What a ``colander.Invalid`` says, one :class:`Detail` per faulty value, named from the
    root of ``location`` (``prefix`` is where the schema's value sits: ``data``)."""
    return [
        Detail(location=location, name=field_name(prefix, name), description=text)
        for name, text in error.asdict(translate=describe).items()
    ]
