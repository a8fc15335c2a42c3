"""Exception views: whatever goes wrong, the client gets cliquet's JSON error, never HTML.

Cornice's own exception views are turned off (``handle_exceptions = false``) in favour of
these, and its ``cornicejson`` renderer is replaced so that validation errors of any Cornice
service, a third party's included, have the same shape.
"""

from __future__ import annotations

import re
from typing import Any

from cornice.renderer import CorniceRenderer
from pyramid import httpexceptions
from pyramid.exceptions import URLDecodeError
from pyramid.router import default_execution_policy
from pyramid.security import forget

from cliquet.cache import CacheError
from cliquet.errors import ERRORS, Detail, describe, http_error, invalid_request
from cliquet.permission import PermissionBackendError
from cliquet.storage import StorageError

__all__ = ["includeme", "ErrorRenderer"]


class ErrorRenderer(CorniceRenderer):
    """Cornice's JSON renderer, rendering ``request.errors`` as a cliquet error.

    Cornice's colander validators name a field from the root of its location (``name`` in
    ``body``), as cliquet does; their colander text is said in words, as cliquet's is.
    """

    def render_errors(self, request: Any) -> httpexceptions.HTTPException:
        errors = list(request.errors)
        status = request.errors.status
        exc_class = httpexceptions.status_map.get(status, httpexceptions.HTTPBadRequest)
        errno = ERRORS.INVALID_PARAMETERS
        # Cornice reports an unparsable body with name "" (not None): "Invalid JSON: ...".
        if any(_is_bad_json(e) for e in errors):
            errno = ERRORS.BADJSON
        details = [
            Detail(
                location=e.get("location"),
                name=e.get("name") or None,
                description=describe(_text(e.get("description"))),
            )
            for e in errors
        ] or [Detail(location="body", name=None, description="Invalid request.")]
        return invalid_request(details, errno=errno, httpexception=exc_class())


def _is_bad_json(error: Any) -> bool:
    description = str(error.get("description", ""))
    return not error.get("name") and description.startswith("Invalid JSON")


def _text(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _log_error(request: Any, event: str) -> None:
    logger = getattr(request.registry, "logger", None)
    if logger is not None:
        exc_info = getattr(request, "exc_info", None) or True
        logger.error(event, path=request.path, method=request.method, exc_info=exc_info)


def _notfound(context: Any, request: Any) -> Any:
    if getattr(context, "cliquet_error", False):
        return context
    return http_error(
        httpexceptions.HTTPNotFound(),
        errno=ERRORS.MISSING_RESOURCE,
        message="The resource you are looking for could not be found.",
    )


def _forbidden(context: Any, request: Any) -> Any:
    if getattr(context, "cliquet_error", False):
        return context
    if request.authenticated_userid:
        return http_error(
            httpexceptions.HTTPForbidden(),
            errno=ERRORS.FORBIDDEN,
            message="This user cannot access this resource.",
        )
    response = http_error(
        httpexceptions.HTTPUnauthorized(),
        errno=ERRORS.MISSING_AUTH_TOKEN,
        message="Please authenticate yourself to use this endpoint.",
    )
    response.headers.extend(forget(request))
    if "WWW-Authenticate" not in response.headers:
        response.headers["WWW-Authenticate"] = 'Basic realm="Realm"'
    return response


_DEFAULT_MESSAGES = {
    405: "Method not allowed on this endpoint.",
}


def _http_exception(context: httpexceptions.HTTPException, request: Any) -> Any:
    if getattr(context, "cliquet_error", False) or (context.code or 0) < 400:
        return context
    if (context.code or 0) >= 500:
        _log_error(request, "http.error")
    message = context.detail or context.explanation or _DEFAULT_MESSAGES.get(context.code)
    return http_error(context, message=str(message) if message else None)


def _not_utf8(context: UnicodeDecodeError, request: Any) -> Any:
    """A URL that does not percent-decode to UTF-8 is the client's error, not ours."""
    from cliquet.resource.querystring import undecodable_parameter

    name = None
    if isinstance(context, URLDecodeError):
        location = "path"
    else:
        try:
            _ = request.GET
        except UnicodeDecodeError:
            location = "querystring"
            name = undecodable_parameter(request.query_string)
        else:
            return _unexpected(context, request)  # not the client's bytes: a bug of ours
    description = "Not valid UTF-8 once percent-decoded."
    return invalid_request([Detail(location=location, name=name, description=description)])


def _backend_error(context: Exception, request: Any) -> Any:
    _log_error(request, "backend.error")
    return http_error(
        httpexceptions.HTTPServiceUnavailable(),
        errno=ERRORS.BACKEND,
        message="A backend is unavailable; retry later.",
    )


def _unexpected(context: Exception, request: Any) -> Any:
    _log_error(request, "unexpected.error")
    return http_error(
        httpexceptions.HTTPInternalServerError(),
        errno=ERRORS.UNDEFINED,
        message="An unexpected error occurred; it has been logged.",
    )


_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def _execution_policy(environ: dict[str, Any], router: Any) -> Any:
    """Pyramid's execution policy, refusing what no route should see, answering what fails.

    A control character in the decoded path is refused (400) before routing: route patterns
    end with ``$``, which matches before a final LF (``/v1/articles%0A`` would list
    articles), and a redirect would carry it into a header. An exception that escapes
    the exception views too is a JSON 500, not the WSGI server's ``text/plain`` one.
    """
    if _CONTROL_CHARACTERS.search(environ.get("PATH_INFO", "")):
        description = "The path contains a control character."
        return invalid_request([Detail(location="path", name=None, description=description)])
    try:
        return default_execution_policy(environ, router)
    except Exception:
        logger = getattr(router.registry, "logger", None)
        if logger is not None:
            logger.error("unexpected.error", path=environ.get("PATH_INFO"), exc_info=True)
        return http_error(
            httpexceptions.HTTPInternalServerError(),
            errno=ERRORS.UNDEFINED,
            message="An unexpected error occurred; it has been logged.",
        )


def includeme(config: Any) -> None:
    # Bodies are read by one strict reader, whose refusals are errors of this module's shape.
    config.include("cliquet.json_body")
    config.set_execution_policy(_execution_policy)
    config.add_notfound_view(_notfound)
    config.add_forbidden_view(_forbidden)
    config.add_exception_view(_http_exception, context=httpexceptions.HTTPException)
    for backend_error in (StorageError, CacheError, PermissionBackendError):
        config.add_exception_view(_backend_error, context=backend_error)
    config.add_exception_view(_not_utf8, context=UnicodeDecodeError)
    config.add_exception_view(_unexpected, context=Exception)
