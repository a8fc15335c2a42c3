"""The querystring, token and pagination rules, tested directly (no service, no backend).

The HTTP tests of ``test_collection.py`` and ``test_pagination.py`` show a few of these rules
through a service; here each rule is checked on its own, as fast as a function call, so that
every case of the parser can be listed without building an app for it.
"""

import itertools
import json

import pytest
from pyramid.httpexceptions import HTTPBadRequest
from webob import Request

from cliquet.errors import ERRORS
from cliquet.resource.querystring import (
    Limits,
    PageToken,
    Query,
    build_pagination_rules,
    decode_token,
    encode_token,
    extract_field,
    parse_query,
    query_scope,
    request_params,
    undecodable_parameter,
)
from cliquet.storage import COMPARISON, Filter, Sort
from cliquet.storage.selection import select

INT64_MAX = 2**63 - 1


def parse(params, **options):
    options.setdefault("max_limit", 100)
    return parse_query(params, **options)


def refused(params, **options):
    """The ``details`` entry of the 400 that ``params`` get (errno 107, querystring)."""
    with pytest.raises(HTTPBadRequest) as raised:
        parse(params, **options)
    body = json.loads(raised.value.body)
    assert body["errno"] == ERRORS.INVALID_PARAMETERS
    [detail] = body["details"]
    assert detail["location"] == "querystring"
    return detail


# Defaults ---------------------------------------------------------------------------------


def test_an_empty_querystring_lists_newest_first_a_full_page():
    assert parse({}) == Query(sorting=[Sort("last_modified", -1)], limit=100)


def test_the_default_page_size_applies_without_limit():
    assert parse({}, default_limit=20).limit == 20


def test_the_default_page_size_is_capped_too():
    assert parse({}, max_limit=10, default_limit=20).limit == 10


# _limit -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "limit"), [("1", 1), ("42", 42), ("100", 100), ("101", 100)])
def test_limit_is_capped_by_the_largest_page(raw, limit):
    assert parse({"_limit": raw}).limit == limit


@pytest.mark.parametrize("raw", ["0", "-1", "abc", "1.5", "", "true", "null", "1e2", '"3"'])
def test_a_limit_that_is_not_a_positive_integer_is_refused(raw):
    assert refused({"_limit": raw})["name"] == "_limit"


def test_a_limit_past_64_bits_is_refused():
    assert refused({"_limit": str(2**64)})["name"] == "_limit"


# Filters ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("1", 1),
        ("-2.5", -2.5),
        ("true", True),
        ("null", None),
        ('"1"', "1"),
        ("abc", "abc"),
        ("", ""),
        ("NaN", "NaN"),
        ("Infinity", "Infinity"),
        ("[1]", [1]),
    ],
)
def test_filter_values_are_json_where_they_are_json_else_text(raw, value):
    [condition] = parse({"title": raw}).filters
    assert condition == Filter("title", value, COMPARISON.EQ)
    assert type(condition.value) is type(value)


@pytest.mark.parametrize(
    ("param", "operator"),
    [
        ("min_rank", COMPARISON.MIN),
        ("max_rank", COMPARISON.MAX),
        ("lt_rank", COMPARISON.LT),
        ("gt_rank", COMPARISON.GT),
        ("not_rank", COMPARISON.NOT),
    ],
)
def test_each_prefix_names_its_comparison(param, operator):
    assert parse({param: "3"}).filters == [Filter("rank", 3, operator)]


def test_in_and_exclude_take_comma_separated_json_values():
    query = parse({"in_rank": "1,x,true", "exclude_title": '"a",b'})
    assert query.filters == [
        Filter("rank", [1, "x", True], COMPARISON.IN),
        Filter("title", ["a", "b"], COMPARISON.EXCLUDE),
    ]


def test_in_values_up_to_the_limit_are_taken_one_more_is_refused():
    limits = Limits(in_values=3)
    [condition] = parse({"in_rank": "1,2,3"}, limits=limits).filters
    assert condition.value == [1, 2, 3]
    assert refused({"in_rank": "1,2,3,4"}, limits=limits) == {
        "location": "querystring",
        "name": "in_rank",
        "description": "More than 3 values.",
    }


