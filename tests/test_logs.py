"""Tests for cliquet.logs: renderers, the logger, the start-up step and the summary tween."""

import json
import logging
import os
import socket
import sys
import time

import pytest
import structlog
import webtest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from pyramid.httpexceptions import HTTPNotFound
from pyramid.interfaces import ITweens
from pyramid.response import Response
from pyramid.tweens import EXCVIEW

from cliquet.logs import (
    ClassicLogRenderer,
    JsonLogRenderer,
    build_logger,
    request_summary_tween_factory,
    setup_logging,
)

HERE = __name__


class RecordingRenderer:
    """A third-party renderer, like the seed's ``cliquet_fluent.FluentRenderer``."""

    instances: list["RecordingRenderer"] = []

    def __init__(self, settings):
        self.settings = settings
        self.events = []
        RecordingRenderer.instances.append(self)

    def __call__(self, logger, name, event_dict):
        self.events.append((name, dict(event_dict)))
        return f"fluent:{event_dict['event']}:{event_dict.get('code')}"


class BrokenRenderer:
    def __init__(self, settings):
        pass

    def __call__(self, logger, name, event_dict):
        raise RuntimeError("renderer exploded")


class FailingConstruction:
    def __init__(self, settings):
        raise KeyError("fluent.host")


class NotCallableInstance:
    def __init__(self, settings):
        pass


class Unprintable:
    def __str__(self):
        raise ValueError("no str")

    def __repr__(self):
        raise ValueError("no repr")


class HeaderSecurityPolicy:
    """The user is whoever the ``X-User`` header names; ``X-User: boom`` breaks the policy."""

    def identity(self, request):
        return self.authenticated_userid(request)

    def authenticated_userid(self, request):
        user = request.headers.get("X-User")
        if user == "boom":
            raise RuntimeError("auth backend down")
        return user

    def permits(self, request, context, permission):
        return True

    def remember(self, request, userid, **kw):
        return []

    def forget(self, request, **kw):
        return []


SUMMARY = {
    "event": "request.summary",
    "level": "info",
    "timestamp": 1700000000.5,
    "method": "GET",
    "path": "/v1/articles?x=1",
    "code": 200,
    "t": 3,
    "agent": "curl/8",
    "lang": None,
    "uid": "basicauth:ab12",
}


@pytest.fixture
def classic():
    return ClassicLogRenderer({})


@pytest.fixture
def json_renderer():
    return JsonLogRenderer({"cliquet.project_name": "myproject"})


@pytest.fixture
def cliquet_logs(caplog):
    """The lines logged on the stdlib ``cliquet`` logger."""
    caplog.set_level(logging.INFO, logger="cliquet")

    def lines():
        return [r.getMessage() for r in caplog.records if r.name == "cliquet"]

    return lines


def _ok_view(request):
    return Response("ok")


def _missing_view(request):
    raise HTTPNotFound()


def _crash_view(request):
    raise ValueError("kaboom")


def _notfound_view(request):
    return Response(json_body={"code": 404, "errno": 111, "error": "Not Found"}, status=404)


def _error_view(exc, request):
    return Response("server error", status=500)


def _log_view(request):
    request.log.info("article.read", article_id="a1")
    return Response(json_body={"same": request.log is request.registry.logger})


@pytest.fixture
def make_app():
    """Build a tiny app with the logging step; ``exception_view=False`` lets errors escape."""

    def make(*, exception_view=True, **settings):
        config = Configurator(settings=settings)
        config.set_security_policy(HeaderSecurityPolicy())
        config.include(setup_logging)
        config.add_route("ok", "/ok")
        config.add_route("missing", "/missing")
        config.add_route("crash", "/crash")
        config.add_route("log", "/log")
        config.add_view(_ok_view, route_name="ok")
        config.add_view(_missing_view, route_name="missing")
        config.add_view(_crash_view, route_name="crash")
        config.add_view(_log_view, route_name="log")
        config.add_notfound_view(_notfound_view)
        if exception_view:
            config.add_exception_view(_error_view, context=Exception)
        return webtest.TestApp(config.make_wsgi_app())

    return make


# ClassicLogRenderer


