from cornice import Service

search = Service(name="search", path="/search/{collection_id}/", description="Search")


@search.post()
def get_search(request):
    collection_id = request.matchdict["collection_id"]
    query = request.body

    # Access indexer from views using registry.
    indexer = request.registry.indexer
    results = indexer.search(collection_id, query)

    return results
