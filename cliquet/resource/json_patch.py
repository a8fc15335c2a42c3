"""JSON Patch (RFC 6902) over JSON Pointers (RFC 6901): what ``PATCH`` does with
``Content-Type: application/json-patch+json``.

The operations are the ``jsonpatch`` library's; this module only guards them. A patch is a
list of operations applied in order to a copy of the document; one that does not apply fails
the whole patch and the document is left as it was. Two kinds of failure are told apart, as
RFC 5789 (section 2.2) tells a server to: a malformed patch (:class:`JSONPatchError`: not a
list of operations, an unknown ``op``, a missing member, a path that is not a pointer) and a
patch that does not apply to the document as it is (:class:`JSONPatchConflict`: a failed
``test``, a path that does not exist).

The guards:

* A patch costs no more than the JSON it carries: the values its ``copy`` operations take
  (and its ``move`` operations, when they nest a value deeper) add up to at most as many JSON
  values as the document and the patch hold together (20 ``copy`` operations each doubling a
  value would otherwise build gigabytes), and no operation nests a value deeper than a
  request body may be (:data:`cliquet.json_body.MAX_DEPTH`).
* ``test`` compares JSON values: ``true`` is not ``1`` (the library compares Python values).
* A pointer goes into objects and arrays only, not into a string (``/title/0``).
* Whatever the patch holds, the caller gets one of the two errors above, never another
  exception.

The members of the objects named by ``sets_under`` are sets, addressed by value as Kinto's
clients address principals: ``{"op": "add", "path": "/permissions/read/fxa:alice"}`` adds
``fxa:alice`` to ``/permissions/read`` (once, its ``value`` unused), ``remove`` takes it out,
``test`` checks it is there, ``replace`` needs it there. A member spelt as an array index or
``-`` is the array's, as RFC 6902 has it.
"""

from __future__ import annotations

import copy
from collections.abc import Collection
from types import MappingProxyType
from typing import Any

import jsonpatch
from jsonpointer import JsonPointer, JsonPointerException

from cliquet.json_body import MAX_DEPTH

__all__ = ["JSONPatchError", "JSONPatchConflict", "apply_json_patch"]

# The members each operation needs, besides "op".
_MEMBERS = {
    "add": ("path", "value"),
    "remove": ("path",),
    "replace": ("path", "value"),
    "move": ("from", "path"),
    "copy": ("from", "path"),
    "test": ("path", "value"),
}


