"""The seed's indexed resource, as written (two typos fixed, see the comments)."""

import cliquet.resource


class IndexedModel(cliquet.resource.Model):
    def create_record(self, record, *args, **kwargs):
        # Seed: ``super(...).create_record(self, record)`` passed ``self`` twice, and dropped
        # the keyword arguments (``unique_fields``) the resource passes.
        r = super().create_record(record, *args, **kwargs)

        # Seed: ``self.indexer.index_record(self, record)``; the indexer's signature is
        # ``index_record(collection_id, record, id_field)``, and the stored record has its id.
        self.indexer.index_record(self.collection_id, r, self.id_field)

        return r


class IndexedResource(cliquet.resource.UserResource):
    # Not in the seed, which leaves out how the resource gets its model: this is how.
    default_model = IndexedModel

    def __init__(self, request):
        super().__init__(request)
        self.model.indexer = request.registry.indexer
