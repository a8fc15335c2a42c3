"""The test service of the resource protocol: one private and one shareable resource."""

import colander

from cliquet import resource


class ArticleSchema(resource.ResourceSchema):
    title = colander.SchemaNode(colander.String())
    body = colander.SchemaNode(colander.String(), missing=colander.drop)
    rank = colander.SchemaNode(colander.Integer(), missing=colander.drop)
    author = colander.SchemaNode(
        colander.Mapping(unknown="preserve"), missing=colander.drop
    )
    tags = colander.SchemaNode(
        colander.Sequence(), colander.SchemaNode(colander.String()), missing=colander.drop
    )
    read = colander.SchemaNode(colander.Boolean(), missing=colander.drop)


@resource.register()
class Article(resource.UserResource):
    schema = ArticleSchema
    indexed_fields = ("title", "rank")


class NoteSchema(resource.ResourceSchema):
    text = colander.SchemaNode(colander.String())
    code = colander.SchemaNode(colander.String(), missing=colander.drop)

    class Options:
        readonly_fields = ("code",)
        preserve_unknown = True


@resource.register(name="note")
class Note(resource.ShareableResource):
    schema = NoteSchema
    unique_fields = ("code",)
