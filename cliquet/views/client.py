"""``/__client__/``: the JavaScript client (``cliquet-client``) served by every service.

The files are the build of ``clients/js`` (``npm run build`` writes them into
``cliquet/static/client/``; ``npm run check-build`` fails when they differ from the sources),
shipped in the wheel as package data: a page served anywhere can load the client from the
service it talks to, at the version that service runs. Read once at start-up; the setting
``cliquet.client_enabled`` turns the endpoint and its capability off.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from pyramid.exceptions import ConfigurationError
from pyramid.httpexceptions import HTTPNotFound
from pyramid.response import Response

from cliquet.errors import ERRORS, http_error

__all__ = ["includeme", "FILES"]

#: The files served, in the order the index and the capability list them.
FILES = ("cliquet-client.js", "cliquet-client.mjs")

# The URLs do not change between versions: browsers revalidate (ETag) after a short while.
_CACHE_CONTROL = "public, max-age=300"


@dataclass(frozen=True)
class _Asset:
    body: bytes
    etag: str


def _version(body: bytes) -> str:
    # The bundles start with "/* cliquet-client <version>: ..." (clients/js/scripts/build.mjs).
    first = body.split(b"\n", 1)[0].decode("utf-8", "replace").split()
    return first[2].rstrip(":") if len(first) > 2 else ""


def _load_assets() -> dict[str, _Asset]:
    folder = resources.files("cliquet") / "static" / "client"
    assets = {}
    for name in FILES:
        try:
            body = (folder / name).read_bytes()
        except OSError:
            raise ConfigurationError(
                f"Invalid value for setting 'cliquet.client_enabled': the JavaScript client is "
                f"not installed (cliquet/static/client/{name}); build it (npm run build in "
                "clients/js) or set cliquet.client_enabled = false."
            ) from None
        assets[name] = _Asset(body, f'"{hashlib.sha256(body).hexdigest()[:32]}"')
    return assets


def includeme(config: Any) -> None:
    from cliquet.views import add_open_services

    if not config.get_settings()["cliquet.client_enabled"]:
        return
    assets = _load_assets()
    version = _version(assets[FILES[0]].body)

    def index(request: Any) -> dict[str, Any]:
        files = {name: request.route_url("client_file", name=name) for name in FILES}
        return {"version": version, "files": files}

    def serve(request: Any) -> Response:
        asset = assets.get(request.matchdict["name"])
        if asset is None:
            raise http_error(
                HTTPNotFound(), errno=ERRORS.MISSING_RESOURCE, message="No such client file."
            )
        if asset.etag.strip('"') in request.if_none_match:
            response = Response(status=304)
        else:
            response = Response(body=asset.body, content_type="text/javascript", charset="utf-8")
        # Set one by one: ``headers=`` would replace the Content-Type.
        response.headers["ETag"] = asset.etag
        response.headers["Cache-Control"] = _CACHE_CONTROL
        return response

    add_open_services(
        config,
        "GET",
        [
            ("client", "/__client__/", index, "The files of the JavaScript client"),
            (
                "client_file",
                "/__client__/{name}",
                serve,
                "A file of the JavaScript client",
                "text/javascript",
            ),
        ],
    )
    prefix = config.registry.route_prefix
    config.add_api_capability(
        "client",
        description="The JavaScript client (cliquet-client): offline store and sync.",
        url=f"/{prefix}/__client__/",
        files=list(FILES),
        version=version,
    )
