"""``POST /batch``: several requests in one, answered in order, each in its own slot.

Subrequests go through the whole stack (authentication, tweens, error views) as ordinary
requests would, with the batch's ``Authorization`` unless they bring their own. They share
the batch's unit of work, so the batch never answers 2xx for a write that was rolled back:

- when every backend can roll back (memory, SQL), a 5xx in any subrequest, or a
  ``ResourceChanged`` subscriber refusing one, rolls all of them back; the later ones are not
  run and the batch answers with that subrequest's status and errno, naming it in
  ``details`` (``rolled_back``, ``request``: index, method, path, status, body), and no
  ``responses``. A commit failing at the end answers 503 errno 201: nothing was stored;
- when one cannot (Redis), each subrequest stands alone: the batch answers 200 and each slot
  tells what happened to its request, a 2xx slot's writes stayed. A subrequest answered 503
  errno 201 (a backend failed) ends the batch: the later ones are not run, their slots answer
  503 errno 201 too, so that a backend that hangs costs one timeout, not one per subrequest;
- a 4xx subrequest (client error) is answered in its slot and undoes nothing.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

from pyramid.request import Request

from cliquet.errors import ERRORS, errno_for_status, json_error_response, raise_invalid
from cliquet.events import batch_rolled_back

__all__ = ["includeme"]

#: The methods a subrequest may have (in any case: ``get`` is ``GET``).
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_FIELDS = {"method", "path", "headers", "body"}
#: A header name: an RFC 9110 token.
HEADER_NAME = "[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_HEADER_NAME = re.compile(HEADER_NAME)
# A % that does not start a percent-encoded byte (RFC 3986 section 2.1).
_LONE_PERCENT = re.compile("%(?![0-9A-Fa-f]{2})")
# Where the batch was sent: subrequests build their absolute URLs (the hello ``url``,
# ``Next-Page``, redirects) on it, as the same request sent alone would.
_ORIGIN = ("wsgi.url_scheme", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT", "SCRIPT_NAME")


def _parse(request: Any) -> list[dict[str, Any]]:
    from cliquet.json_body import MAX_DEPTH, read_body

    max_body = request.registry.settings["cliquet.max_request_body_bytes"]
    if len(request.body) > max_body:  # the Content-Length check misses chunked bodies
        raise json_error_response(
            413, errno=ERRORS.REQUEST_TOO_LARGE, message=f"The body is over {max_body} bytes."
        )
    # The resources' reader: a subrequest body sits 3 levels down ({"requests": [{"body":).
    body = read_body(request.body or b"null", max_depth=MAX_DEPTH + 3)
    if not isinstance(body, dict) or not isinstance(body.get("requests"), list):
        raise_invalid(location="body", name="requests", description="Required: a list.")
    for unknown in sorted(set(body) - {"defaults", "requests"}):
        raise_invalid(location="body", name=unknown, description="Unknown field.")
    defaults = body.get("defaults", {})
    prefix = "/" + request.registry.route_prefix
    _check(defaults, "defaults", prefix)
    limit = request.registry.settings["cliquet.batch_max_requests"]
    if len(body["requests"]) > limit:
        raise_invalid(location="body", name="requests", description=f"More than {limit} requests.")
    subrequests = []
    for i, sub in enumerate(body["requests"]):
        _check(sub, f"requests.{i}", prefix)
        merged = {**defaults, **sub}
        if "headers" in defaults and "headers" in sub:
            merged["headers"] = {**defaults["headers"], **sub["headers"]}
        method = merged.get("method", "GET").upper()
        path = merged.get("path")
        headers = merged.get("headers", {})
        if path is None:
            raise_invalid(
                location="body", name=f"requests.{i}.path", description="Required: /a/path."
            )
        path = _prefixed(path, prefix)
        subrequests.append(
            {
                "method": method,
                "path": path,
                "headers": headers,
                **({"body": merged["body"]} if "body" in merged else {}),
            }
        )
    return subrequests


def _prefixed(path: str, prefix: str) -> str:
    """``path`` under the version prefix (``/articles`` is ``/v1/articles``)."""
    return path if path.startswith(prefix + "/") or path == prefix else prefix + path


def _check(fields: Any, name: str, prefix: str) -> None:
    """``fields`` (a request, or the defaults) as JSON says them: each of the right type.

    Refused here as a request line would be, before any subrequest runs: a method not
    known, a path not UTF-8 once percent-decoded or holding what a request line cannot, a
    header that is not a token and text on one line.
    """
    from urllib.parse import parse_qsl, unquote_to_bytes

    if not isinstance(fields, dict):
        raise_invalid(location="body", name=name, description="Must be an object.")
    if set(fields) - _FIELDS:
        raise_invalid(location="body", name=name, description="Unknown fields.")
    method = fields.get("method", "GET")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise_invalid(location="body", name=f"{name}.method", description="Unknown.")
    path = fields.get("path", "/")
    if not isinstance(path, str) or not path.startswith("/"):
        raise_invalid(location="body", name=f"{name}.path", description="Required: /a/path.")
    if _LONE_PERCENT.search(path):
        raise_invalid(
            location="body",
            name=f"{name}.path",
            description="A % must start a percent-encoded byte (%HH).",
        )
    path_only, _, query = path.partition("?")
    try:
        unquote_to_bytes(path_only).decode("utf-8")
        parse_qsl(query, keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise_invalid(
            location="body",
            name=f"{name}.path",
            description="Not valid UTF-8 once percent-decoded.",
        )
    if any(c <= " " or c > "~" for c in path):
        raise_invalid(
            location="body",
            name=f"{name}.path",
            description="Printable ASCII only, as in a request line: percent-encode.",
        )
    # Compared as routing will see it: percent-decoded (``/%62atch`` is ``/batch``).
    if unquote(_prefixed(path, prefix).split("?")[0]).rstrip("/") == prefix + "/batch":
        raise_invalid(location="body", name=f"{name}.path", description="Recursive batch.")
    headers = fields.get("headers", {})
    if not isinstance(headers, dict):
        raise_invalid(location="body", name=f"{name}.headers", description="An object.")
    for header, value in headers.items():
        if (
            not _HEADER_NAME.fullmatch(header)
            or not isinstance(value, str)
            or any((c < " " and c != "\t") or c == "\x7f" for c in value)
            or not all(c <= "\xff" for c in value)
        ):
            raise_invalid(
                location="body",
                name=f"{name}.headers.{header}",
                description="Not a valid header (a token, then Latin-1 text on one line).",
            )


def _response_body(response: Any) -> Any:
    if not response.body:
        return None
    try:
        return json.loads(response.body)
    except ValueError:
        return response.text


def _batch(request: Any) -> dict[str, Any]:
    responses: list[dict[str, Any]] = []
    subrequests = _parse(request)
    for index, sub in enumerate(subrequests):
        origin = {key: request.environ[key] for key in _ORIGIN if key in request.environ}
        subrequest = Request.blank(sub["path"], environ=origin, method=sub["method"])
        for name in ("Authorization", "User-Agent", "Accept-Language"):
            if name in request.headers:
                subrequest.headers[name] = request.headers[name]
        for name, value in sub["headers"].items():
            subrequest.headers[str(name)] = str(value)
        if "body" in sub:
            subrequest.body = json.dumps(sub["body"]).encode("utf-8")
            subrequest.content_type = subrequest.headers.get("Content-Type", "application/json")
        subrequest.environ["cliquet.parent_request"] = request
        subrequest.registry = request.registry
        response = request.invoke_subrequest(subrequest, use_tweens=True)
        slot = {
            "status": response.status_code,
            "path": sub["path"],
            "headers": dict(response.headers),
            # The views answer a HEAD as a GET; the server would drop that body.
            "body": None if sub["method"] == "HEAD" else _response_body(response),
        }
        if batch_rolled_back(request):
            raise _rolled_back(index, sub["method"], slot)
        responses.append(slot)
        if _backend_failed(slot):
            responses += [_not_run(index, slot, later) for later in subrequests[index + 1 :]]
            break
    return {"responses": responses}


def _backend_failed(slot: dict[str, Any]) -> bool:
    body = slot["body"]
    return slot["status"] == 503 and isinstance(body, dict) and body.get("errno") == ERRORS.BACKEND


def _not_run(index: int, failed: dict[str, Any], sub: dict[str, Any]) -> dict[str, Any]:
    """The slot of a subrequest left out once request ``index`` found a backend failing."""
    error = json_error_response(
        503,
        errno=ERRORS.BACKEND,
        message=f"Not run: a backend failed for request {index} of the batch.",
    )
    headers = {"Content-Type": error.content_type}
    if "Retry-After" in failed["headers"]:
        headers["Retry-After"] = failed["headers"]["Retry-After"]
    return {
        "status": 503,
        "path": sub["path"],
        "headers": headers,
        "body": json.loads(error.body),
    }


def _rolled_back(index: int, method: str, slot: dict[str, Any]) -> Exception:
    """The batch's answer once ``slot`` (request ``index``) doomed its unit of work."""
    status = slot["status"] if slot["status"] >= 400 else 500
    body = slot["body"]
    errno = body.get("errno") if isinstance(body, dict) else None
    if not isinstance(errno, int) or isinstance(errno, bool):
        errno = errno_for_status(status)
    return json_error_response(
        status,
        errno=errno,
        message=(
            f"The batch was rolled back, nothing of it was stored: request {index} "
            f"({method} {slot['path']}) failed with {slot['status']}."
        ),
        details={
            "rolled_back": True,
            "request": {"index": index, "method": method, **slot},
        },
    )


def includeme(config: Any) -> None:
    from cliquet.views import add_open_services

    add_open_services(config, "POST", [("batch", "/batch", _batch, "Batch operations")])
