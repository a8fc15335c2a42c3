"""The service's resources: each class registered here is served once ``main`` scans it."""

import colander
from cliquet import resource


class ArticleSchema(resource.ResourceSchema):
    """What an article holds; cliquet adds ``id`` and ``last_modified``."""

    title = colander.SchemaNode(colander.String())
    body = colander.SchemaNode(colander.String(), missing=colander.drop)


@resource.register()
class Article(resource.UserResource):
    """``/v1/articles`` and ``/v1/articles/{id}``: each user sees only their own articles."""

    schema = ArticleSchema
