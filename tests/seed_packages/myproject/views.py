import colander
from cornice import Service
from cornice.validators import colander_body_validator

greeting = Service(name="greeting", path="/greeting", description="Say hello")


class GreetingSchema(colander.MappingSchema):
    name = colander.SchemaNode(colander.String())


@greeting.get()
def get_greeting(request):
    return {"hello": "world"}


@greeting.post(schema=GreetingSchema(), validators=(colander_body_validator,))
def post_greeting(request):
    return {"hello": request.validated["name"]}