def test_classic_renders_request_summary(classic):
    line = classic(None, "info", dict(SUMMARY))
    assert (
        line == "GET   /v1/articles?x=1 200 (3 ms) request.summary agent=curl/8 uid=basicauth:ab12"
    )


def test_classic_pads_method_but_keeps_long_ones_apart(classic):
    event = {"event": "request.summary", "method": "DELETE", "path": "/x", "code": 204, "t": 0}
    assert classic(None, "info", event) == "DELETE /x 204 (0 ms) request.summary"


def test_classic_renders_plain_event_with_sorted_pairs(classic):
    event = {"event": "Backend unavailable", "retry": 3, "backend": "redis", "level": "warning"}
    assert classic(None, "warning", event) == "Backend unavailable backend=redis retry=3"


def test_classic_without_full_summary_keys_renders_them_as_pairs(classic):
    event = {"event": "request.summary", "method": "GET", "path": "/x"}
    assert classic(None, "info", event) == "request.summary method=GET path=/x"


def test_classic_never_raises_on_odd_values(classic):
    event = {
        "event": 42,
        "nested": {"b": [1, {"c": None}], "a": b"raw", 3: float("nan")},
        "none": None,
        "obj": Unprintable(),
        "spaced": "two words",
        "newline": "a\nb",
        "empty": "",
    }
    line = classic(None, "info", event)
    assert line == (
        '42 empty="" nested={"3":"nan","a":"b\'raw\'","b":[1,{"c":null}]} '
        'newline="a\\nb" obj="<unprintable Unprintable>" spaced="two words"'
    )
    assert "\n" not in line


def test_classic_does_not_mutate_the_event_dict(classic):
    event = dict(SUMMARY)
    classic(None, "info", event)
    assert event == SUMMARY


def test_classic_appends_the_traceback(classic):
    line = classic(None, "error", {"event": "boom", "exception": "Traceback...\nValueError"})
    assert line == "boom\nTraceback...\nValueError"


# JsonLogRenderer


def test_json_renders_mozlog_envelope(json_renderer):
    record = json.loads(json_renderer(None, "info", dict(SUMMARY)))
    assert list(record) == [
        "Timestamp",
        "Logger",
        "Type",
        "Severity",
        "Pid",
        "Hostname",
        "EnvVersion",
        "Fields",
    ]
    assert record["Timestamp"] == 1_700_000_000_500_000_000
    assert isinstance(record["Timestamp"], int)
    assert record["Logger"] == "myproject"
    assert record["Type"] == "request.summary"
    assert record["Severity"] == 6
    assert record["Pid"] == os.getpid()
    assert record["Hostname"] == socket.gethostname()
    assert record["EnvVersion"] == "2.0"
    assert record["Fields"] == {
        "method": "GET",
        "path": "/v1/articles?x=1",
        "code": 200,
        "t": 3,
        "agent": "curl/8",
        "lang": None,
        "uid": "basicauth:ab12",
    }


def test_json_is_one_line(json_renderer):
    line = json_renderer(None, "info", {"event": "x", "text": "a\nb"})
    assert "\n" not in line


@pytest.mark.parametrize(
    ("method_name", "severity"),
    [
        ("debug", 7),
        ("info", 6),
        ("warning", 4),
        ("warn", 4),
        ("error", 3),
        ("exception", 3),
        ("critical", 2),
    ],
)
def test_json_severity_follows_the_method_name(json_renderer, method_name, severity):
    record = json.loads(json_renderer(None, method_name, {"event": "x"}))
    assert record["Severity"] == severity


def test_json_logger_defaults_to_cliquet():
    for settings in ({}, {"cliquet.project_name": ""}):
        record = json.loads(JsonLogRenderer(settings)(None, "info", {"event": "x"}))
        assert record["Logger"] == "cliquet"


def test_json_puts_sentences_in_msg(json_renderer):
    record = json.loads(json_renderer(None, "warning", {"event": "Cache is slow", "ms": 12}))
    assert record["Type"] == "message"
    assert record["Fields"] == {"msg": "Cache is slow", "ms": 12}


def test_json_keeps_names_out_of_msg(json_renderer):
    record = json.loads(json_renderer(None, "info", {"event": "cache.flush"}))
    assert record["Type"] == "cache.flush"
    assert record["Fields"] == {}


