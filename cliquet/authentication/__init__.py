"""Authentication: basic auth turned into a stable, non-reversible user id.

Any user/password pair is accepted: the pair *is* the account. A pair that cannot be an
account is refused (401 errno 105) rather than served anonymously or as an account of its own:
an empty or blank user or password, text that is not UTF-8, control characters. A header
that is not basic credentials at all (another scheme, not base64, no ``:``) is left to the
other policies and, failing them, is anonymous.
Its user id is ``basicauth:<hex HMAC-SHA256 of "user:password">`` keyed by
``cliquet.userid_hmac_secret``, so that the password is never stored and two services with
different secrets see different ids.
Other policies (an OAuth one, say) are added through ``multiauth.policies``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

from pyramid.authentication import BasicAuthAuthenticationPolicy as _PyramidBasicAuth
from pyramid.httpexceptions import HTTPUnauthorized

from cliquet.errors import ERRORS, http_error

__all__ = [
    "BasicAuthAuthenticationPolicy",
    "InvalidCredentials",
    "basicauth_userid",
    "configured_policies",
    "hmac_digest",
    "read_basic_credentials",
    "weak_userid_hmac_secret",
]


def hmac_digest(secret: str, message: str) -> str:
    """Hex HMAC-SHA256 of ``message`` keyed by ``secret``."""
    return hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def basicauth_userid(secret: str, username: str, password: str) -> str:
    """The user id that basic auth gives the pair ``username``/``password``."""
    return "basicauth:" + hmac_digest(secret, f"{username}:{password}")


_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")

# What a secret is when someone copied an example instead of making one.
_PLACEHOLDER_SECRETS = frozenset(
    ("...", "changeme", "change-me", "change_me", "secret", "xxx", "todo", "<secret>", "none")
)
# Shortest secret taken when one is required: a long random string, say the docs.
MIN_SECRET_LENGTH = 16
# Fewest distinct characters of such a secret: 16 random hex digits have 10 on average, and
# "aaaa..." or "1234" repeated is a key someone typed, not one they generated.
MIN_SECRET_DISTINCT_CHARACTERS = 6


def weak_userid_hmac_secret(settings: Mapping[str, Any], *, required: bool = False) -> str | None:
    """What is wrong with ``cliquet.userid_hmac_secret`` for the basic-auth policies.

    ``None`` when no policy of ``multiauth.policies`` is basic auth (an OpenID Connect
    service needs no such secret) or the secret is fine. Empty is always wrong; when
    ``required`` (``cliquet.userid_hmac_secret_required``, set by a generated
    ``production.ini``), a placeholder (``...``, ``changeme``), a short secret or one of too
    few distinct characters (``aaaa...``) too.
    """
    if not _uses_basic_auth(settings):
        return None
    secret = str(settings.get("cliquet.userid_hmac_secret") or "")
    if not secret.strip():
        return "is empty"
    if not required:
        return None
    if secret.strip().lower() in _PLACEHOLDER_SECRETS:
        return f"is the placeholder {secret!r}"
    if len(secret) < MIN_SECRET_LENGTH:
        return f"is shorter than {MIN_SECRET_LENGTH} characters"
    if len(set(secret)) < MIN_SECRET_DISTINCT_CHARACTERS:
        return f"has too few distinct characters ({len(set(secret))}): it is not random"
    return None


def _uses_basic_auth(settings: Mapping[str, Any]) -> bool:
    return any(
        isinstance(factory, type) and issubclass(factory, _PyramidBasicAuth)
        for _, factory, _ in configured_policies(settings)
    )


def configured_policies(settings: Mapping[str, Any]) -> list[tuple[str, Any, dict[str, Any]]]:
    """The policies of ``multiauth.policies`` whose ``use`` resolves: each name, factory and
    own settings (``multiauth.policy.<name>.*``, the prefix removed). pyramid_multiauth
    reports the others."""
    from pyramid.path import DottedNameResolver

    resolver = DottedNameResolver()
    found = []
    for name in str(settings.get("multiauth.policies") or "").split():
        use = settings.get(f"multiauth.policy.{name}.use")
        try:
            factory = resolver.maybe_resolve(use) if use else None
        except (ImportError, AttributeError, ValueError):
            continue
        if factory is not None:
            prefix = f"multiauth.policy.{name}."
            options = {k[len(prefix) :]: v for k, v in settings.items() if k.startswith(prefix)}
            found.append((name, factory, options))
    return found


class InvalidCredentials(ValueError):
    """Basic credentials were sent, and they cannot be an account."""


def read_basic_credentials(authorization: str) -> tuple[str, str] | None:
    """The user and password of an ``Authorization: Basic ...`` header value.

    :returns: ``None`` when the value is not basic credentials (other scheme, not base64,
        no ``:``).
    :raises InvalidCredentials: they are, but the user or the password is empty or blank,
        either is not UTF-8 or holds a control character.
    """
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, colon, password = raw.partition(b":")
    if not colon:
        return None
    try:
        username, secret = user.decode("utf-8"), password.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidCredentials("The user name and password must be UTF-8.") from None
    if not username.strip() or not secret.strip():
        raise InvalidCredentials("Basic auth needs both a user name and a password.")
    if _CONTROL_CHARACTERS.search(username + secret):
        raise InvalidCredentials("The user name and password hold a control character.")
    return username, secret


class BasicAuthAuthenticationPolicy(_PyramidBasicAuth):
    """Basic auth where every credential pair authenticates as its own HMAC user id.

    Named by ``multiauth.policy.basicauth.use`` in the default settings; extra
    ``multiauth.policy.basicauth.<key>`` settings are passed as keyword arguments
    (``realm`` for instance).
    """

    def __init__(self, *, realm: str = "Realm", **kwargs: Any) -> None:
        super().__init__(check=self._check, realm=realm, **kwargs)

    @staticmethod
    def _check(username: str, password: str, request: Any) -> list[str]:
        return []

    def unauthenticated_userid(self, request: Any) -> str | None:
        cached = request.environ.get("cliquet.basicauth_userid", False)
        if cached is not False:
            return cached
        try:
            credentials = read_basic_credentials(request.headers.get("Authorization", ""))
        except InvalidCredentials as e:
            raise self._refuse(request, str(e)) from None
        userid = None
        if credentials is not None:
            secret = request.registry.settings.get("cliquet.userid_hmac_secret", "")
            userid = basicauth_userid(secret, *credentials)
        request.environ["cliquet.basicauth_userid"] = userid
        return userid

    def _refuse(self, request: Any, message: str) -> HTTPUnauthorized:
        # Raised while a view or a permission check asks who the user is: the error views
        # answer it, and nothing has been done for that request yet.
        error = http_error(HTTPUnauthorized(), errno=ERRORS.INVALID_AUTH_TOKEN, message=message)
        error.headers.extend(self.forget(request))
        return error
