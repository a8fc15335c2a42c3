"""cliquet.json_body: the one reader of what clients send as JSON."""

import pytest
from cornice import Service
from pyramid.security import NO_PERMISSION_REQUIRED

from cliquet.errors import ERRORS
from cliquet.json_body import MAX_DEPTH, InvalidJSON, loads
from cliquet.testing.web import build_app


@pytest.mark.parametrize(
    "text",
    ["0", "-0", "1.5", "1e300", "5e-324", "9223372036854775807", "-9223372036854775808",
     "0.10000000000000001", '"\\u00e9"', '{"a": [true, null, "b"]}'],
)
def test_json_every_backend_keeps_is_read(text):
    import json

    assert loads(text) == json.loads(text)


@pytest.mark.parametrize(
    "text, name, errno",
    [
        ('{"a": NaN}', "a", ERRORS.BADJSON),
        ('[1, -Infinity]', "1", ERRORS.BADJSON),
        ('{"a": {"b": 1e400}}', "a.b", ERRORS.INVALID_PARAMETERS),
        ('{"a": 9223372036854775808}', "a", ERRORS.INVALID_PARAMETERS),
        ('{"a": -9223372036854775809}', "a", ERRORS.INVALID_PARAMETERS),
        ('{"a": 1e-400}', "a", ERRORS.INVALID_PARAMETERS),
        ('{"a": 1.000000000000000000001}', "a", ERRORS.INVALID_PARAMETERS),
        ('{"a": "\\ud800"}', "a", ERRORS.INVALID_PARAMETERS),
        ('{"a": ["\\u0000"]}', "a.0", ERRORS.INVALID_PARAMETERS),
        ('{"a": {"\\udc00": 1}}', "a", ERRORS.INVALID_PARAMETERS),
        ('{"a": 1', None, ERRORS.BADJSON),
        (b'"\xff"', None, ERRORS.BADJSON),
    ],
)
def test_refusals_name_the_value(text, name, errno):
    with pytest.raises(InvalidJSON) as caught:
        loads(text)
    assert (caught.value.name, caught.value.errno) == (name, errno)


def test_integers_of_thousands_of_digits_are_refused_as_integers():
    with pytest.raises(InvalidJSON) as caught:
        loads("[" + "9" * 10000 + "]")
    assert caught.value.name == "0"


def test_depth_is_bounded():
    assert loads("[" * MAX_DEPTH + "]" * MAX_DEPTH)
    with pytest.raises(InvalidJSON):
        loads("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    with pytest.raises(InvalidJSON):
        loads("[" * 100000 + "]" * 100000)


def test_cornice_services_of_extensions_read_bodies_with_it():
    def setup(config):
        echo = Service(name="echo", path="/echo")

        @echo.post(permission=NO_PERMISSION_REQUIRED)
        def post(request):
            return {"got": request.json_body}

        config.add_cornice_service(echo)

    app = build_app(setup=setup)
    assert app.post_json("/v1/echo", {"a": 1}).json == {"got": {"a": 1}}
    response = app.post(
        "/v1/echo", b'{"a": NaN}', content_type="application/json", expect_errors=True
    )
    assert response.status_code == 400
    assert response.json["errno"] == ERRORS.BADJSON
    assert response.json["details"][0]["name"] == "a"
