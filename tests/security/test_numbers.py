"""Item 11: non-finite numbers are refused, others round-trip exactly or are refused (400),
and no write, accepted or refused, makes a collection unreadable."""

import json

import pytest

from tests.security.hostile import assert_answered, assert_refused, send

JSON = {"Content-Type": "application/json"}

# Raw JSON number texts Python's json module reads as non-finite floats.
NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1E999"]
# Each must come back exactly (same type, same value) or be refused.
FINITE = {
    "1e300": 1e300,
    "-1e300": -1e300,
    "0.1": 0.1,
    "1.7976931348623157e308": 1.7976931348623157e308,
    "5e-324": 5e-324,
    "2.2250738585072014e-308": 2.2250738585072014e-308,
    "123456789.123456789": 123456789.123456789,
    "-0.0": -0.0,
    "9007199254740993": 2**53 + 1,
    "-9223372036854775808": -(2**63),
    "9223372036854775807": 2**63 - 1,
    "18446744073709551616": 2**64,
    "-18446744073709551617": -(2**64) - 1,
    "123456789012345678901234567890": 123456789012345678901234567890,
}

# Where a number goes: (collection, JSON body text around NUMBER, how to read it back).
PLACES = {
    "article-author-field": (
        "articles",
        '{"data": {"title": "n", "author": {"v": NUMBER}}}',
        lambda r: r["author"]["v"],
    ),
    "article-nested-list": (
        "articles",
        '{"data": {"title": "n", "author": {"v": [1, {"w": NUMBER}]}}}',
        lambda r: r["author"]["v"][1]["w"],
    ),
    "article-rank": ("articles", '{"data": {"title": "n", "rank": NUMBER}}', lambda r: r["rank"]),
    "note-unknown-field": ("notes", '{"data": {"text": "n", "v": NUMBER}}', lambda r: r["v"]),
}
INTEGER_ONLY = {"article-rank"}


LIST_QUERIES = {
    "articles": ("", "?_sort=author.v", "?_sort=-rank", "?has_rank=true", "?min_author.v=0"),
    "notes": ("", "?_sort=-text", "?_since=0"),
}


def _lists_answer(app, alice, collection):
    for query in LIST_QUERIES[collection]:
        answer = send(app, "GET", f"/v1/{collection}{query}", None, alice)
        assert_answered(answer)
        assert answer.status == 200, answer


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("number", NON_FINITE)
def test_non_finite_numbers_are_refused(app, alice, nothing_stored, place, number):
    collection, template, _ = PLACES[place]
    body = template.replace("NUMBER", number).encode()
    answer = send(app, "POST", f"/v1/{collection}", body, {**alice, **JSON})
    assert_refused(answer, status=400)
    nothing_stored()
    _lists_answer(app, alice, collection)


@pytest.mark.parametrize("number", NON_FINITE)
@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_non_finite_numbers_are_refused_on_record_writes(app, alice, method, number):
    record = app.post_json("/v1/articles", {"data": {"title": "kept"}}, headers=alice).json
    path = f"/v1/articles/{record['data']['id']}"
    body = f'{{"data": {{"title": "x", "author": {{"v": {number}}}}}}}'.encode()
    answer = send(app, method, path, body, {**alice, **JSON})
    assert_refused(answer, status=400)
    assert app.get(path, headers=alice).json["data"] == record["data"]
    _lists_answer(app, alice, "articles")


@pytest.mark.parametrize("number", NON_FINITE)
def test_non_finite_numbers_are_refused_in_a_batch(app, alice, nothing_stored, number):
    body = (
        '{"requests": [{"method": "POST", "path": "/articles", '
        f'"body": {{"data": {{"title": "x", "author": {{"v": {number}}}}}}}}}]}}'
    ).encode()
    answer = send(app, "POST", "/v1/batch", body, {**alice, **JSON})
    if answer.status == 200:
        slot = answer.json()["responses"][0]
        assert slot["status"] == 400, answer
    else:
        assert_refused(answer, status=400)
    nothing_stored()
    _lists_answer(app, alice, "articles")


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("number", FINITE)
@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_numbers_round_trip_exactly_or_are_refused(app, alice, nothing_stored, place, number):
    collection, template, read = PLACES[place]
    value = FINITE[number]
    body = template.replace("NUMBER", number).encode()
    answer = send(app, "POST", f"/v1/{collection}", body, {**alice, **JSON})
    if answer.status == 400:
        assert_refused(answer, status=400)
        nothing_stored()
    else:
        assert_answered(answer)
        assert answer.status == 201, answer
        record = answer.json()["data"]
        if place in INTEGER_ONLY and isinstance(value, float):
            # The schema says integer: stored as the integer it is, or refused.
            assert read(record) == int(value) and isinstance(read(record), int), answer
            value = int(value)
        fetched = app.get(f"/v1/{collection}/{record['id']}", headers=alice).json["data"]
        listed = {r["id"]: r for r in app.get(f"/v1/{collection}", headers=alice).json["data"]}
        for where, got in (("answer", record), ("GET", fetched), ("list", listed[record["id"]])):
            stored_value = read(got)
            assert type(stored_value) is type(value), f"{where}: {stored_value!r} for {number}"
            # -0.0 and 0.0 are one JSON number (RFC 8259 does not tell them apart).
            exact = value if value != 0 else abs(value)
            assert json.dumps(stored_value if value != 0 else abs(stored_value)) == json.dumps(
                exact
            ), f"{where}: {stored_value!r} stored for {number}"
    _lists_answer(app, alice, collection)


@pytest.mark.parametrize("number", ["9223372036854775807", "18446744073709551616", "1e300"])
@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_filtering_on_stored_big_numbers_answers(app, alice, number):
    body = f'{{"data": {{"title": "n", "author": {{"v": {number}}}}}}}'.encode()
    created = send(app, "POST", "/v1/articles", body, {**alice, **JSON})
    assert created.status in (201, 400), created
    for query in (f"author.v={number}", f"min_author.v={number}", f"in_author.v=1,{number}"):
        answer = send(app, "GET", f"/v1/articles?{query}", None, alice)
        assert_answered(answer)
        assert answer.status in (200, 400), answer
        if answer.status == 200 and created.status == 201 and not query.startswith("min_"):
            assert [r["id"] for r in answer.json()["data"]] == [created.json()["data"]["id"]]
