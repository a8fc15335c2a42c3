"""A backend that goes away mid-run: 503 errno 201 with Retry-After, then 2xx again once it is
back, without restarting the service. The service talks to the real server through a TCP proxy
that the test stops (cutting every connection) and starts again."""

import socket
import threading
import urllib.parse

import pytest

from cliquet.testing.web import basic_auth, build_app
from tests.servers import server_address


class Proxy:
    """A TCP relay on 127.0.0.1 that can be cut and restored on the same port."""

    def __init__(self, target):
        self.target = target  # (host, port)
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._sockets = []
        self._listener = None
        self._lock = threading.Lock()

    def start(self):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, destination):
        try:
            while data := source.recv(65536):
                destination.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, destination):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self):
        """Refuse new connections and cut the open ones."""
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def _via_proxy(url, proxy):
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{proxy.port}"
    netloc = f"{netloc[0]}@{host}" if len(netloc) == 2 else host
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _check(app, proxy):
    auth = basic_auth()
    assert (
        app.post_json("/v1/articles", {"data": {"title": "a"}}, headers=auth).status
        == "201 Created"
    )
    proxy.stop()
    for _ in range(3):
        response = app.get("/v1/articles", headers=auth, status=503)
        assert response.json["errno"] == 201
        assert response.headers["Retry-After"] == "30"
        response = app.post_json(
            "/v1/articles", {"data": {"title": "b"}}, headers=auth, status=503
        )
        assert response.json["errno"] == 201
    heartbeat = app.get("/v1/__heartbeat__", status=503)
    assert heartbeat.json["storage"] is False
    proxy.start()
    assert app.post_json("/v1/articles", {"data": {"title": "c"}}, headers=auth).status_code == 201
    titles = sorted(r["title"] for r in app.get("/v1/articles", headers=auth).json["data"])
    assert titles == ["a", "c"]
    assert app.get("/v1/__heartbeat__").json["storage"] is True


def _serve(settings):
    return build_app(
        {**settings, "cliquet.storage_pool_timeout_seconds": "3"},
        setup=lambda config: config.scan("tests.resource.testapp"),
    )


@pytest.mark.postgresql
def test_postgresql_outage_gives_503_then_recovers(postgresql_url):
    proxy = Proxy(server_address(postgresql_url))
    proxy.start()
    url = _via_proxy(postgresql_url, proxy)
    app = _serve(
        {
            "cliquet.storage_backend": "cliquet.storage.sql",
            "cliquet.storage_url": url,
            "cliquet.migrate_on_startup": "true",
        }
    )
    try:
        _check(app, proxy)
    finally:
        app.app.registry.storage.flush()
        app.app.registry.storage.engine.dispose()
        proxy.stop()


@pytest.mark.redis
def test_redis_outage_gives_503_then_recovers(redis_url, redis_prefix):
    proxy = Proxy(server_address(redis_url))
    proxy.start()
    app = _serve(
        {
            "cliquet.storage_backend": "cliquet.storage.redis",
            "cliquet.storage_url": _via_proxy(redis_url, proxy),
            "cliquet.storage_prefix": redis_prefix,
        }
    )
    try:
        _check(app, proxy)
    finally:
        app.app.registry.storage.flush()
        proxy.stop()