@pytest.mark.parametrize(
    ("raw", "value"), [("true", True), ("1", True), ("false", False), ("0", False)]
)
def test_has_takes_a_boolean(raw, value):
    assert parse({"has_author": raw}).filters == [Filter("author", value, COMPARISON.HAS)]


# /__api__ says true, false, 1 or 0: numbers that equal 1 or 0 are no booleans.
@pytest.mark.parametrize(
    "raw", ["yes", "2", "", "null", '"true"', "[1]", "1.0", "0.0", "-0", "1e0"]
)
def test_has_refuses_what_is_not_a_boolean(raw):
    assert refused({"has_author": raw})["name"] == "has_author"


def test_like_takes_the_text_as_it_is():
    assert parse({"like_title": "1"}).filters == [Filter("title", "1", COMPARISON.LIKE)]
    assert parse({"like_title": "*a*"}).filters == [Filter("title", "*a*", COMPARISON.LIKE)]


def test_the_first_prefix_wins_the_rest_is_the_field():
    # "not_in_x" filters the field "in_x"; prefixes do not combine.
    assert parse({"not_in_x": "1"}).filters == [Filter("in_x", 1, COMPARISON.NOT)]


def test_nested_fields_are_filtered_by_their_dotted_path():
    assert parse({"author.name": "ann"}).filters == [Filter("author.name", "ann", COMPARISON.EQ)]


@pytest.mark.parametrize("param", ["last_modified", "min_last_modified", "in_last_modified"])
@pytest.mark.parametrize("raw", ["abc", "1.5", "true", '"1"', str(INT64_MAX + 1)])
def test_last_modified_filters_take_integers_only(param, raw):
    assert refused({param: raw})["name"] == param


def test_last_modified_filters_take_the_whole_64_bit_range():
    query = parse({"min_last_modified": str(-(2**63)), "in_last_modified": f"1,{INT64_MAX}"})
    assert query.filters == [
        Filter("last_modified", -(2**63), COMPARISON.MIN),
        Filter("last_modified", [1, INT64_MAX], COMPARISON.IN),
    ]


@pytest.mark.parametrize("raw", [str(2**64), "1e400", '"\\ud800"', "[1e400]"])
def test_values_no_body_may_hold_are_refused_in_filters_too(raw):
    assert refused({"title": raw})["name"] == "title"


@pytest.mark.parametrize("param", ["a..b", ".a", "a.", "-a", "a b", "é", "a$", "in_", "min_"])
def test_invalid_field_names_are_refused(param):
    assert refused({param: "1"}) == {
        "location": "querystring",
        "name": param,
        "description": "Invalid field name.",
    }


def test_unknown_fields_are_refused_when_the_schema_is_known():
    known = {"title"}.__contains__
    assert parse({"title": "a", "id": "x", "last_modified": "1"}, known_field=known).filters
    assert refused({"min_rank": "1"}, known_field=known) == {
        "location": "querystring",
        "name": "min_rank",
        "description": "Unknown field 'rank'.",
    }


def test_filters_up_to_the_limit_are_taken_the_next_is_named():
    limits = Limits(filters=2)
    assert len(parse({"a": "1", "b": "2"}, limits=limits).filters) == 2
    detail = refused({"a": "1", "b": "2", "c": "3", "d": "4"}, limits=limits)
    assert detail == {
        "location": "querystring",
        "name": "c",
        "description": "More than 2 filters.",
    }


def test_unknown_underscore_parameters_are_refused():
    assert refused({"_limt": "1"}) == {
        "location": "querystring",
        "name": "_limt",
        "description": "Unknown parameter.",
    }


@pytest.mark.parametrize("param", ["_", "_expected"])
def test_cache_busters_are_ignored(param):
    assert parse({param: "1700000000"}) == parse({})


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"title": "a\x00b"}, "title"),
        ({"_sort": "title\x00"}, "_sort"),
        ({"title": "\udcff"}, "title"),
        ({"ti\x00tle": "a"}, None),
    ],
)
def test_text_no_backend_stores_is_refused_naming_the_parameter_when_it_can(params, name):
    assert refused(params)["name"] == name


