"""The login views of the OpenID Connect policies: the authorization code flow, for a client.

``GET /v1/openid/<name>/login?callback=<url>[&scope=...]`` sends the browser to the provider,
with a one-time ``state`` kept in the cache for ``state_ttl_seconds``; the provider sends it
back to ``GET /v1/openid/<name>/token?code=...&state=...``, which exchanges the code for
tokens at the provider and sends the browser to the callback the login named, with the
provider's token answer appended as URL-safe base64 of its JSON (``<callback><b64>``: a
callback such as ``https://app.example.com/#tokens=`` keeps them out of every server's logs).
A callback must match one of the policy's ``login_callback_urls``: the service never hands
tokens to a site it was not told of. The login view also sets the state in a cookie of the
browser (``HttpOnly``, ``SameSite=Lax``, for the provider's paths only), which the token view
requires: a login is finished only by the browser that started it, so that nobody can send
someone a link that logs them in to the sender's account (login CSRF, RFC 6749 section
10.12). Each login sends a PKCE challenge (RFC 7636, S256) and exchanges its code with the
verifier only the service knows. The hello view lists the providers in its ``openid``
capability.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import secrets
from typing import Any
from urllib.parse import urlencode

from pyramid.httpexceptions import (
    HTTPNotFound,
    HTTPServiceUnavailable,
    HTTPTemporaryRedirect,
    HTTPUnauthorized,
)
from pyramid.interfaces import ISecurityPolicy

from cliquet.authentication.openid import (
    SCOPE,
    OpenIDConnectPolicy,
    ProviderUnavailable,
    openid_policies,
)
from cliquet.errors import ERRORS, Detail, http_error, invalid_request
from cliquet.views import add_open_services

__all__ = ["includeme"]

# RFC 6749 appendix A: what a state and a code are made of (a scope: SCOPE).
_STATE = re.compile(r"[A-Za-z0-9_-]{16,128}")
_CODE = re.compile(r"[\x20-\x7e]{1,2048}")
_ERROR_CODE = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}")
_MAX_CALLBACK_LENGTH = 2048
# A URL as it is sent: printable ASCII without spaces (a CR or LF would split the Location),
# nor backslashes (a browser reads "\" as "/": "https://evil\@app/" is evil's URL to it,
# app's to urllib).
_URL = re.compile(r"[\x21-\x5b\x5d-\x7e]+")
# The fields of a token answer (RFC 6749 section 5.1, OpenID Connect Core 3.1.3.3).
_TOKEN_FIELDS = ("access_token", "token_type", "expires_in", "refresh_token", "id_token", "scope")
# The cookie holding the state of the login a browser started (one per provider: its path).
LOGIN_COOKIE = "cliquet_openid_state"


def _invalid(name: str, description: str) -> Any:
    return invalid_request([Detail(location="querystring", name=name, description=description)])


def _unavailable(error: ProviderUnavailable) -> Any:
    from cliquet.authentication.openid import logger

    logger.warning("openid.provider_unavailable: %s", error)
    return http_error(
        HTTPServiceUnavailable(),
        errno=ERRORS.BACKEND,
        message="The identity provider is unavailable; retry later.",
    )


def _policy(request: Any) -> OpenIDConnectPolicy:
    name = request.matchdict["provider"]
    security = request.registry.queryUtility(ISecurityPolicy)
    policy = security.get_policy(name) if hasattr(security, "get_policy") else None
    if not isinstance(policy, OpenIDConnectPolicy):
        raise http_error(
            HTTPNotFound(), errno=ERRORS.MISSING_RESOURCE, message=f"No provider {name!r}."
        )
    return policy


def _query(request: Any, name: str) -> str | None:
    values = request.GET.getall(name)
    if len(values) > 1:
        raise _invalid(name, "Given more than once.")
    return values[0] if values else None


def _state_key(policy: OpenIDConnectPolicy, state: str) -> str:
    return f"{policy.cache_prefix}state:{state}"


def _cookie_path(request: Any, policy: OpenIDConnectPolicy) -> str:
    """``/v1/openid/<name>/``: the login cookie goes to this provider's views only."""
    return str(request.route_path("openid_login", provider=policy.name)).rsplit("/", 1)[0] + "/"


