"""OpenID Connect: accounts of an identity provider, as bearer tokens (the ``oidc`` extra).

A policy per provider, named in ``multiauth.policies`` and configured by its
``multiauth.policy.<name>.*`` settings::

    multiauth.policies = myprovider basicauth
    multiauth.policy.myprovider.use = cliquet.authentication.openid.OpenIDConnectPolicy
    multiauth.policy.myprovider.issuer = https://accounts.example.com
    multiauth.policy.myprovider.client_id = ...
    multiauth.policy.myprovider.client_secret = ...
    multiauth.policy.myprovider.audience = ...        # verify JWTs here, against the JWKS

A request carrying ``Authorization: Bearer <token>`` is the user ``<name>:<sub>`` (or another
claim: ``userid_field``) once the provider vouches for the token: locally, when an
``audience`` is set and the token is a JWT (signature by the provider's keys, issuer, audience,
expiry); by RFC 7662 introspection when ``introspect = true`` and the provider offers it; by
its userinfo endpoint otherwise. The answer is kept in ``registry.cache`` for
``verification_ttl_seconds`` (a revoked token is refused once that time has passed), under an
HMAC of the token keyed by ``cliquet.userid_hmac_secret``: the cache never holds a token.

A token this provider does not vouch for is refused (401 errno 105), except a JWT of another
issuer, left to the other policies (and anonymous if none takes it) and never sent to this
provider. A provider that cannot
be reached answers 503 errno 201 with ``Retry-After``: the client may retry, and is not told
its token is wrong. A refusal of the provider itself (userinfo, introspection) is kept in the
cache too, for the same TTL: a client repeating a bad token does not repeat the call.
With several providers reading the same header, a token is each one's in turn: one that
refuses it or is down leaves it to the next; only when none takes it is it refused (503 if
one of them could not say).

``cliquet.includes = cliquet.authentication.openid`` adds the login views
(:mod:`cliquet.authentication.openid.views`) and the hello view's ``openid`` capability.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import math
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
from pyramid.authentication import CallbackAuthenticationPolicy
from pyramid.exceptions import ConfigurationError
from pyramid.httpexceptions import HTTPException, HTTPServiceUnavailable, HTTPUnauthorized
from pyramid.interfaces import ISecurityPolicy
from pyramid.settings import aslist, falsey, truthy

from cliquet.authentication import configured_policies, hmac_digest
from cliquet.authentication.openid.provider import (
    Provider,
    ProviderUnavailable,
    TokenRejected,
    verify_jwt,
)
from cliquet.cache import CacheBase
from cliquet.errors import ERRORS, http_error

__all__ = [
    "OpenIDConnectPolicy",
    "ProviderUnavailable",
    "TokenRejected",
    "includeme",
    "openid_policies",
]

logger = logging.getLogger(__name__)

# RFC 6750 b64token: what a bearer token may be made of. Anything else is not a token.
_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
# Longest token looked at: provider tokens are a few hundred bytes to a few KiB.
MAX_TOKEN_LENGTH = 8192
# Longest user id claim kept; user ids end up in storage keys and logs.
_MAX_USERID_LENGTH = 256
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
# Authorization schemes of passwords (RFC 7617, 7616...), never read as a provider's tokens.
_PASSWORD_SCHEMES = frozenset(("basic", "digest", "negotiate", "ntlm"))
_HEADER_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*")
# A URL as it is sent: printable ASCII, no space (a CR or LF would split a header), and no
# backslash (browsers read it as "/", urllib does not: "https://evil\@app/" is evil's URL to
# a browser, app's to urllib).
_URL = re.compile(r"[\x21-\x5b\x5d-\x7e]+")
# What RFC 3986 lets a URL hold (an issuer is compared as it is written, and named in headers).
_URI_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
# RFC 6749 appendix A: scope names separated by single spaces.
SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*")
# A realm as a quoted string of WWW-Authenticate holds it, without escapes.
_REALM = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]+")
# An authority as the service takes it: a host name or an IP address, an optional port. No
# user info ("app@evil"), no percent-encoding, nothing a browser would read another way.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_HOST = rf"{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\]"
_AUTHORITY = re.compile(rf"(?P<host>{_HOST})(?::(?P<port>[0-9]{{1,5}}))?")
# In a login_callback_urls pattern: "*." may start the host (any subdomain), "*" be the port.
_AUTHORITY_PATTERN = re.compile(rf"(?P<host>(?:\*\.)?{_HOST})(?::(?P<port>[0-9]{{1,5}}|\*))?")

# Where a plain-http issuer is no risk: the provider runs on the service's machine.
_LOOPBACK_HOSTS = frozenset(("localhost", "127.0.0.1", "::1"))

_UNAVAILABLE_MESSAGE = "The identity provider is unavailable; retry later."


class _NotOurs(Exception):
    """A token of another issuer: for another policy to judge."""


class _Refused(TokenRejected):
    """The provider itself says the token is not valid (userinfo, introspection): it will not
    change its mind, and is not asked again for ``verification_ttl_seconds``."""


def _seconds(key: str, value: Any, *, minimum: float = 0) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = float("nan")
    if not minimum <= seconds < math.inf:  # NaN too: no cache or socket takes these
        raise ConfigurationError(
            f"OpenIDConnectPolicy: {key} is {value!r}; expected seconds, at least {minimum}."
        )
    return seconds


def _boolean(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word not in truthy | falsey:
        raise ConfigurationError(
            f"OpenIDConnectPolicy: {key} is {value!r}; expected true or false."
        )
    return word in truthy


def _issuer(value: str) -> str:
    """``value`` if it is an issuer URL as OpenID Connect Discovery 1.0 says: a scheme, a
    host, maybe a port and a path; no query, no fragment, no user info."""
    parts = urlsplit(value) if _URI_CHARACTERS.fullmatch(value) else None
    if (
        parts is None
        or parts.scheme not in ("https", "http")
        or not value.startswith(f"{parts.scheme}://")
        or not _AUTHORITY.fullmatch(parts.netloc)
        or parts.query
        or parts.fragment
        or "?" in value
        or "#" in value
    ):
        raise ConfigurationError(
            f"OpenIDConnectPolicy: issuer is {value!r}; expected the provider's URL "
            "(https://host[:port][/path], no query nor fragment)."
        )
    return value


@dataclass(frozen=True)
class _CallbackPattern:
    """One pattern of ``login_callback_urls``: the origin matched part by part (a ``*`` never
    reaches across the host), the rest of the URL by ``fnmatch``."""

    scheme: str
    host: str  # lowercase; "*.example.com" takes any subdomain of example.com
    port: str | None  # None: none given; "*": any
    rest: str

    @classmethod
    def parse(cls, pattern: str) -> _CallbackPattern:
        scheme, separator, remainder = pattern.partition("://")
        authority = re.match(r"[^/?#]*", remainder).group()  # type: ignore[union-attr]
        match = _AUTHORITY_PATTERN.fullmatch(authority)
        if (
            scheme not in ("https", "http")
            or not separator
            or not _URL.fullmatch(pattern)
            or match is None
        ):
            raise ConfigurationError(
                f"OpenIDConnectPolicy: login_callback_urls holds {pattern!r}; expected "
                "http(s)://host[:port]/path patterns, the host written out or starting with "
                "'*.', the port a number or '*', wildcards ('*', '?') in the path only."
            )
        return cls(scheme, match["host"].lower(), match["port"], remainder[len(authority) :])

    def matches(self, url: str) -> bool:
        scheme, separator, remainder = url.partition("://")
        authority = re.match(r"[^/?#]*", remainder).group()  # type: ignore[union-attr]
        match = _AUTHORITY.fullmatch(authority)
        if not separator or scheme != self.scheme or match is None:
            return False
        host, port = match["host"].lower(), match["port"]
        if self.host.startswith("*."):
            if not host.endswith(self.host[1:]) or host == self.host[2:]:
                return False
        elif host != self.host:
            return False
        if self.port != "*" and port != self.port:
            return False
        return fnmatch.fnmatchcase(remainder[len(authority) :], self.rest)


class OpenIDConnectPolicy(CallbackAuthenticationPolicy):
    """Authenticate bearer tokens of one OpenID Connect provider.

    Built by pyramid_multiauth from the ``multiauth.policy.<name>.*`` settings (strings);
    ``<name>`` prefixes the user ids. A wrong value stops start-up.

    :param issuer: the provider's issuer URL (discovery is read from it, when first needed).
    :param client_id: the service's client id at the provider (login views, introspection).
    :param client_secret: the service's client secret (login views, introspection).
    :param audience: when set, JWTs are verified locally and must name it in ``aud``.
    :param userid_field: the claim that is the user id (``sub``: stable and unique).
    :param header_type: the ``Authorization`` scheme read (``Bearer``).
    :param verification_ttl_seconds: how long a verified token is taken without asking again.
    :param timeout_seconds: bound of each call to the provider.
    :param metadata_ttl_seconds: how long discovery and keys are kept.
    :param jwks_refresh_seconds: least time between two fetches of the keys on unknown ones.
    :param leeway_seconds: clock skew allowed on ``exp``/``nbf``/``iat``.
    :param introspect: verify by RFC 7662 introspection when the provider offers it.
    :param scope: scopes the login view asks for when the client names none.
    :param login_callback_urls: patterns (``fnmatch``) of the URLs the login views may hand
        tokens to; none: the login views refuse every callback.
    :param state_ttl_seconds: how long a login may take between the two views.
    :param realm: the realm of ``WWW-Authenticate``.
    """

    def __init__(
        self,
        *,
        issuer: str = "",
        client_id: str = "",
        client_secret: str = "",
        audience: str = "",
        userid_field: str = "sub",
        header_type: str = "Bearer",
        verification_ttl_seconds: Any = 300,
        timeout_seconds: Any = 5,
        metadata_ttl_seconds: Any = 3600,
        jwks_refresh_seconds: Any = 10,
        leeway_seconds: Any = 0,
        introspect: Any = False,
        scope: str = "openid",
        login_callback_urls: Any = "",
        state_ttl_seconds: Any = 600,
        realm: str = "",
        **unknown: Any,
    ) -> None:
        if unknown:
            raise ConfigurationError(
                f"OpenIDConnectPolicy: unknown setting(s) {', '.join(sorted(unknown))}."
            )
        _issuer(issuer)
        if not _HEADER_TYPE.fullmatch(header_type):
            raise ConfigurationError(
                f"OpenIDConnectPolicy: header_type is {header_type!r}; expected a scheme name."
            )
        if header_type.lower() in _PASSWORD_SCHEMES:
            raise ConfigurationError(
                f"OpenIDConnectPolicy: header_type is {header_type!r}, which carries "
                "passwords: they would be sent to the provider as tokens. Expected Bearer or "
                "a scheme of the provider's own."
            )
        if not userid_field.strip():
            raise ConfigurationError("OpenIDConnectPolicy: userid_field is empty.")
        self.issuer = issuer
        self.client_id = client_id
        self.client_secret = client_secret
        self.audience = audience
        self.userid_field = userid_field
        self.header_type = header_type
        self.verification_ttl = _seconds("verification_ttl_seconds", verification_ttl_seconds)
        self.timeout = _seconds("timeout_seconds", timeout_seconds, minimum=0.01)
        self.leeway = _seconds("leeway_seconds", leeway_seconds)
        self.introspect = _boolean("introspect", introspect)
        if len(scope) > 1024 or not SCOPE.fullmatch(scope):
            raise ConfigurationError(
                f"OpenIDConnectPolicy: scope is {scope!r}; expected scope names separated by "
                "single spaces (openid email)."
            )
        self.scope = scope
        self.login_callback_urls = aslist(login_callback_urls)
        self._callback_patterns = [_CallbackPattern.parse(p) for p in self.login_callback_urls]
        self.state_ttl = _seconds("state_ttl_seconds", state_ttl_seconds, minimum=1)
        self.realm = realm or issuer
        if not _REALM.fullmatch(self.realm):
            raise ConfigurationError(
                f"OpenIDConnectPolicy: realm is {realm!r}; expected printable text without "
                "quotes nor backslashes (it is quoted in WWW-Authenticate)."
            )
        self._metadata_ttl = _seconds("metadata_ttl_seconds", metadata_ttl_seconds, minimum=1)
        self._jwks_refresh = _seconds("jwks_refresh_seconds", jwks_refresh_seconds)
        self._providers: dict[str, Provider] = {}
        self.callback = None

    def __repr__(self) -> str:
        return f"OpenIDConnectPolicy({self.name!r}, issuer={self.issuer!r})"

    @staticmethod
    def settings_warnings(name: str, options: dict[str, Any]) -> list[str]:
        """What start-up logs about the settings (strings) of the policy ``name``."""
        issuer = str(options.get("issuer", ""))
        if issuer.startswith("http://") and urlsplit(issuer).hostname not in _LOOPBACK_HOSTS:
            return [
                f"multiauth.policy.{name}.issuer is {issuer!r}, plain http: anyone between the "
                "service and the provider can serve keys of their own and log in as anybody. "
                "Use https."
            ]
        return []

    @property
    def name(self) -> str:
        """The policy's name in ``multiauth.policies`` (the prefix of its user ids)."""
        return getattr(self, "_pyramid_multiauth_name", None) or "openid"

    @property
    def cache_prefix(self) -> str:
        """Prefix of this policy's cache keys: its name, and a digest of what makes a verdict
        (issuer, audience...), so that services sharing a cache server never take each
        other's verdicts, documents or keys, even under the same policy name and prefix."""
        settings = "\n".join((self.issuer, self.audience, self.userid_field, str(self.introspect)))
        digest = hashlib.sha256(settings.encode("utf-8")).hexdigest()[:16]
        return f"openid:{self.name}:{digest}:"

    @property
    def provider(self) -> Provider:
        """The provider, named after the policy (known once pyramid_multiauth named it)."""
        provider = self._providers.get(self.name)
        if provider is None:
            provider = self._providers[self.name] = Provider(
                self.issuer,
                cache_prefix=self.cache_prefix,
                timeout_seconds=self.timeout,
                metadata_ttl_seconds=self._metadata_ttl,
                jwks_refresh_seconds=self._jwks_refresh,
            )
        return provider

    @property
    def openapi_security_scheme(self) -> dict[str, Any]:
        """How ``/__api__`` describes this policy."""
        if self.header_type.lower() == "bearer":
            return {"type": "http", "scheme": "bearer", "description": f"{self.issuer}"}
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": f"`{self.header_type} <token>` of {self.issuer}.",
        }

    # Pyramid's authentication policy ---------------------------------------------------------

    def unauthenticated_userid(self, request: Any) -> str | None:
        # Asked several times per request (permissions, views, the error views, the request
        # summary): the provider is asked once, and a refusal is the same refusal each time.
        environ_key = f"cliquet.openid_userid.{self.name}"
        if environ_key in request.environ:
            known = request.environ[environ_key]
            if isinstance(known, HTTPException):
                raise known
            return known  # type: ignore[no-any-return]
        try:
            userid = self._judge(request)
        except HTTPException as e:
            request.environ[environ_key] = e
            raise
        request.environ[environ_key] = userid
        return userid

    def _siblings(self, request: Any) -> list[OpenIDConnectPolicy]:
        """The OpenID Connect policies reading the same header as this one, in the order of
        ``multiauth.policies`` (this one among them)."""
        get_policies = getattr(
            request.registry.queryUtility(ISecurityPolicy), "get_policies", None
        )
        policies = [p for _, p in get_policies()] if get_policies is not None else []
        return [
            p
            for p in policies
            if isinstance(p, OpenIDConnectPolicy)
            and p.header_type.lower() == self.header_type.lower()
        ] or [self]

    def _judge(self, request: Any) -> str | None:
        """The user id of the request's token, ``None`` when it is not this provider's.

        With several providers reading the same header, a token one refuses (or cannot
        judge, being down) may be another's: each defers to the next, and the last one raises
        what was found wrong (503 first: the token may be the unreachable provider's) unless
        one of them took the token.
        """
        token = self._read_token(request)
        if token is None:
            return None
        siblings = self._siblings(request)
        if any(
            isinstance(request.environ.get(f"cliquet.openid_userid.{p.name}"), str)
            for p in siblings
            if p is not self
        ):
            return None  # another provider vouched for it
        error: HTTPException | None = None
        try:
            return self._userid(request, token)
        except _NotOurs:
            pass
        except TokenRejected as e:
            error = self._refuse(request, str(e))
        except ProviderUnavailable as e:
            logger.warning("openid.provider_unavailable: %s: %s", self.name, e)
            error = http_error(
                HTTPServiceUnavailable(), errno=ERRORS.BACKEND, message=_UNAVAILABLE_MESSAGE
            )
        pending_key = f"cliquet.openid_refusal.{self.header_type.lower()}"
        pending = request.environ.get(pending_key)
        if error is not None and (pending is None or error.code > pending.code):
            pending = request.environ[pending_key] = error
        if pending is not None and siblings[-1] is self:
            raise pending
        return None

    def remember(self, request: Any, userid: Any, **kw: Any) -> list[tuple[str, str]]:
        return []

    def forget(self, request: Any) -> list[tuple[str, str]]:
        return [("WWW-Authenticate", f'{self.header_type} realm="{self.realm}"')]

    # The token -------------------------------------------------------------------------------

    def _read_token(self, request: Any) -> str | None:
        scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
        if scheme.lower() != self.header_type.lower():
            return None
        token = token.strip()
        if not token:
            raise self._refuse(request, "The token is empty.")
        if len(token) > MAX_TOKEN_LENGTH:
            raise self._refuse(request, f"The token is over {MAX_TOKEN_LENGTH} characters.")
        if not _TOKEN.fullmatch(token):
            raise self._refuse(request, "The token holds characters no token has.")
        return token

    def _userid(self, request: Any, token: str) -> str:
        """The user id the provider vouches for with ``token``.

        :raises TokenRejected: it does not (a refusal of the provider itself is kept in the
            cache for ``verification_ttl_seconds``, as the user ids are).
        :raises ProviderUnavailable: it cannot say.
        :raises _NotOurs: the token is of another issuer.
        """
        cache: CacheBase = request.registry.cache
        secret = request.registry.settings.get("cliquet.userid_hmac_secret", "")
        key = f"{self.cache_prefix}token:{hmac_digest(secret, token)}"
        cached = cache.get(key)
        if isinstance(cached, str):
            return cached
        if isinstance(cached, dict) and isinstance(cached.get("refused"), str):
            raise TokenRejected(cached["refused"])
        try:
            claims = self.verify(cache, token)
            value = claims.get(self.userid_field)
            if isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            if (
                not isinstance(value, str)
                or not value.strip()
                or len(value) > _MAX_USERID_LENGTH
                or _CONTROL_CHARACTERS.search(value)
            ):
                # The same claims next time: the same answer, without asking again.
                raise _Refused(f"The provider gives no usable {self.userid_field!r}.")
        except _Refused as e:
            if self.verification_ttl > 0:
                cache.set(key, {"refused": str(e)}, ttl=self.verification_ttl)
            raise
        userid = f"{self.name}:{value}"
        ttl = self.verification_ttl
        expires = claims.get("exp")
        if isinstance(expires, (int, float)) and not isinstance(expires, bool):
            ttl = min(ttl, expires - time.time())
        if ttl > 0:
            cache.set(key, userid, ttl=ttl)
        return userid

    def verify(self, cache: CacheBase, token: str) -> dict[str, Any]:
        """The claims the provider vouches for with ``token``.

        :raises TokenRejected: it does not vouch for it.
        :raises ProviderUnavailable: it cannot say.
        """
        provider = self.provider
        is_jwt = token.count(".") == 2
        if is_jwt and _unverified_issuer(token) not in (None, self.issuer):
            # Another issuer's: never shown to this provider (its userinfo, introspection).
            raise _NotOurs()
        if self.introspect:
            endpoint = provider.endpoint(cache, "introspection_endpoint")
            if endpoint is not None:
                return self._introspect(endpoint, token)
        if self.audience and is_jwt:
            return verify_jwt(
                token,
                lambda refresh: provider.keys(cache, refresh=refresh),
                issuer=self.issuer,
                audience=self.audience,
                algorithms=provider.algorithms(cache),
                leeway_seconds=self.leeway,
            )
        return self._userinfo(cache, token)

    def _userinfo(self, cache: CacheBase, token: str) -> dict[str, Any]:
        endpoint = self.provider.metadata(cache)["userinfo_endpoint"]
        status, claims = self.provider.call(
            "GET", endpoint, headers={"Authorization": f"Bearer {token}"}
        )
        if status in (400, 401, 403):
            raise _Refused("The provider does not vouch for this token.")
        if status != 200 or not isinstance(claims, dict):
            raise ProviderUnavailable(f"{endpoint} answered {status}, not the user's claims.")
        return claims

    def _introspect(self, endpoint: str, token: str) -> dict[str, Any]:
        status, answer = self.provider.call(
            "POST",
            endpoint,
            data={"token": token, "token_type_hint": "access_token"},
            auth=(self.client_id, self.client_secret),
        )
        if status != 200 or not isinstance(answer, dict):
            raise ProviderUnavailable(f"{endpoint} answered {status}, not an introspection.")
        if answer.get("active") is not True:
            raise _Refused("The provider says the token is not active.")
        expires = answer.get("exp")
        if isinstance(expires, (int, float)) and expires + self.leeway < time.time():
            raise TokenRejected("The token has expired.")
        if answer.get("iss", self.issuer) != self.issuer:
            raise TokenRejected("The token is of another issuer.")
        audiences = answer.get("aud")
        if self.audience and audiences is not None:
            if isinstance(audiences, str):
                audiences = [audiences]
            if not isinstance(audiences, list) or self.audience not in audiences:
                raise TokenRejected("The token is meant for another audience.")
        return answer

    def _refuse(self, request: Any, message: str) -> HTTPUnauthorized:
        error = http_error(HTTPUnauthorized(), errno=ERRORS.INVALID_AUTH_TOKEN, message=message)
        error.headers["WWW-Authenticate"] = (
            f'{self.header_type} realm="{self.realm}", error="invalid_token"'
        )
        return error

    def valid_callback(self, url: str) -> bool:
        """Whether the login views may hand tokens to ``url``: one of ``login_callback_urls``
        names its scheme, host and port, and its path, query and fragment match."""
        return _URL.fullmatch(url) is not None and any(
            pattern.matches(url) for pattern in self._callback_patterns
        )


def _unverified_issuer(token: str) -> str | None:
    try:
        issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError:
        return None
    return issuer if isinstance(issuer, str) else None


def openid_policies(settings: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The names and settings of the OpenID Connect policies of ``multiauth.policies``."""
    return [
        (name, options)
        for name, factory, options in configured_policies(settings)
        if isinstance(factory, type) and issubclass(factory, OpenIDConnectPolicy)
    ]


def includeme(config: Any) -> None:
    """Add the login views and the ``openid`` capability of the hello view."""
    from cliquet.authentication.openid import views

    views.includeme(config)
