import colander
from cliquet_indexing.resource import IndexedResource

from cliquet import resource


class BookmarkSchema(resource.ResourceSchema):
    url = colander.SchemaNode(colander.String())
    title = colander.SchemaNode(colander.String(), missing=colander.drop)


@resource.register()
class Bookmark(IndexedResource):
    schema = BookmarkSchema