class JSONPatchError(ValueError):
    """A malformed patch; ``index`` is the faulty operation's (None for the whole patch)."""

    def __init__(self, message: str, *, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


class JSONPatchConflict(JSONPatchError):
    """A well-formed patch that does not apply to the document as it is."""


class _Pointer(JsonPointer):
    """A pointer that goes into objects and arrays only (``jsonpointer`` indexes strings)."""

    def walk(self, doc: Any, part: Any) -> Any:
        _container(doc)
        return super().walk(doc, part)

    def to_last(self, doc: Any) -> Any:
        parent, last = super().to_last(doc)
        if last is not None:
            _container(parent)
        return parent, last


def _container(doc: Any) -> None:
    if not isinstance(doc, dict | list):
        raise JsonPointerException("neither an object nor an array")


class _Test(jsonpatch.TestOperation):
    """``test`` comparing JSON values (RFC 6902 section 4.6)."""

    def apply(self, obj: Any) -> Any:
        try:
            value = self.pointer.resolve(obj)
        except JsonPointerException:
            raise jsonpatch.JsonPatchTestFailed("no value there") from None
        if not _json_equal(value, self.operation["value"]):
            raise jsonpatch.JsonPatchTestFailed("the value there differs")
        return obj


class _Patch(jsonpatch.JsonPatch):
    operations = MappingProxyType({**jsonpatch.JsonPatch.operations, "test": _Test})


def _json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values: booleans are not numbers, ``1`` is ``1.0``."""
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


class _Budget:
    """What a patch may still copy or move (JSON values), and how deep it may nest."""

    def __init__(self, allowance: int) -> None:
        self.allowance = allowance

    def place(self, path: list[str], value: Any, *, taken: bool) -> None:
        count, depth = _size(value)
        if taken:
            self.allowance -= count
            if self.allowance < 0:
                raise JSONPatchError(
                    "the patch copies or moves more than the document and the patch hold"
                )
        if len(path) + depth > MAX_DEPTH:
            raise JSONPatchError(f"the value would be nested deeper than {MAX_DEPTH} levels")


def _pointer(operation: dict[str, Any], member: str) -> list[str]:
    value = operation[member]
    if not isinstance(value, str):
        raise JSONPatchError(f"{member!r} must be a JSON pointer (a string)")
    try:
        return _Pointer(value).parts
    except JsonPointerException:
        raise JSONPatchError(f"{member!r} is not a JSON pointer: {value!r}") from None


def _is_member(tokens: list[str], sets_under: Collection[tuple[str, ...]]) -> bool:
    """Whether ``tokens`` name a member of a set by value (not by index or ``-``)."""
    if len(tokens) < 2 or tuple(tokens[:-2]) not in sets_under:
        return False
    last = tokens[-1]
    return last != "-" and not JsonPointer._RE_ARRAY_INDEX.fullmatch(last)


def _check(operation: Any, sets_under: Collection[tuple[str, ...]]) -> bool:
    """Refuse a malformed operation; whether it addresses a member of a set."""
    if not isinstance(operation, dict):
        raise JSONPatchError("an operation is an object")
    op = operation.get("op")
    if not isinstance(op, str) or op not in _MEMBERS:
        raise JSONPatchError(f"unknown operation {op!r}: one of {', '.join(_MEMBERS)}")
    if "path" not in operation:
        raise JSONPatchError(f"{op!r} needs 'path'")
    member = _is_member(_pointer(operation, "path"), sets_under)
    if op in ("move", "copy"):
        if "from" not in operation:
            raise JSONPatchError(f"{op!r} needs 'from'")
        if member or _is_member(_pointer(operation, "from"), sets_under):
            raise JSONPatchError("a member of a set is added, removed or tested, not moved")
    for name in _MEMBERS[op]:
        if name not in operation and not member:
            raise JSONPatchError(f"{op!r} needs {name!r}")
    return member


def _apply_to_member(document: Any, operation: dict[str, Any], tokens: list[str]) -> None:
    """Add, remove, test or replace ``tokens[-1]`` in the set ``tokens[:-1]``."""
    op, value = operation["op"], tokens[-1]
    parent, name = _Pointer.from_parts(tokens[:-1]).to_last(document)
    if op == "add" and isinstance(parent, dict) and name not in parent:
        parent[name] = []
    members = _Pointer.from_parts(tokens[:-1]).resolve(document)
    if not isinstance(members, list):
        raise JsonPointerException("not an array")
    if op == "add":
        if value not in members:
            members.append(value)
    elif value not in members:
        raise jsonpatch.JsonPatchConflict("not in the set")
    elif op == "remove":
        members.remove(value)


def _apply(
    document: Any,
    operation: dict[str, Any],
    budget: _Budget,
    sets_under: Collection[tuple[str, ...]],
) -> Any:
    member = _check(operation, sets_under)
    op, path = operation["op"], _pointer(operation, "path")
    try:
        if member:
            _apply_to_member(document, operation, path)
            return document
        if op in ("add", "replace"):
            budget.place(path, operation["value"], taken=False)
        elif op in ("move", "copy"):
            source = _pointer(operation, "from")
            if op == "move" and path[: len(source)] == source and path != source:
                raise JSONPatchError("a value cannot be moved into itself")
            if op == "copy" or len(path) > len(source):
                # Only a value moved deeper can nest too deep; measuring it is paid for.
                budget.place(path, _Pointer.from_parts(source).resolve(document), taken=True)
        return _Patch([operation], pointer_cls=_Pointer).apply(document, in_place=True)
    except jsonpatch.InvalidJsonPatch as e:
        raise JSONPatchError(str(e)) from None
    except (jsonpatch.JsonPatchException, JsonPointerException, LookupError, TypeError):
        # What jsonpatch says quotes the document: the path is what the client needs.
        raise JSONPatchConflict(_failure(operation)) from None


def _failure(operation: dict[str, Any]) -> str:
    op, path = operation["op"], operation["path"] or '""'
    if op == "test":
        return f"test {path}: the record does not hold the tested value"
    if op in ("move", "copy"):
        source = operation["from"] or '""'
        path = f"from {source} to {path}"
    return f"{op} {path}: no such location in the record as it is"


def apply_json_patch(document: Any, operations: Any, *, sets_under: Collection[str] = ()) -> Any:
    """The result of applying ``operations`` to a copy of ``document``.

    :param document: any JSON value (left unchanged).
    :param operations: the patch, as parsed from the request body.
    :param sets_under: JSON pointers of objects whose members are arrays used as sets
        (``/permissions``): see the module.
    :returns: the patched copy.
    :raises JSONPatchConflict: the patch does not apply to ``document`` as it is.
    :raises JSONPatchError: the patch is malformed, or over what it may cost.
    """
    if not isinstance(operations, list):
        raise JSONPatchError("A JSON Patch is a list of operations.")
    containers = {tuple(_Pointer(pointer).parts) for pointer in sets_under}
    result = copy.deepcopy(document)
    budget = _Budget(_size(document)[0] + _size(operations)[0])
    for index, operation in enumerate(operations):
        try:
            result = _apply(result, operation, budget, containers)
        except JSONPatchError as e:
            raise type(e)(str(e), index=index) from None
    return result