def _login(request: Any) -> Any:
    policy = _policy(request)
    callback = _query(request, "callback")
    if not callback:
        raise _invalid("callback", "Required: the URL the tokens are handed to.")
    if (
        len(callback) > _MAX_CALLBACK_LENGTH
        or not callback.startswith(("https://", "http://"))
        or not _URL.fullmatch(callback)
    ):
        raise _invalid("callback", "Must be an http(s) URL.")
    if not policy.valid_callback(callback):
        raise _invalid(
            "callback",
            f"Not allowed by multiauth.policy.{policy.name}.login_callback_urls.",
        )
    scope = _query(request, "scope") or policy.scope
    if len(scope) > 1024 or not SCOPE.fullmatch(scope):
        raise _invalid("scope", "Must be scope names separated by single spaces.")
    try:
        endpoint = policy.provider.metadata(request.registry.cache)["authorization_endpoint"]
    except ProviderUnavailable as e:
        raise _unavailable(e) from None
    state = secrets.token_urlsafe(32)
    # PKCE (RFC 7636): the code the provider gives for this login is exchanged only with this
    # verifier, which never leaves the service; a code stolen from another login is useless.
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest())
    request.registry.cache.set(
        _state_key(policy, state),
        {"callback": callback, "code_verifier": verifier},
        ttl=policy.state_ttl,
    )
    query = urlencode(
        {
            "client_id": policy.client_id,
            "response_type": "code",
            "scope": scope,
            "redirect_uri": request.route_url("openid_token", provider=policy.name),
            "state": state,
            "code_challenge": challenge.rstrip(b"=").decode("ascii"),
            "code_challenge_method": "S256",
        }
    )
    redirect = HTTPTemporaryRedirect(f"{endpoint}{'&' if '?' in endpoint else '?'}{query}")
    redirect.set_cookie(
        LOGIN_COOKIE,
        state,
        max_age=math.ceil(policy.state_ttl),
        path=_cookie_path(request, policy),
        secure=request.scheme == "https",
        httponly=True,
        samesite="Lax",
    )
    raise redirect


def _token(request: Any) -> Any:
    policy = _policy(request)
    cache = request.registry.cache
    state = _query(request, "state")
    if not state:
        raise _invalid("state", "Required: the state the login view gave.")
    saved = cache.get(_state_key(policy, state)) if _STATE.fullmatch(state) else None
    if not isinstance(saved, dict) or not isinstance(saved.get("callback"), str):
        raise _invalid("state", "Unknown, expired or already used: log in again.")
    started_here = request.cookies.get(LOGIN_COOKIE, "")
    if not hmac.compare_digest(started_here.encode("utf-8"), state.encode("utf-8")):
        # Left in the cache: the browser that started the login may still finish it.
        raise _invalid("state", "This browser did not start this login: log in again.")
    cache.delete(_state_key(policy, state))  # one login per state
    error = _query(request, "error")
    if error is not None:
        shown = error if _ERROR_CODE.fullmatch(error) else "an error"
        raise http_error(
            HTTPUnauthorized(),
            errno=ERRORS.INVALID_AUTH_TOKEN,
            message=f"The provider refused the login ({shown}).",
        )
    code = _query(request, "code")
    if not code:
        raise _invalid("code", "Required: the code the provider gave.")
    if not _CODE.fullmatch(code):
        raise _invalid("code", "Not a code.")
    verifier = saved.get("code_verifier")
    tokens = _exchange(request, policy, code, verifier if isinstance(verifier, str) else None)
    payload = base64.urlsafe_b64encode(json.dumps(tokens).encode("utf-8")).decode("ascii")
    redirect = HTTPTemporaryRedirect(saved["callback"] + payload)
    redirect.delete_cookie(LOGIN_COOKIE, path=_cookie_path(request, policy))
    raise redirect


def _exchange(
    request: Any, policy: OpenIDConnectPolicy, code: str, verifier: str | None
) -> dict[str, Any]:
    """The provider's tokens for ``code`` (with the PKCE ``verifier`` of its login)."""
    provider = policy.provider
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": request.route_url("openid_token", provider=policy.name),
    }
    if verifier is not None:
        data["code_verifier"] = verifier
    auth: tuple[str, str] | None = (policy.client_id, policy.client_secret)
    try:
        metadata = provider.metadata(request.registry.cache)
        methods = metadata.get("token_endpoint_auth_methods_supported")
        if isinstance(methods, list) and "client_secret_basic" not in methods:
            data.update(client_id=policy.client_id, client_secret=policy.client_secret)
            auth = None
        status, answer = provider.call("POST", metadata["token_endpoint"], data=data, auth=auth)
        if status == 400 and isinstance(answer, dict) and answer.get("error") == "invalid_grant":
            raise _invalid("code", "The provider does not take this code (used or expired).")
        if status != 200 or not isinstance(answer, dict):
            raise ProviderUnavailable(f"the token endpoint answered {status}, not tokens.")
        if not isinstance(answer.get("access_token"), str):
            raise ProviderUnavailable("the token endpoint answered no access_token.")
    except ProviderUnavailable as e:
        raise _unavailable(e) from None
    return {field: answer[field] for field in _TOKEN_FIELDS if field in answer}


def includeme(config: Any) -> None:
    """Add ``/openid/<name>/login`` and ``/openid/<name>/token``, and the capability."""
    providers = [
        {
            "name": name,
            "issuer": values.get("issuer", ""),
            "client_id": values.get("client_id", ""),
            "header_type": values.get("header_type", "Bearer"),
            "userid_field": values.get("userid_field", "sub"),
            "auth_path": f"/openid/{name}/login",
        }
        for name, values in openid_policies(config.get_settings())
    ]
    config.add_api_capability(
        "openid",
        description="Accounts of OpenID Connect providers, as bearer tokens.",
        url="https://openid.net/specs/openid-connect-core-1_0.html",
        providers=providers,
    )
    add_open_services(
        config,
        "GET",
        [
            ("openid_login", "/openid/{provider}/login", _login, "Log in at a provider"),
            ("openid_token", "/openid/{provider}/token", _token, "Tokens of a login"),
        ],
    )
