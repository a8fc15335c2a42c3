"""Items 11-12: stored hostile values travel back through page tokens (keyset pagination).

Whatever a client managed to store, paging through a list sorted on it answers 200 on every
page and neither skips nor repeats a record.
"""

import json
import urllib.parse

import pytest

from tests.security.hostile import assert_answered, send

JSON = {"Content-Type": "application/json"}

# JSON texts of author.v, each stored (or refused) as its own record.
VALUES = [
    "0",
    "-1",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551616",
    "1e300",
    "0.1",
    "5e-324",
    "true",
    "false",
    "null",
    '""',
    '"a"',
    '"\'; --"',
    '"%"',
    '"_"',
    '"\\\\"',
    '"é"',
    '"😀"',
    '"\\u202e"',
    "[]",
    "[1, 2]",
    '{"k": 1}',
    '{"k": {"j": [null]}}',
]
SORTS = ["author.v", "-author.v", "author.v,-rank", "rank,author.v", "-author", "tags"]


def _create_all(app, alice):
    created = set()
    for i, value in enumerate(VALUES):
        body = f'{{"data": {{"title": "t{i}", "rank": {i % 3}, "author": {{"v": {value}}}}}}}'
        answer = send(app, "POST", "/v1/articles", body.encode(), {**alice, **JSON})
        assert answer.status in (201, 400), answer
        if answer.status == 201:
            created.add(answer.json()["data"]["id"])
    # And records without the field at all.
    for i in range(3):
        created.add(
            app.post_json("/v1/articles", {"data": {"title": f"bare{i}"}}, headers=alice).json[
                "data"
            ]["id"]
        )
    return created


@pytest.mark.parametrize("sort", SORTS)
# Pages of one record put the cursor after every record: that case runs on every backend.
@pytest.mark.parametrize(
    "limit", [pytest.param(1, marks=pytest.mark.backends("memory", "sqlite", "postgresql")), 4]
)
def test_paging_over_hostile_values_neither_skips_nor_repeats(app, alice, sort, limit):
    created = _create_all(app, alice)
    seen = []
    path = f"/v1/articles?_sort={urllib.parse.quote(sort)}&_limit={limit}"
    for _ in range(len(created) + 2):
        answer = send(app, "GET", path, None, alice)
        assert_answered(answer)
        assert answer.status == 200, answer
        seen.extend(r["id"] for r in answer.json()["data"])
        next_page = answer.headers.get("Next-Page")
        if not next_page:
            break
        parts = urllib.parse.urlsplit(next_page)
        path = f"{parts.path}?{parts.query}"
    assert len(seen) == len(set(seen)), f"repeated: {json.dumps(seen)}"
    assert set(seen) == created, f"skipped {len(created - set(seen))} records"
