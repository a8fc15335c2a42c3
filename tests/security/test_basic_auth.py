"""Item 9: basic auth with empty or malformed credentials never authenticates."""

import base64
import json

import pytest

from tests.security.hostile import assert_refused, send, user_id


def _basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode("ascii")


# (Authorization header, the user:password it would have meant, if any)
CREDENTIALS = [
    pytest.param(_basic(b":pw"), ("", "pw"), id="empty-user"),
    pytest.param(_basic(b"alice:"), ("alice", ""), id="empty-password"),
    pytest.param(_basic(b":"), ("", ""), id="both-empty"),
    pytest.param(_basic(b" : "), (" ", " "), id="blank-user-and-password"),
    pytest.param(_basic(b""), None, id="empty-token"),
    pytest.param("Basic ", None, id="scheme-alone"),
    pytest.param("Basic !!!not-base64!!!", None, id="malformed-base64"),
    pytest.param("Basic YWxpY2U6cH", None, id="truncated-base64"),
    pytest.param(_basic(b"alicepw"), None, id="no-colon"),
    pytest.param("basic " + _basic(b":")[6:], ("", ""), id="lowercase-scheme-both-empty"),
    pytest.param("Basic   " + _basic(b":pw")[6:] + "  ", ("", "pw"), id="spaces-empty-user"),
    pytest.param(_basic(b"alice"), None, id="user-alone"),
    pytest.param(_basic(b"::"), ("", ":"), id="colons-only"),
    pytest.param(_basic(b"\xff\xfe:\xff"), None, id="not-utf8"),
    pytest.param(_basic(b"al\x00ice:pw"), None, id="nul-in-user"),
    pytest.param(_basic(b"alice:p\nw"), None, id="newline-in-password"),
]


def _meant(credentials):
    return [user_id(*credentials)] if credentials else []


@pytest.mark.parametrize("authorization, credentials", CREDENTIALS)
def test_posting_with_bad_credentials_is_401(app, nothing_stored, authorization, credentials):
    body = json.dumps({"data": {"title": "intruder"}}).encode()
    headers = {"Authorization": authorization, "Content-Type": "application/json"}
    answer = send(app, "POST", "/v1/articles", body, headers)
    assert_refused(answer, status=401)
    assert answer.json()["errno"] in (104, 105), answer
    nothing_stored(*_meant(credentials))


@pytest.mark.parametrize("authorization, credentials", CREDENTIALS)
def test_listing_with_bad_credentials_is_401(app, authorization, credentials):
    answer = send(app, "GET", "/v1/articles", None, {"Authorization": authorization})
    assert_refused(answer, status=401)
    assert answer.json()["errno"] in (104, 105), answer


@pytest.mark.parametrize("authorization, credentials", CREDENTIALS)
def test_a_batch_with_bad_credentials_stores_nothing(
    app, nothing_stored, authorization, credentials
):
    body = {
        "requests": [
            {"method": "POST", "path": "/articles", "body": {"data": {"title": "intruder"}}},
            {"method": "POST", "path": "/notes", "body": {"data": {"text": "intruder"}}},
        ]
    }
    headers = {"Authorization": authorization, "Content-Type": "application/json"}
    answer = send(app, "POST", "/v1/batch", json.dumps(body).encode(), headers)
    if answer.status == 200:
        for slot in answer.json()["responses"]:
            assert slot["status"] == 401, answer
            assert slot["body"]["errno"] in (104, 105), answer
    else:
        assert_refused(answer, status=401)
    nothing_stored(*_meant(credentials))


@pytest.mark.parametrize("authorization, credentials", CREDENTIALS)
def test_hello_does_not_name_a_user_for_bad_credentials(app, authorization, credentials):
    answer = send(app, "GET", "/v1/", None, {"Authorization": authorization})
    assert answer.status < 500, answer
    if answer.status == 200:
        assert "user" not in answer.json(), answer
    else:
        assert_refused(answer, status=401)