# _since and _before -----------------------------------------------------------------------


def test_since_and_before_bound_the_timestamps_and_list_tombstones():
    query = parse({"_since": "10", "_before": "20"})
    assert query.filters == [
        Filter("last_modified", 10, COMPARISON.GT),
        Filter("last_modified", 20, COMPARISON.LT),
    ]
    assert query.include_deleted


def test_without_sync_bounds_tombstones_are_left_out():
    assert not parse({"min_last_modified": "10"}).include_deleted


@pytest.mark.parametrize("param", ["_since", "_before"])
@pytest.mark.parametrize("raw", ["abc", "1.5", "", "true", "null", str(2**64)])
def test_sync_bounds_take_integers_only(param, raw):
    assert refused({param: raw})["name"] == param


@pytest.mark.parametrize("param", ["_since", "_before"])
def test_sync_bounds_may_be_quoted_as_an_etag(param):
    assert parse({param: '"123"'}).filters == parse({param: "123"}).filters


@pytest.mark.parametrize("raw", ['"12a"', '"-1"', '""', '"1', '"1.5"', '"123" '])
def test_a_sync_bound_quoted_wrongly_is_refused(raw):
    assert refused({"_since": raw})["name"] == "_since"


# _sort ------------------------------------------------------------------------------------


def test_sort_keys_keep_their_order_and_ties_are_broken_by_id():
    assert parse({"_sort": "-title,+rank, read"}).sorting == [
        Sort("title", -1),
        Sort("rank", 1),
        Sort("read", 1),
        Sort("id", 1),
    ]


@pytest.mark.parametrize("raw", ["id", "-last_modified", "title,-id", "last_modified,title"])
def test_a_sort_on_id_or_timestamp_needs_no_tie_breaker(raw):
    sorting = parse({"_sort": raw}).sorting
    assert len(sorting) == len(raw.split(","))


@pytest.mark.parametrize(
    "raw",
    [
        "",
        ",",
        "title,",
        "-",
        "--title",
        "+-title",
        "ti tle",
        "a..b",
        "title,\u3000rank",
        "\x1ctitle",
    ],
)
def test_malformed_sorts_are_refused(raw):
    assert refused({"_sort": raw})["name"] == "_sort"


def test_sort_fields_up_to_the_limit_are_taken_one_more_is_refused():
    limits = Limits(sort_fields=2)
    assert len(parse({"_sort": "a,b"}, limits=limits).sorting) == 3
    assert refused({"_sort": "a,b,c"}, limits=limits)["description"] == (
        "More than 2 sort fields."
    )


def test_sorts_on_unknown_fields_are_refused():
    known = {"title"}.__contains__
    assert parse({"_sort": "title,-last_modified"}, known_field=known).sorting
    assert refused({"_sort": "rank"}, known_field=known)["name"] == "_sort"


# _fields and _token -----------------------------------------------------------------------


def test_fields_are_split_trimmed_and_empty_names_dropped():
    assert parse({"_fields": " title,\tauthor.name,,"}).fields == ["title", "author.name"]


def test_only_spaces_and_tabs_are_trimmed_as_the_document_says():
    # Other white space (U+3000, U+001C) is no part of a name: refused, not trimmed.
    assert refused({"_fields": "\u3000title"})["name"] == "_fields"
    assert refused({"_fields": "title\x85"})["name"] == "_fields"


def test_fields_are_checked_like_filters():
    assert refused({"_fields": "title,a..b"})["name"] == "_fields"
    assert refused({"_fields": "rank"}, known_field={"title"}.__contains__)["name"] == "_fields"


def test_the_token_is_handed_on_as_it_came():
    assert parse({"_token": "anything"}).token == "anything"


# Limits -----------------------------------------------------------------------------------


def test_limits_come_from_the_settings():
    settings = {"cliquet.max_filters": 1, "cliquet.max_sort_fields": 2, "cliquet.max_in_values": 3}
    assert Limits.from_settings(settings) == Limits(filters=1, sort_fields=2, in_values=3)


