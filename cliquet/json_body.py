"""The one JSON reader of what clients send: resource, batch and Cornice bodies, query values.

It reads JSON (RFC 8259) and refuses, with the dotted path of the offending value, what some
storage backend could not store or give back exactly, so that every backend stores the same
values and a record that was accepted can always be read again (the I-JSON rules, RFC 7493):

* UTF-8 only; ``NaN`` and ``Infinity`` are not JSON (Python's parser accepts them).
* Integers within the signed 64-bit range: SQLite stores larger ones as doubles, and its
  ``json_extract`` compares them as doubles.
* Other numbers are doubles: finite, not a non-zero number that would be stored as 0, and no
  more than the 17 significant digits a double keeps (else what comes back differs).
* Strings and keys are Unicode text: no lone surrogate (it cannot be encoded, in a response
  or to a database), no NUL (PostgreSQL's ``jsonb`` refuses ``\\u0000``).
* At most :data:`MAX_DEPTH` nested arrays and objects, so that nothing recursing over a
  value (validation, copies, the database's own parser) runs out of stack.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from cliquet.errors import ERRORS, raise_invalid

__all__ = [
    "MAX_DEPTH",
    "InvalidJSON",
    "loads",
    "text_problem",
    "read_body",
    "includeme",
]

#: Most nested arrays and objects in a body, the body itself included.
MAX_DEPTH = 64

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
# A double's 53-bit significand: 17 significant decimal digits tell any double apart.
_DOUBLE_DIGITS = 17
# Decimal digits of 2**63 (9223372036854775808).
_INT64_DIGITS = 19
_MANTISSA = re.compile(r"-?(\d*)(?:\.(\d*))?")


class InvalidJSON(ValueError):
    """What is wrong with a JSON text, and where.

    ``errno`` is :attr:`ERRORS.BADJSON` when the text is not JSON at all (syntax, encoding,
    ``NaN``), :attr:`ERRORS.INVALID_PARAMETERS` when it is JSON holding a value refused here.
    """

    def __init__(self, description: str, *, name: str | None = None, errno: ERRORS) -> None:
        super().__init__(f"{name}: {description}" if name else description)
        self.description = description
        self.name = name
        self.errno = errno


class _Refused:
    """What a number hook returns for a refused number: reported with its path by the walk."""

    __slots__ = ("description", "errno")

    def __init__(self, description: str, errno: ERRORS = ERRORS.INVALID_PARAMETERS) -> None:
        self.description = description
        self.errno = errno


def _parse_int(text: str) -> Any:
    # JSON has no leading zeros: more digits than 2**63 has is out of range (and is not
    # handed to int(), which refuses thousands of digits with a ValueError).
    if len(text.lstrip("-")) > _INT64_DIGITS:
        return _Refused("Integer out of the signed 64-bit range.")
    value = int(text)
    if not _INT64_MIN <= value <= _INT64_MAX:
        return _Refused("Integer out of the signed 64-bit range.")
    return value


def _parse_float(text: str) -> Any:
    value = float(text)
    if not math.isfinite(value):
        return _Refused("Number too large for a double.")
    match = _MANTISSA.match(text)
    digits = "".join(match.groups("")) if match else ""
    significant = digits.strip("0")
    if len(significant) > _DOUBLE_DIGITS:
        return _Refused(f"More than {_DOUBLE_DIGITS} significant digits: not kept by a double.")
    if value == 0 and significant:
        return _Refused("Number too small for a double (it would be stored as 0).")
    return value


def _parse_constant(text: str) -> Any:
    return _Refused(f"{text} is not JSON.", ERRORS.BADJSON)


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored as it is (None when it can)."""
    if "\x00" in text:
        return "Contains a NUL character."
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "Contains a lone surrogate (not Unicode text)."
    return None


def _name(path: list[Any]) -> str | None:
    return ".".join(str(part) for part in path) if path else None


def _check(value: Any, max_depth: int) -> None:
    """Walk ``value`` (without recursion) and raise for the first refused part."""
    stack: list[tuple[Any, list[Any], int]] = [(value, [], 1)]
    while stack:
        node, path, depth = stack.pop()
        if isinstance(node, dict):
            if depth > max_depth:
                raise InvalidJSON(
                    f"Nested deeper than {max_depth} levels.",
                    name=_name(path),
                    errno=ERRORS.INVALID_PARAMETERS,
                )
            for key, item in node.items():
                problem = text_problem(key)
                if problem:
                    raise InvalidJSON(
                        f"Invalid key: {problem}",
                        name=_name(path),
                        errno=ERRORS.INVALID_PARAMETERS,
                    )
                stack.append((item, [*path, key], depth + 1))
        elif isinstance(node, list):
            if depth > max_depth:
                raise InvalidJSON(
                    f"Nested deeper than {max_depth} levels.",
                    name=_name(path),
                    errno=ERRORS.INVALID_PARAMETERS,
                )
            stack.extend((item, [*path, i], depth + 1) for i, item in enumerate(node))
        elif isinstance(node, str):
            problem = text_problem(node)
            if problem:
                raise InvalidJSON(problem, name=_name(path), errno=ERRORS.INVALID_PARAMETERS)
        elif isinstance(node, _Refused):
            raise InvalidJSON(node.description, name=_name(path), errno=node.errno)


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """Read ``text`` (UTF-8 when bytes) as JSON holding only values every backend keeps.

    :param max_depth: most nested arrays and objects, the outermost one included.
    :raises InvalidJSON: not UTF-8, not JSON, or holding a refused value (see the module).
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            message = f"Not UTF-8 ({e.reason} at byte {e.start})."
            raise InvalidJSON(message, errno=ERRORS.BADJSON) from None
    try:
        value = json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
        )
    except RecursionError:
        message = f"Nested deeper than {max_depth} levels."
        raise InvalidJSON(message, errno=ERRORS.BADJSON) from None
    except ValueError as e:
        raise InvalidJSON(f"Invalid JSON: {e}", errno=ERRORS.BADJSON) from None
    _check(value, max_depth)
    return value


def read_body(body: bytes, *, prefix: str = "", max_depth: int = MAX_DEPTH) -> Any:
    """A request body read by :func:`loads`; 400 naming the refused value otherwise.

    :param prefix: prepended to the names of refused values (``requests.0.body``).
    :raises pyramid.httpexceptions.HTTPBadRequest: errno 106 (not JSON) or 107 (refused).
    """
    try:
        return loads(body, max_depth=max_depth)
    except InvalidJSON as e:
        name = ".".join(p for p in (prefix, e.name or "") if p) or None
        raise_invalid(location="body", name=name, description=e.description, errno=e.errno)


def _json_body(request: Any) -> Any:
    return read_body(request.body)


def includeme(config: Any) -> None:
    """Make ``request.json_body`` (Cornice's and extensions' bodies) this module's reader."""
    config.add_request_method(_json_body, "json_body", reify=True)
