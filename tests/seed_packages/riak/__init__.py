"""An in-process stand-in for the ``riak`` client: the calls the seed's cache makes."""

import copy
import json


class RiakObject:
    def __init__(self, bucket, key, data=None):
        self.bucket = bucket
        self.key = key
        self.data = data

    def store(self):
        # Like the real client, data is JSON-encoded on its way to the server.
        self.bucket._objects[self.key] = json.loads(json.dumps(self.data))
        return self

    def delete(self):
        self.bucket._objects.pop(self.key, None)


class RiakBucket:
    def __init__(self, name):
        self.name = name
        self._objects = {}

    def new(self, key, data=None):
        return RiakObject(self, key, data)

    def get(self, key):
        return RiakObject(self, key, copy.deepcopy(self._objects.get(key)))

    def get_keys(self):
        return list(self._objects)


class RiakClient:
    def __init__(self, host="127.0.0.1", pb_port=8087):
        self.host = host
        self.pb_port = pb_port
        self._buckets = {}

    def bucket(self, name):
        return self._buckets.setdefault(name, RiakBucket(name))