# Undecodable querystrings -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("query_string", "name"),
    [("a=1&b=%FF", "b"), ("b=%C3%28", "b"), ("%FF=1", None), ("a=%C3%A9", None), ("", None)],
)
def test_the_parameter_that_is_not_utf8_is_named(query_string, name):
    assert undecodable_parameter(query_string) == name


def test_request_params_refuse_a_querystring_that_is_not_utf8():
    with pytest.raises(HTTPBadRequest) as raised:
        request_params(Request.blank("/?a=1&b=%FF"))
    [detail] = json.loads(raised.value.body)["details"]
    assert detail["name"] == "b"


def test_request_params_are_the_decoded_querystring():
    assert dict(request_params(Request.blank("/?a=%C3%A9"))) == {"a": "é"}


# Fields of records ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value"),
    [("a", 1), ("b.c", 2), ("b", {"c": 2}), ("x", None), ("b.x", None), ("a.c", None)],
)
def test_extract_field_follows_dotted_paths_missing_is_null(path, value):
    assert extract_field({"a": 1, "b": {"c": 2}}, path) == value


# Pagination rules -------------------------------------------------------------------------


def test_after_an_ascending_value_come_the_greater_ones():
    assert build_pagination_rules([Sort("rank", 1)], {"rank": 3}) == [
        [Filter("rank", 3, COMPARISON.GT)]
    ]


def test_after_an_ascending_null_come_the_present_values():
    assert build_pagination_rules([Sort("rank", 1)], {"rank": None}) == [
        [Filter("rank", True, COMPARISON.HAS)]
    ]


def test_after_a_descending_value_come_the_lesser_ones_then_the_nulls():
    assert build_pagination_rules([Sort("rank", -1)], {"rank": 3}) == [
        [Filter("rank", 3, COMPARISON.LT)],
        [Filter("rank", False, COMPARISON.HAS)],
    ]


def test_nothing_comes_after_a_descending_null():
    assert build_pagination_rules([Sort("rank", -1)], {}) == []


def test_later_keys_apply_among_records_equal_on_the_earlier_ones():
    rules = build_pagination_rules(
        [Sort("title", 1), Sort("rank", -1), Sort("id", 1)],
        {"title": None, "rank": 2, "id": "x"},
    )
    assert rules == [
        [Filter("title", True, COMPARISON.HAS)],
        [Filter("title", False, COMPARISON.HAS), Filter("rank", 2, COMPARISON.LT)],
        [Filter("title", False, COMPARISON.HAS), Filter("rank", False, COMPARISON.HAS)],
        [
            Filter("title", False, COMPARISON.HAS),
            Filter("rank", 2, COMPARISON.EQ),
            Filter("id", "x", COMPARISON.GT),
        ],
    ]


def test_until_leaves_out_what_was_written_since_the_first_page():
    rules = build_pagination_rules([Sort("rank", -1)], {"rank": 3}, until=50)
    bound = Filter("last_modified", 50, COMPARISON.MAX)
    assert rules == [
        [Filter("rank", 3, COMPARISON.LT), bound],
        [Filter("rank", False, COMPARISON.HAS), bound],
    ]


# Missing fields, nulls, mixed types and ties: what keyset pagination gets wrong first.
RECORDS = [
    {"id": f"{i:02d}", "last_modified": 100 - i, **fields}
    for i, fields in enumerate(
        [
            {"rank": 1, "title": "b"},
            {"rank": 1, "title": "a"},
            {"rank": None, "title": "a"},
            {"title": "c"},
            {"rank": 2},
            {"rank": "2", "title": None},
            {"rank": 2.5, "title": "b", "author": {"name": "x"}},
            {"rank": True, "author": {"name": "y"}},
            {"rank": [1], "author": {}},
            {"rank": 1, "title": "b", "author": {"name": "x"}},
        ]
    )
]
SORTS = ["rank", "-rank", "title,-rank", "-title,rank", "author.name", "-author.name,title", "id"]


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("limit", [1, 2, 3])
def test_walking_the_pages_gives_each_record_once_in_order(sort, limit):
    """The rules of each page's token, applied as every backend must (``selection``)."""
    sorting = parse({"_sort": sort}).sorting
    expected = [r["id"] for r in select(RECORDS, sorting=sorting)]
    walked: list[str] = []
    rules: list[list[Filter]] = []
    for _ in range(len(RECORDS) + 1):
        page = select(RECORDS, sorting=sorting, pagination_rules=rules, limit=limit)
        if not page:
            break
        walked += [r["id"] for r in page]
        last = {s.field: extract_field(page[-1], s.field) for s in sorting}
        rules = build_pagination_rules(sorting, last)
        # Never empty (which would mean "from the start"): the last key, id or timestamp,
        # is never null.
        assert rules
    assert walked == expected