def test_json_stringifies_what_json_cannot_hold(json_renderer):
    loop = []
    loop.append(loop)
    event = {
        "event": "x",
        "when": time.gmtime(0)[:3],
        "obj": object,
        "nested": {1: {"deep": {2, 3} - {2, 3} | {3}}, "inf": float("inf")},
        "bad": Unprintable(),
        "loop": loop,
    }
    fields = json.loads(json_renderer(None, "info", event))["Fields"]
    assert fields["when"] == [1970, 1, 1]
    assert fields["obj"] == "<class 'object'>"
    assert fields["nested"] == {"1": {"deep": [3]}, "inf": "inf"}
    assert fields["bad"] == "<unprintable Unprintable>"
    assert isinstance(fields["loop"], list)


def test_json_never_raises_on_unserializable_integers(json_renderer):
    if not hasattr(sys, "set_int_max_str_digits"):
        pytest.skip("no integer string limit on this Python")
    record = json.loads(json_renderer(None, "info", {"event": "x", "huge": 10**5000}))
    assert record["Type"] == "x"
    assert record["Fields"] == {}


# build_logger


def test_build_logger_logs_rendered_lines_to_stdlib(cliquet_logs):
    logger = build_logger(ClassicLogRenderer({}))
    assert isinstance(logger, structlog.stdlib.BoundLogger)
    logger.info("cache.flush", backend="memory")
    logger.debug("too.verbose")
    assert cliquet_logs() == ["cache.flush backend=memory"]


def test_build_logger_uses_the_named_logger(caplog):
    caplog.set_level(logging.INFO, logger="myservice")
    build_logger(ClassicLogRenderer({}), name="myservice").warning("hello")
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("myservice", logging.WARNING, "hello")
    ]


def test_build_logger_adds_level_timestamp_and_traceback(cliquet_logs):
    renderer = RecordingRenderer({})
    logger = build_logger(renderer)
    try:
        raise ValueError("kaboom")
    except ValueError:
        logger.exception("it.failed")
    (name, event), *_ = renderer.events
    assert name == "exception"
    assert event["level"] == "error"
    assert isinstance(event["timestamp"], float)
    assert "ValueError: kaboom" in event["exception"]


def test_build_logger_leaves_global_structlog_configuration_alone():
    before = structlog.get_config()
    build_logger(JsonLogRenderer({})).bind(x=1)
    assert structlog.get_config() == before


# setup_logging


def _config(**settings):
    return Configurator(settings=settings)


def test_setup_logging_defaults_to_the_classic_renderer(cliquet_logs):
    config = _config()
    setup_logging(config)
    config.registry.logger.info("started", port=8888)
    assert cliquet_logs() == ["started port=8888"]


@pytest.mark.parametrize(
    "value",
    ["cliquet_no_such_package.Renderer", "cliquet.logs.NoSuchRenderer"],
)
def test_setup_logging_rejects_unimportable_renderer(value):
    with pytest.raises(ConfigurationError) as excinfo:
        setup_logging(_config(**{"cliquet.logging_renderer": value}))
    message = str(excinfo.value)
    assert "cliquet.logging_renderer" in message
    assert value in message
    assert "a class taking settings, called as renderer(logger, name, event_dict)" in message


def test_setup_logging_rejects_non_callable_renderer():
    with pytest.raises(ConfigurationError) as excinfo:
        setup_logging(_config(**{"cliquet.logging_renderer": "logging.BASIC_FORMAT"}))
    message = str(excinfo.value)
    assert "cliquet.logging_renderer" in message
    assert "logging.BASIC_FORMAT" in message
    assert "not callable" in message


@pytest.mark.parametrize(
    ("target", "reason"),
    [("FailingConstruction", "fluent.host"), ("NotCallableInstance", "not callable")],
)
def test_setup_logging_rejects_renderer_that_cannot_be_built_or_called(target, reason):
    value = f"{HERE}.{target}"
    with pytest.raises(ConfigurationError) as excinfo:
        setup_logging(_config(**{"cliquet.logging_renderer": value}))
    assert value in str(excinfo.value)
    assert reason in str(excinfo.value)


def test_setup_logging_places_tween_over_excview():
    config = _config()
    setup_logging(config)
    config.commit()
    names = [name for name, _ in config.registry.getUtility(ITweens).implicit()]
    ours = "cliquet.logs.request_summary_tween_factory"
    assert names.index(ours) < names.index(EXCVIEW)


