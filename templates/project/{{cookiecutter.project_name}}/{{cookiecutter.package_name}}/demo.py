"""``/v1/__demo__/``: a page that lists, creates and syncs articles with the JavaScript client.

development.ini includes this module (``cliquet.includes``), production.ini does not. The page
is served by the service itself, beside the client it loads (``/v1/__client__/``): open it, go
offline, write, come back online and sync. Edit ``demo.html`` freely; it is yours.
"""

from importlib import resources

import cliquet
from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED


def includeme(config):
    """Serve ``demo.html`` at ``/__demo__/`` (under the API prefix: ``/v1/__demo__/``)."""
    page = (resources.files(__package__) / "demo.html").read_bytes()

    def demo(request):
        return Response(body=page, content_type="text/html", charset="utf-8")

    service = cliquet.make_service(
        config, "demo", "/__demo__/", description="Demo page", media_type="text/html"
    )
    service.add_view("GET", demo, permission=NO_PERMISSION_REQUIRED)
    config.add_cornice_service(service)