# Page tokens ------------------------------------------------------------------------------

SECRET = "secret"
PAGE = PageToken({"title": "é", "rank": None, "author.name": 2**53}, until=1700000000000)


def scope(**params):
    return query_scope({"_sort": "title", **params}, "alice", "articles")


def test_a_token_gives_back_the_page_it_was_made_for():
    token = encode_token(SECRET, scope(), PAGE)
    assert decode_token(SECRET, scope(), token) == PAGE


def test_a_token_is_url_safe():
    token = encode_token(SECRET, scope(), PageToken({"title": "?&=/+ " * 5}, until=1))
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def refused_token(token, secret=SECRET, token_scope=None):
    with pytest.raises(HTTPBadRequest) as raised:
        decode_token(secret, token_scope or scope(), token)
    [detail] = json.loads(raised.value.body)["details"]
    assert detail == {
        "location": "querystring",
        "name": "_token",
        "description": "Invalid or expired token.",
    }


def test_a_token_of_another_secret_is_refused():
    refused_token(encode_token("other", scope(), PAGE))


@pytest.mark.parametrize(
    "other",
    [
        query_scope({"_sort": "title"}, "bob", "articles"),
        query_scope({"_sort": "title"}, None, "articles"),
        query_scope({"_sort": "title"}, "alice", "notes"),
        query_scope({"_sort": "-title"}, "alice", "articles"),
        query_scope({"_sort": "title", "rank": "1"}, "alice", "articles"),
    ],
    ids=["user", "anonymous", "collection", "sort", "filter"],
)
def test_a_token_of_another_user_collection_or_query_is_refused(other):
    refused_token(encode_token(SECRET, scope(), PAGE), token_scope=other)


def test_page_size_fields_and_the_token_itself_do_not_change_the_scope():
    assert scope(_limit="5", _fields="title", _token="x") == scope()


def test_the_scope_does_not_depend_on_the_order_of_parameters():
    assert query_scope({"a": "1", "b": "2"}, "alice", "articles") == query_scope(
        {"b": "2", "a": "1"}, "alice", "articles"
    )


def _tampered(token):
    encoded, signature = token.split(".")
    flipped = "A" if encoded[0] != "A" else "B"
    return [
        f"{flipped}{encoded[1:]}.{signature}",
        f"{encoded}.{signature[:-1]}{'0' if signature[-1] != '0' else '1'}",
        f"{encoded}.",
        encoded,
        f"{encoded}.{signature}.{signature}",
    ]


def test_a_tampered_token_is_refused():
    for token in _tampered(encode_token(SECRET, scope(), PAGE)):
        refused_token(token)


@pytest.mark.parametrize("token", ["", ".", "abc", "!!!.abc", "é.é", "a.b.c"])
def test_garbage_is_refused(token):
    refused_token(token)


@pytest.mark.parametrize(
    "page",
    [PageToken([1], until=1), PageToken({}, until=True), PageToken({}, until=1.5)],  # type: ignore[arg-type]
    ids=["list", "bool", "float"],
)
def test_a_signed_token_holding_something_else_than_a_page_is_refused(page):
    refused_token(encode_token(SECRET, scope(), page))


def test_tokens_of_two_pages_differ():
    tokens = {
        encode_token(SECRET, scope(), PageToken({"title": title}, until=until))
        for title, until in itertools.product(["a", "b"], [1, 2])
    }
    assert len(tokens) == 4