# The request summary, through a real app


def test_summary_for_successful_request(make_app, cliquet_logs):
    app = make_app()
    app.get(
        "/ok?x=1",
        headers={"User-Agent": "curl/8", "Accept-Language": "fr", "X-User": "basicauth:ab12"},
    )
    (line,) = cliquet_logs()
    assert line.startswith("GET   /ok?x=1 200 (")
    assert line.endswith(" ms) request.summary agent=curl/8 lang=fr uid=basicauth:ab12")


def test_summary_sees_notfound_view_response(make_app, cliquet_logs):
    make_app().get("/missing", status=404)
    (line,) = cliquet_logs()
    assert line.startswith("GET   /missing 404 (")
    assert "errno=111" in line


def test_summary_for_unknown_route(make_app, cliquet_logs):
    make_app().get("/nowhere", status=404)
    (line,) = cliquet_logs()
    assert line.startswith("GET   /nowhere 404 (")


def test_summary_sees_exception_view_response(make_app, cliquet_logs):
    make_app().post("/crash", status=500)
    (line,) = cliquet_logs()
    assert line.startswith("POST  /crash 500 (")
    assert "errno" not in line


def test_summary_logged_when_exception_escapes(make_app, cliquet_logs):
    app = make_app(exception_view=False)
    with pytest.raises(ValueError, match="kaboom"):
        app.get("/crash")
    (line,) = cliquet_logs()
    assert line.startswith("GET   /crash 500 (")


def test_summary_of_a_path_that_is_not_utf8_keeps_it_percent_encoded(cliquet_logs):
    from cliquet.testing.web import build_app

    build_app().get("/v1/%FF?q=%FF", status=400)
    (line,) = [line for line in cliquet_logs() if "request.summary" in line]
    assert line.startswith("GET   /v1/%FF?q=%FF 400 (")


def test_summary_survives_failing_authentication(make_app, cliquet_logs):
    make_app().get("/ok", headers={"X-User": "boom"})
    (line,) = cliquet_logs()
    assert line.startswith("GET   /ok 200 (")
    assert "uid=" not in line


def test_one_summary_per_request(make_app, cliquet_logs):
    app = make_app()
    app.get("/ok")
    app.get("/missing", status=404)
    app.delete("/crash", status=500)
    codes = [line.split()[2] for line in cliquet_logs()]
    assert codes == ["200", "404", "500"]


def test_request_log_is_the_registry_logger(make_app, cliquet_logs):
    response = make_app().get("/log")
    assert response.json == {"same": True}
    assert cliquet_logs()[0] == "article.read article_id=a1"


def test_json_renderer_chosen_by_setting(make_app, cliquet_logs):
    make_app(
        **{
            "cliquet.logging_renderer": "cliquet.logs.JsonLogRenderer",
            "cliquet.project_name": "blog",
        }
    ).get("/missing?q=1", status=404)
    (line,) = cliquet_logs()
    record = json.loads(line)
    assert record["Logger"] == "blog"
    assert record["Type"] == "request.summary"
    fields = record["Fields"]
    assert (fields["method"], fields["path"], fields["code"], fields["errno"]) == (
        "GET",
        "/missing?q=1",
        404,
        111,
    )
    assert isinstance(fields["t"], int)
    assert fields["agent"] is None and fields["lang"] is None and fields["uid"] is None


def test_custom_renderer_chosen_by_setting(make_app, cliquet_logs):
    RecordingRenderer.instances.clear()
    settings = {"cliquet.logging_renderer": f"{HERE}.RecordingRenderer", "fluent.host": "h"}
    make_app(**settings).get("/ok")
    (renderer,) = RecordingRenderer.instances
    assert renderer.settings["fluent.host"] == "h"
    ((name, event),) = renderer.events
    assert name == "info"
    assert event["event"] == "request.summary"
    assert {k: event[k] for k in ("method", "path", "code")} == {
        "method": "GET",
        "path": "/ok",
        "code": 200,
    }
    assert cliquet_logs() == ["fluent:request.summary:200"]


