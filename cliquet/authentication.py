"""Authentication: basic auth turned into a stable, non-reversible user id.

Any user/password pair is accepted: the pair *is* the account. Its user id is
``basicauth:<hex HMAC-SHA256 of "user:password">`` keyed by ``cliquet.userid_hmac_secret``, so
that the password is never stored and two services with different secrets see different ids.
Other policies (an OAuth one, say) are added through ``multiauth.policies``.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from pyramid.authentication import BasicAuthAuthenticationPolicy as _PyramidBasicAuth
from pyramid.authentication import extract_http_basic_credentials

__all__ = ["BasicAuthAuthenticationPolicy", "hmac_digest", "basicauth_userid"]


def hmac_digest(secret: str, message: str) -> str:
    """Hex HMAC-SHA256 of ``message`` keyed by ``secret``."""
    return hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def basicauth_userid(secret: str, username: str, password: str) -> str:
    """The user id that basic auth gives the pair ``username``/``password``."""
    return "basicauth:" + hmac_digest(secret, f"{username}:{password}")


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
        credentials = extract_http_basic_credentials(request)
        userid = None
        if credentials is not None and (credentials.username or credentials.password):
            secret = request.registry.settings.get("cliquet.userid_hmac_secret", "")
            userid = basicauth_userid(secret, credentials.username, credentials.password)
        request.environ["cliquet.basicauth_userid"] = userid
        return userid
