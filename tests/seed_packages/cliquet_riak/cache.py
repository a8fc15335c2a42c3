"""The seed's custom cache backend, with the rest of the API filled in."""

import time
import urllib.parse as urlparse

from riak import RiakClient

from cliquet.cache import CacheBase


class Riak(CacheBase):
    def __init__(self, **kwargs):
        self._client = RiakClient(**kwargs)
        self._bucket = self._client.bucket("cache")

    def initialize_schema(self):
        pass

    def flush(self):
        for key in self._bucket.get_keys():
            self._bucket.get(key).delete()

    def set(self, key, value, ttl=None):
        expires = None
        if ttl is not None:
            expires = time.time() + ttl
        key = self._bucket.new(key, data={"value": value, "expires": expires})
        key.store()

    def _fetch(self, key):
        fetched = self._bucket.get(key)
        if fetched.data is None:
            return None
        expires = fetched.data["expires"]
        if expires is not None and expires <= time.time():
            fetched.delete()
            return None
        return fetched.data

    def get(self, key):
        data = self._fetch(key)
        return None if data is None else data["value"]

    def ttl(self, key):
        data = self._fetch(key)
        if data is None or data["expires"] is None:
            return -1
        return max(0, int(round(data["expires"] - time.time())))

    def expire(self, key, ttl):
        data = self._fetch(key)
        if data is not None:
            self.set(key, data["value"], ttl=ttl)

    def delete(self, key):
        self._bucket.get(key).delete()


def load_from_config(config):
    settings = config.get_settings()
    uri = settings["cliquet.cache_url"]
    uri = urlparse.urlparse(uri)

    return Riak(pb_port=uri.port or 8087)
