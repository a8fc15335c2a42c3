"""The seed's indexer, over an in-process stand-in for the Elasticsearch client.

The seed's ``Indexer`` talks to ``elasticsearch.Elasticsearch(hosts)``; ``Elasticsearch``
here keeps the documents in the process and understands the two queries the tests send
(``match_all`` and ``match`` on one field), answering in Elasticsearch's shape.
"""

import json
import logging

logger = logging.getLogger(__name__)


class ElasticsearchException(Exception):
    pass


class Elasticsearch:
    """In-process stand-in for ``elasticsearch.Elasticsearch``."""

    def __init__(self, hosts):
        self.hosts = hosts
        self.indices = {}

    def index(self, index, doc_type, id, body, refresh=False):
        self.indices.setdefault(index, {})[id] = dict(body)
        return {"_index": index, "_type": doc_type, "_id": id, "created": True}

    def delete(self, index, doc_type, id, refresh=False):
        self.indices.get(index, {}).pop(id, None)
        return {"_index": index, "_type": doc_type, "_id": id, "found": True}

    def search(self, index, doc_type, body, **kwargs):
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        try:
            query = (json.loads(body) if body else {}).get("query", {"match_all": {}})
        except (ValueError, AttributeError) as e:
            raise ElasticsearchException(f"Invalid query: {e}") from None
        documents = self.indices.get(index, {})
        if "match" in query:
            ((field, value),) = query["match"].items()
            hits = {i: d for i, d in documents.items() if d.get(field) == value}
        else:
            hits = dict(documents)
        return {
            "hits": {
                "total": len(hits),
                "hits": [
                    {"_index": index, "_type": doc_type, "_id": i, "_source": d}
                    for i, d in sorted(hits.items())
                ],
            }
        }


class Indexer:
    def __init__(self, hosts):
        self.client = Elasticsearch(hosts)

    def search(self, collection_id, query, **kwargs):
        try:
            return self.client.search(
                index=collection_id, doc_type=collection_id, body=query, **kwargs
            )
        except ElasticsearchException as e:
            logger.error(e)
            raise

    def index_record(self, collection_id, record, id_field):
        record_id = record[id_field]
        try:
            index = self.client.index(
                index=collection_id,
                doc_type=collection_id,
                id=record_id,
                body=record,
                refresh=True,
            )
            return index
        except ElasticsearchException as e:
            logger.error(e)
            raise

    def unindex_record(self, collection_id, record, id_field):
        """Not in the seed: what the subscriber-based variant needs for deletions."""
        record_id = record[id_field]
        try:
            return self.client.delete(
                index=collection_id, doc_type=collection_id, id=record_id, refresh=True
            )
        except ElasticsearchException as e:
            logger.error(e)
            raise


def load_from_config(config):
    settings = config.get_settings()
    hosts = settings.get("cliquet_indexing.hosts", "localhost:9200").split()
    return Indexer(hosts)