def test_failing_renderer_never_breaks_the_request(make_app, caplog):
    caplog.set_level(logging.INFO, logger="cliquet")
    app = make_app(**{"cliquet.logging_renderer": f"{HERE}.BrokenRenderer"})
    assert app.get("/ok").text == "ok"
    (record,) = [r for r in caplog.records if r.name == "cliquet.logs"]
    assert "renderer exploded" in caplog.text
    assert record.levelno == logging.ERROR


def test_tween_without_logger_passes_through():
    class Registry:
        pass

    class Request:
        registry = Registry()

    response = Response("ok")
    tween = request_summary_tween_factory(lambda request: response, Registry())
    assert tween(Request()) is response


# Backend errors are logged without users' data


SECRET_MARKER = "s3cr3t-marker-4f1c"


@pytest.fixture(params=["cliquet.logs.ClassicLogRenderer", "cliquet.logs.JsonLogRenderer"])
def postgresql_app(request, postgresql_url, cliquet_logs):
    """The resource service on PostgreSQL, with a 300 ms statement timeout, and a second
    connection to the same database for the test to lock or alter tables with."""
    import psycopg

    from cliquet.testing.web import build_app

    app = build_app(
        {
            "cliquet.storage_backend": "cliquet.storage.sql",
            "cliquet.storage_url": postgresql_url,
            "cliquet.storage_statement_timeout_ms": "300",
            "cliquet.migrate_on_startup": "true",
            "cliquet.logging_renderer": request.param,
        },
        setup=lambda config: config.scan("tests.resource.testapp"),
    )
    other = psycopg.connect(postgresql_url)
    yield app, other
    other.rollback()
    other.execute("DROP INDEX IF EXISTS records_title_unique")
    other.commit()
    other.close()
    app.app.registry.storage.flush()
    app.app.registry.storage.engine.dispose()


def _backend_error_lines(cliquet_logs):
    return [line for line in cliquet_logs() if "backend.error" in line]


@pytest.mark.postgresql
def test_a_failed_statement_is_logged_without_its_parameters(postgresql_app, cliquet_logs):
    from cliquet.testing.web import basic_auth

    app, other = postgresql_app
    other.execute("LOCK TABLE records IN ACCESS EXCLUSIVE MODE")
    body = {"data": {"title": SECRET_MARKER}}
    app.post_json("/v1/articles", body, headers=basic_auth(), status=503)
    (line,) = _backend_error_lines(cliquet_logs)
    assert SECRET_MARKER not in line
    # The statement's shape and the error stay.
    assert "FROM records" in line or "INTO records" in line
    assert "statement timeout" in line


@pytest.mark.postgresql
def test_a_database_error_is_logged_without_the_values_in_its_detail(
    postgresql_app, cliquet_logs
):
    from cliquet.testing.web import basic_auth

    app, other = postgresql_app
    other.execute(
        "CREATE UNIQUE INDEX records_title_unique ON records ((data->>'title')) "
        "WHERE NOT deleted"
    )
    other.commit()
    body = {"data": {"title": SECRET_MARKER}}
    app.post_json("/v1/articles", body, headers=basic_auth(), status=201)
    app.post_json("/v1/articles", body, headers=basic_auth(), status=503)
    (line,) = _backend_error_lines(cliquet_logs)
    assert SECRET_MARKER not in line
    assert "INSERT INTO records" in line
    assert "records_title_unique" in line


def test_an_event_without_exc_info_gets_no_traceback_even_while_handling_one(cliquet_logs):
    logger = build_logger(ClassicLogRenderer({}))
    try:
        raise ValueError("being handled")
    except ValueError:
        logger.error("plain", exc_info=False)
        logger.error("with", exc_info=True)
    plain, with_traceback = cliquet_logs()
    assert plain == "plain"
    assert "ValueError: being handled" in with_traceback


def test_parameters_of_engines_that_show_them_are_dropped(cliquet_logs):
    import sqlalchemy

    engine = sqlalchemy.create_engine("sqlite://")
    logger = build_logger(ClassicLogRenderer({}))
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT nothing(:secret)"), {"secret": SECRET_MARKER})
    except sqlalchemy.exc.DBAPIError:
        logger.error("backend.error", exc_info=True)
    (line,) = cliquet_logs()
    assert SECRET_MARKER not in line
    assert "SELECT nothing(?)" in line
    assert "[parameters hidden]" in line
