"""What the service asks of an OpenID Connect provider, over HTTP, bounded in time and size.

Nothing here runs at start-up: the discovery document, the signing keys (JWKS) and every
answer are fetched when a request first needs them, and kept in ``registry.cache`` so that
every worker of the service shares them. A provider that cannot be reached, answers too
slowly, too much, or something that is not what the specifications say is *unavailable*
(:class:`ProviderUnavailable`, a 503 for the client): the token may be fine, the provider is
not. A token the provider or its keys say is not valid is *rejected* (:class:`TokenRejected`,
a 401).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jwt
import requests
import urllib3

from cliquet.cache import CacheBase

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "STALE_FACTOR",
    "Provider",
    "ProviderUnavailable",
    "TokenRejected",
    "verify_jwt",
]

logger = logging.getLogger(__name__)

# Signatures a token may carry: public-key ones only. ``none`` and the HMAC family are
# never taken, whatever the provider says: an HS256 token "signed" with the provider's
# public key (which anyone can read from its JWKS) would otherwise verify.
ASYMMETRIC_ALGORITHMS = frozenset(
    (
        "RS256", "RS384", "RS512",
        "PS256", "PS384", "PS512",
        "ES256", "ES384", "ES512",
        "EdDSA",
    )
)  # fmt: skip
_KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
# Token types (JOSE "typ") that an identity or access token of OpenID Connect carries.
_TOKEN_TYPES = frozenset(("jwt", "at+jwt"))
# Most keys tried for a token that names none (a provider publishes a handful).
_MAX_KEYS_TRIED = 8
# The URLs of a discovery document the service calls or sends browsers to.
_OPTIONAL_ENDPOINTS = ("introspection_endpoint",)
_ENDPOINTS = (
    "jwks_uri",
    "userinfo_endpoint",
    "authorization_endpoint",
    "token_endpoint",
    *_OPTIONAL_ENDPOINTS,
)
# How much longer than metadata_ttl_seconds the last discovery document and keys are kept,
# for a provider that cannot be reached when they are due.
STALE_FACTOR = 24
# Largest answer read from the provider: discovery documents and key sets are a few KiB.
MAX_ANSWER_BYTES = 1 << 20


class ProviderUnavailable(Exception):
    """The provider did not answer, or not as the specifications say (the client gets 503)."""


class TokenRejected(Exception):
    """The token is not one this provider vouches for now (the client gets 401)."""


def _key_type(algorithm: str) -> str:
    return _KEY_TYPES.get(algorithm[:2], "")


def _usable(jwk: Mapping[str, Any], algorithm: str) -> bool:
    """Whether ``jwk`` (one key of a JWKS) may check a signature of ``algorithm``."""
    return (
        jwk.get("kty") == _key_type(algorithm)
        and jwk.get("use", "sig") == "sig"
        and jwk.get("alg", algorithm) == algorithm
    )


def verify_jwt(
    token: str,
    keys: Callable[[bool], list[dict[str, Any]]],
    *,
    issuer: str,
    audience: str,
    algorithms: frozenset[str],
    leeway_seconds: float = 0,
) -> dict[str, Any]:
    """The claims of ``token`` once its signature, issuer, audience and expiry are checked.

    :param keys: called with ``False`` for the known keys, with ``True`` to fetch them anew
        (on a ``kid`` no known key has, or when no known key verifies a token without
        ``kid``: the provider may have rotated them).
    :param algorithms: the signature algorithms accepted (public-key ones only).
    :raises TokenRejected: the token is not a JWT, names another algorithm or type, is not
        signed by the provider's keys, is of another issuer or audience, or has expired.
    :raises ProviderUnavailable: from ``keys``.
    """
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as e:
        raise TokenRejected(f"Not a JSON Web Token ({e}).") from None
    algorithm = header.get("alg")
    if not isinstance(algorithm, str) or algorithm not in algorithms:
        raise TokenRejected(f"Tokens signed with {algorithm!r} are not accepted.")
    token_type = header.get("typ")
    if token_type is not None and (
        not isinstance(token_type, str)
        or token_type.lower().removeprefix("application/") not in _TOKEN_TYPES
    ):
        raise TokenRejected(f"Tokens of type {token_type!r} are not accepted.")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise TokenRejected("The token's key id is not a string.")
    for refresh in (False, True):
        candidates = [
            jwk
            for jwk in keys(refresh)
            if _usable(jwk, algorithm) and (kid is None or jwk.get("kid") == kid)
        ][:_MAX_KEYS_TRIED]
        for jwk in candidates:
            try:
                key = jwt.PyJWK(jwk, algorithm=algorithm)
            except (jwt.PyJWTError, ValueError, TypeError, KeyError):
                continue  # a key of the set that does not parse: not this one
            try:
                return jwt.decode(
                    token,
                    key,
                    algorithms=[algorithm],
                    audience=audience,
                    issuer=issuer,
                    leeway=leeway_seconds,
                    options={"require": ["exp", "iss", "aud"]},
                )
            except jwt.InvalidSignatureError:
                continue
            except jwt.ExpiredSignatureError:
                raise TokenRejected("The token has expired.") from None
            except jwt.InvalidAudienceError:
                raise TokenRejected("The token is meant for another audience.") from None
            except jwt.InvalidIssuerError:
                raise TokenRejected("The token is of another issuer.") from None
            except jwt.PyJWTError as e:
                raise TokenRejected(f"The token is not valid ({e}).") from None
        if kid is not None and candidates:
            break  # the key it names is known and does not verify it: no need to refetch
    raise TokenRejected("The token is not signed by any key of the provider.")


def _not_json(constant: str) -> Any:
    """``NaN`` and ``Infinity``, which Python's parser takes and JSON does not have: an
    ``exp`` of ``Infinity`` would be a token that never expires."""
    raise ValueError(f"{constant} is not JSON")


def _chunks(response: requests.Response) -> Iterator[bytes]:
    """The body as it arrives: each chunk is what one read of the socket gave.

    ``iter_content`` waits for a whole chunk, however slowly its bytes come: a provider
    sending one byte within each read's timeout would hold the request far past the deadline.
    """
    read1 = getattr(response.raw, "read1", None)  # urllib3 2
    if read1 is None:
        yield from response.iter_content(16384)
        return
    try:
        while chunk := read1(16384, decode_content=True):
            yield chunk
    except (urllib3.exceptions.HTTPError, OSError) as e:
        raise requests.ConnectionError(str(e)) from None


class Provider:
    """One provider, found from its ``issuer`` URL (OpenID Connect Discovery 1.0).

    :param issuer: the issuer URL; ``<issuer>/.well-known/openid-configuration`` is read.
    :param cache_prefix: prefix of every key this provider keeps in the cache.
    :param timeout_seconds: bound of each call to the provider (connecting, then reading).
    :param metadata_ttl_seconds: how long the discovery document and the keys are kept.
    :param jwks_refresh_seconds: the keys are fetched anew at most once in this time, however
        many tokens name keys nobody knows (0: each time one does).
    """

    def __init__(
        self,
        issuer: str,
        *,
        cache_prefix: str,
        timeout_seconds: float,
        metadata_ttl_seconds: float,
        jwks_refresh_seconds: float,
    ) -> None:
        self.issuer = issuer
        self.discovery_url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        self._prefix = cache_prefix
        self._timeout = timeout_seconds
        self._metadata_ttl = metadata_ttl_seconds
        self._jwks_refresh = jwks_refresh_seconds
        # Until when (time.monotonic()) the provider is taken as down without asking it.
        self._unreachable_until = 0.0

    def __repr__(self) -> str:
        return f"Provider({self.issuer!r})"

    # HTTP ------------------------------------------------------------------------------------

    def call(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> tuple[int, Any]:
        """The status and the JSON value (``None`` if not JSON) of one call to the provider.

        :raises ProviderUnavailable: it cannot be reached, takes longer than the timeout, or
            answers more than :data:`MAX_ANSWER_BYTES`; or it could not be reached or timed
            out less than ``timeout_seconds`` ago (it is not asked again so soon: requests
            waiting out the timeout one after the other would hold every thread).
        """
        now = time.monotonic()
        if now < self._unreachable_until:
            raise ProviderUnavailable(
                f"{url} not asked: the provider did not answer less than {self._timeout} s ago."
            )
        deadline = now + self._timeout
        try:
            with requests.request(
                method,
                url,
                headers={"Accept": "application/json", **(headers or {})},
                data=data,
                auth=auth,
                timeout=(self._timeout, self._timeout),
                stream=True,
                allow_redirects=False,
            ) as response:
                status = response.status_code
                chunks, size = [], 0
                for chunk in _chunks(response):
                    size += len(chunk)
                    if size > MAX_ANSWER_BYTES:
                        raise ProviderUnavailable(f"{url} answered over {MAX_ANSWER_BYTES} bytes.")
                    if time.monotonic() > deadline:
                        self._unreachable_until = time.monotonic() + self._timeout
                        raise ProviderUnavailable(f"{url} answered too slowly.")
                    chunks.append(chunk)
        except requests.RequestException as e:
            if isinstance(e, (requests.Timeout, requests.ConnectionError)):
                self._unreachable_until = time.monotonic() + self._timeout
            raise ProviderUnavailable(f"{url} did not answer ({type(e).__name__}).") from None
        try:
            value = json.loads(b"".join(chunks), parse_constant=_not_json)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than Python goes
            value = None
        return status, value

    def _cached(
        self, cache: CacheBase, name: str, fetch: Callable[[], Any], *, fresh: bool
    ) -> Any:
        """``fetch()``, kept ``metadata_ttl_seconds``; past that, while the provider cannot
        be reached, the last value fetched (kept :data:`STALE_FACTOR` times longer): a JWT
        is verified with the keys known, as it would be by a service that cached them longer.
        A fetch asked ``fresh`` (keys refetched for a ``kid`` nobody knows) has no fallback:
        only the provider can tell of a key it made meanwhile."""
        key = f"{self._prefix}{name}"
        if not fresh:
            value = cache.get(key)
            if value is not None:
                return value
        try:
            value = fetch()
        except ProviderUnavailable as e:
            stale = None if fresh else cache.get(f"{key}:stale")
            if stale is None:
                raise
            logger.warning("openid.provider_unavailable: %s; the %s known is used", e, name)
            return stale
        cache.set(key, value, ttl=self._metadata_ttl)
        cache.set(f"{key}:stale", value, ttl=self._metadata_ttl * STALE_FACTOR)
        return value

    # Discovery ---------------------------------------------------------------------------------

    def metadata(self, cache: CacheBase) -> dict[str, Any]:
        """The provider's discovery document.

        :raises ProviderUnavailable: it cannot be read, is not a JSON object, names another
            issuer, or lacks ``jwks_uri`` or ``userinfo_endpoint``.
        """
        return self._cached(cache, "metadata", self._fetch_metadata, fresh=False)  # type: ignore[no-any-return]

    def _fetch_metadata(self) -> dict[str, Any]:
        status, document = self.call("GET", self.discovery_url)
        if status != 200 or not isinstance(document, dict):
            raise ProviderUnavailable(f"{self.discovery_url} answered {status}, not a document.")
        if document.get("issuer") != self.issuer:
            raise ProviderUnavailable(
                f"{self.discovery_url} names the issuer {document.get('issuer')!r}, "
                f"not {self.issuer!r}."
            )
        # An https issuer's keys and endpoints are https too: a plain-http one would let anyone
        # on the way serve keys of their own (and read the client secret).
        schemes = ("https://",) if self.issuer.startswith("https://") else ("https://", "http://")
        for field in _ENDPOINTS:
            value = document.get(field)
            if value is None and field in _OPTIONAL_ENDPOINTS:
                continue
            if not isinstance(value, str) or not value.startswith(schemes):
                raise ProviderUnavailable(
                    f"{self.discovery_url} has no valid {field} ({value!r}; expected "
                    f"{' or '.join(s[:-3] for s in schemes)})."
                )
        return document

    def endpoint(self, cache: CacheBase, field: str) -> str | None:
        """The URL the discovery document gives for ``field`` (``None`` when absent)."""
        value = self.metadata(cache).get(field)
        return (
            value if isinstance(value, str) and value.startswith(("https://", "http://")) else None
        )

    def algorithms(self, cache: CacheBase) -> frozenset[str]:
        """The public-key algorithms the provider signs tokens with."""
        listed = self.metadata(cache).get("id_token_signing_alg_values_supported")
        if not isinstance(listed, list):
            return frozenset(("RS256",))  # the one every provider must support
        return ASYMMETRIC_ALGORITHMS.intersection(a for a in listed if isinstance(a, str))

    # Keys --------------------------------------------------------------------------------------

    def keys(self, cache: CacheBase, *, refresh: bool = False) -> list[dict[str, Any]]:
        """The provider's signing keys (JWKS), fetched anew on ``refresh`` unless that was
        done less than ``jwks_refresh_seconds`` ago."""
        if refresh and self._jwks_refresh > 0:
            marker = f"{self._prefix}jwks_refreshed"
            if cache.get(marker) is not None:
                refresh = False
            else:
                cache.set(marker, True, ttl=self._jwks_refresh)
        return self._cached(  # type: ignore[no-any-return]
            cache, "jwks", lambda: self._fetch_keys(cache), fresh=refresh
        )

    def _fetch_keys(self, cache: CacheBase) -> list[dict[str, Any]]:
        url = self.metadata(cache)["jwks_uri"]
        status, document = self.call("GET", url)
        if (
            status != 200
            or not isinstance(document, dict)
            or not isinstance(document.get("keys"), list)
        ):
            raise ProviderUnavailable(f"{url} answered {status}, not a key set.")
        return [jwk for jwk in document["keys"] if isinstance(jwk, dict)]
