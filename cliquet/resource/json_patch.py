"""JSON Patch (RFC 6902) over JSON Pointers (RFC 6901): what ``PATCH`` does with
``Content-Type: application/json-patch+json``.

A patch is a list of operations applied in order to a copy of the document; one that does not
apply (a failed ``test``, a missing path...) fails the whole patch and the document is left
as it was.

A patch costs no more than the JSON it carries: the values its ``copy`` operations take
(and its ``move`` operations, when they nest a value deeper) add up to at most as many JSON
values as the document and the patch hold together (20 ``copy`` operations each doubling a
value would otherwise build gigabytes), and no operation nests a value deeper than a request
body may be (:data:`cliquet.json_body.MAX_DEPTH`). ``test`` compares JSON values: ``true``
is not ``1``.
"""

from __future__ import annotations

import copy
from typing import Any

from cliquet.json_body import MAX_DEPTH

__all__ = ["JSONPatchError", "apply_json_patch"]

_MISSING = object()


class JSONPatchError(ValueError):
    """A patch that is malformed or does not apply; ``index`` is the operation's (or None)."""

    def __init__(self, message: str, *, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


def _size(value: Any) -> tuple[int, int]:
    """How many JSON values ``value`` holds (itself included), and how deeply it nests
    arrays and objects (0 for a scalar)."""
    count, deepest = 0, 0
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth + 1)
        stack.extend((child, depth + 1) for child in children)
    return count, deepest


def _json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values (RFC 6902 section 4.6): booleans are not numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and a.keys() == b.keys()
            and all(_json_equal(v, b[k]) for k, v in a.items())
        )
    if isinstance(a, list):
        return (
            isinstance(b, list)
            and len(a) == len(b)
            and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, int | float):
        return isinstance(b, int | float) and a == b
    return type(a) is type(b) and a == b


class _Budget:
    """What a patch may still copy or move (JSON values), and how deep it may nest."""

    def __init__(self, allowance: int) -> None:
        self.allowance = allowance

    def place(self, path: list[str], value: Any, *, taken: bool) -> None:
        count, depth = _size(value)
        if taken:
            self.allowance -= count
            if self.allowance < 0:
                raise ValueError(
                    "the patch copies or moves more than the document and the patch hold"
                )
        if len(path) + depth > MAX_DEPTH:
            raise ValueError(f"the value would be nested deeper than {MAX_DEPTH} levels")


def _tokens(pointer: Any) -> list[str]:
    if not isinstance(pointer, str) or (pointer and not pointer.startswith("/")):
        raise ValueError(f"{pointer!r} is not a JSON pointer")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]


def _index(container: list[Any], token: str, *, appending: bool) -> int:
    if appending and token == "-":
        return len(container)
    if not token.isdigit() or (token != "0" and token.startswith("0")):
        raise ValueError(f"{token!r} is not an array index")
    index = int(token)
    if index > len(container) or (index == len(container) and not appending):
        raise ValueError(f"index {index} is out of range")
    return index


def _parent(document: Any, tokens: list[str]) -> Any:
    target = document
    for token in tokens[:-1]:
        if isinstance(target, dict) and token in target:
            target = target[token]
        elif isinstance(target, list):
            target = target[_index(target, token, appending=False)]
        else:
            raise ValueError(f"/{'/'.join(tokens)} does not exist")
    return target


def _get(document: Any, tokens: list[str]) -> Any:
    if not tokens:
        return document
    parent, last = _parent(document, tokens), tokens[-1]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, appending=False)]
    raise ValueError(f"/{'/'.join(tokens)} does not exist")


def _add(document: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    parent, last = _parent(document, tokens), tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, appending=True), value)
    else:
        raise ValueError(f"/{'/'.join(tokens[:-1])} holds neither an object nor an array")
    return document


def _remove(document: Any, tokens: list[str]) -> Any:
    if not tokens:
        raise ValueError("the whole document cannot be removed")
    _get(document, tokens)  # it must exist
    parent, last = _parent(document, tokens), tokens[-1]
    if isinstance(parent, dict):
        del parent[last]
    else:
        del parent[_index(parent, last, appending=False)]
    return document


def _member(operation: dict[str, Any], name: str) -> Any:
    value = operation.get(name, _MISSING)
    if value is _MISSING:
        raise ValueError(f"{operation.get('op')!r} needs {name!r}")
    return value


def _apply(document: Any, operation: dict[str, Any], budget: _Budget) -> Any:
    op = operation.get("op")
    path = _tokens(_member(operation, "path"))
    if op in ("add", "replace"):
        value = _member(operation, "value")
        budget.place(path, value, taken=False)
        if op == "replace":
            _get(document, path)
            document = _remove(document, path) if path else document
        return _add(document, path, copy.deepcopy(value))
    if op == "remove":
        return _remove(document, path)
    if op in ("move", "copy"):
        source = _tokens(_member(operation, "from"))
        value = _get(document, source)
        if op == "copy":
            budget.place(path, value, taken=True)
            return _add(document, path, copy.deepcopy(value))
        if len(path) > len(source):
            # Only a value moved deeper can nest too deep; measuring it is paid for.
            budget.place(path, value, taken=True)
        if path[: len(source)] == source and path != source:
            raise ValueError("a value cannot be moved into itself")
        return _add(_remove(document, source), path, value)
    if op == "test":
        if not _json_equal(_get(document, path), _member(operation, "value")):
            raise ValueError(f"{operation['path']!r} does not hold the tested value")
        return document
    raise ValueError(f"unknown operation {op!r}")


def apply_json_patch(document: Any, operations: Any) -> Any:
    """The result of applying ``operations`` to a copy of ``document``.

    :param document: any JSON value (left unchanged).
    :param operations: the patch, as parsed from the request body.
    :returns: the patched copy.
    :raises JSONPatchError: the patch is not a list of operations, or one does not apply.
    """
    if not isinstance(operations, list):
        raise JSONPatchError("A JSON Patch is a list of operations.")
    result = copy.deepcopy(document)
    budget = _Budget(_size(document)[0] + _size(operations)[0])
    for index, operation in enumerate(operations):
        if not isinstance(operation, dict):
            raise JSONPatchError("An operation is an object.", index=index)
        try:
            result = _apply(result, operation, budget)
        except ValueError as e:
            raise JSONPatchError(str(e), index=index) from None
    return result
