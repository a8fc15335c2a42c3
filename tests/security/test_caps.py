"""Item 13: cheap requests that would cost seconds are refused by default caps (400 errno 107,
413 errno 113 for a body over the size limit), alone and inside a batch."""

import json

import pytest

from cliquet.errors import ERRORS
from tests.security.hostile import assert_refused, send

JSON = {"Content-Type": "application/json"}

CAPPED = [
    pytest.param("_sort=" + ",".join(f"author.k{i}" for i in range(300)), "_sort", id="sort-300"),
    pytest.param("_sort=" + ",".join(f"author.k{i}" for i in range(500)), "_sort", id="sort-500"),
    pytest.param("&".join(f"author.k{i}=1" for i in range(1200)), None, id="filters-1200"),
    pytest.param("&".join(f"min_author.k{i}=1" for i in range(300)), None, id="filters-300"),
    pytest.param("in_title=" + ",".join(map(str, range(5000))), "title", id="in-5000"),
    pytest.param("exclude_title=" + ",".join(map(str, range(5000))), "title", id="exclude-5000"),
    pytest.param(
        "in_last_modified=" + ",".join(map(str, range(3000))), "last_modified", id="in-ts-3000"
    ),
]


@pytest.mark.parametrize("query, name", CAPPED)
def test_costly_lists_are_refused(app, alice, query, name):
    answer = send(app, "GET", f"/v1/articles?{query}", None, alice)
    assert_refused(answer, status=400, errno=ERRORS.INVALID_PARAMETERS, name=name)


@pytest.mark.parametrize("query, name", CAPPED)
def test_costly_deletes_are_refused(app, alice, query, name):
    kept = app.post_json("/v1/articles", {"data": {"title": "kept"}}, headers=alice).json["data"]
    answer = send(app, "DELETE", f"/v1/articles?{query}", None, alice)
    assert_refused(answer, status=400, errno=ERRORS.INVALID_PARAMETERS, name=name)
    assert app.get("/v1/articles", headers=alice).json["data"] == [kept]


def test_a_batch_of_costly_lists_is_refused(app, alice):
    sort = ",".join(f"author.k{i}" for i in range(300))
    body = {"requests": [{"method": "GET", "path": f"/articles?_sort={sort}"}] * 25}
    answer = send(app, "POST", "/v1/batch", json.dumps(body).encode(), {**alice, **JSON})
    if answer.status == 200:
        for slot in answer.json()["responses"]:
            assert slot["status"] == 400, answer
            assert slot["body"]["errno"] == ERRORS.INVALID_PARAMETERS, answer
    else:
        assert_refused(answer, status=400, errno=ERRORS.INVALID_PARAMETERS)


@pytest.mark.parametrize("size", [2 * 1024 * 1024, 8 * 1024 * 1024], ids=["2MB", "8MB"])
def test_a_huge_batch_body_is_refused(app, alice, nothing_stored, size):
    filler = "x" * (size // 25)
    body = {
        "requests": [{"method": "POST", "path": "/articles", "body": {"data": {"title": filler}}}]
        * 25
    }
    answer = send(app, "POST", "/v1/batch", json.dumps(body).encode(), {**alice, **JSON})
    assert_refused(answer)
    assert (answer.status, answer.json()["errno"]) in ((400, 107), (413, 113)), answer
    nothing_stored()


@pytest.mark.parametrize("size", [2 * 1024 * 1024], ids=["2MB"])
@pytest.mark.parametrize("method, path", [("POST", "/v1/articles"), ("POST", "/v1/notes")])
def test_a_huge_record_body_is_refused(app, alice, nothing_stored, size, method, path):
    body = json.dumps({"data": {"title": "x" * size, "text": "x"}}).encode()
    answer = send(app, method, path, body, {**alice, **JSON})
    assert_refused(answer)
    assert (answer.status, answer.json()["errno"]) in ((400, 107), (413, 113)), answer
    nothing_stored()


def test_a_batch_with_too_many_requests_is_refused(app, alice, nothing_stored):
    body = {
        "requests": [{"method": "POST", "path": "/articles", "body": {"data": {"title": "x"}}}]
    }
    body["requests"] *= 26
    answer = send(app, "POST", "/v1/batch", json.dumps(body).encode(), {**alice, **JSON})
    assert_refused(answer, status=400, errno=ERRORS.INVALID_PARAMETERS, name="requests")
    nothing_stored()


def _over(setting, count):
    """A list querystring using ``count`` of what ``setting`` caps."""
    if setting == "cliquet.max_sort_fields":
        return "_sort=" + ",".join(f"author.k{i}" for i in range(count))
    if setting == "cliquet.max_filters":
        return "&".join(f"author.k{i}=1" for i in range(count))
    return "in_title=" + ",".join(map(str, range(count)))


CAP_SETTINGS = ["cliquet.max_sort_fields", "cliquet.max_filters", "cliquet.max_in_values"]


@pytest.mark.parametrize("setting", CAP_SETTINGS)
def test_the_caps_are_settings(make_resource_app, alice, setting):
    from cliquet.settings import DEFAULT_SETTINGS

    assert setting in DEFAULT_SETTINGS, f"no {setting}"
    cap = int(DEFAULT_SETTINGS[setting])
    app = make_resource_app()
    at_cap = send(app, "GET", f"/v1/articles?{_over(setting, cap)}", None, alice)
    assert at_cap.status == 200, at_cap
    over = send(app, "GET", f"/v1/articles?{_over(setting, cap + 1)}", None, alice)
    assert_refused(over, status=400, errno=ERRORS.INVALID_PARAMETERS)
    # A service may raise it: what the default refuses is then served.
    raised = make_resource_app(settings={setting: str(cap * 2)})
    answer = send(raised, "GET", f"/v1/articles?{_over(setting, cap + 1)}", None, alice)
    assert answer.status == 200, answer
