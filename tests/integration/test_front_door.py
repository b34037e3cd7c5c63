"""The front-door recipe (recipes/front_door.py) in process, then behind a
real nginx in front of gunicorn.

nginx listens twice: a plain-http port that says ``X-Forwarded-Proto:
$scheme``, and a port that stands for its TLS listener (TLS terminated
there) and says ``https``. The client connects from 127.0.0.2, so that
nginx (127.0.0.1, the one trusted proxy) and the client are told apart.
"""

from __future__ import annotations

import http.client
import io
import logging
import os
import pwd
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from servers import ROOT, Server, free_port
from servers_real import gunicorn_argv, nginx_argv, started, wait_until_serving

from recipes import front_door
from wsgimw import RequestIdFilter
from wsgimw.testing import Lint, call_app, make_environ

pytestmark = pytest.mark.integration

NEW_ID = r"[0-9a-f]{32}"


# -- in process ----------------------------------------------------------------------


def test_in_process_behind_a_trusted_proxy() -> None:
    access = io.StringIO()
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep = Keep()
    keep.addFilter(RequestIdFilter())
    logger = logging.getLogger("front_door")
    logger.addHandler(keep)
    logger.setLevel(logging.INFO)
    try:
        outer = Lint()
        app = outer(front_door.build(front_door.site_app, access_stream=access))
        environ = make_environ(
            "/page",
            REMOTE_ADDR="127.0.0.1",
            HTTP_HOST="www.example.com",
            HTTP_X_FORWARDED_FOR="6.6.6.6, 192.0.2.7",
            HTTP_X_FORWARDED_PROTO="https",
            HTTP_X_REQUEST_ID="lb-1234",
        )
        result = call_app(app, environ)
        outer.verify()
    finally:
        logger.removeHandler(keep)
    assert result.status_code == 200
    assert result.header("X-Request-ID") == "lb-1234"
    assert b"client: 192.0.2.7\nscheme: https\nhost: www.example.com\n" in result.body
    line = f'192.0.2.7 "GET /page HTTP/1.0" 200 {len(result.body)} id=lb-1234\n'
    assert access.getvalue() == line
    assert [(r.getMessage(), r.request_id) for r in records] == [  # type: ignore[attr-defined]
        ("serving /page", "lb-1234")
    ]


def test_configure_logging_and_lazy_application(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = front_door.configure_logging(stream)
    try:
        logging.getLogger("front_door").info("outside a request")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    assert stream.getvalue() == "INFO front_door [-] outside a request\n"
    monkeypatch.setattr(front_door, "configure_logging", lambda stream: None)
    monkeypatch.setenv("FRONT_DOOR_HOSTS", "only.test")
    monkeypatch.delitem(vars(front_door), "application", raising=False)
    app = front_door.application
    assert front_door.application is app
    refused = call_app(app, make_environ("/", HTTP_HOST="example.com"))
    assert refused.status_code == 400
    with pytest.raises(AttributeError):
        _ = front_door.missing


# -- behind nginx ----------------------------------------------------------------------


def write_conf(directory: Path, plain: int, tls: int, upstream: int) -> Path:
    """nginx in ``directory``: ``plain`` and ``tls`` (TLS terminated there,
    simulated) proxy to 127.0.0.1:``upstream`` with the front door's headers."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (directory / name).mkdir(exist_ok=True)
    # As root, nginx would run its workers as nobody (see servers_real).
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""

    def server(port: int, proto: str) -> str:
        return f"""
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto {proto};
            proxy_set_header X-Request-ID $request_id;
        }}
    }}"""

    conf = directory / "nginx.conf"
    conf.write_text(
        f"""{user}
worker_processes 1;
pid {directory / "nginx.pid"};
error_log stderr notice;
events {{
    worker_connections 64;
}}
http {{
    access_log {directory / "access.log"};
    client_body_temp_path {directory / "client_body"};
    proxy_temp_path {directory / "proxy"};
    fastcgi_temp_path {directory / "fastcgi"};
    uwsgi_temp_path {directory / "uwsgi"};
    scgi_temp_path {directory / "scgi"};
{server(plain, "$scheme")}
{server(tls, "https")}
}}
"""
    )
    return conf


@dataclass
class Site:
    plain: int
    tls: int
    gunicorn: Server

    def request(
        self,
        port: int,
        path: str,
        *,
        method: str = "GET",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """A request from 127.0.0.2, a client address nginx is not."""
        conn = http.client.HTTPConnection(
            "127.0.0.1", port, timeout=10, source_address=("127.0.0.2", 0)
        )
        try:
            conn.request(
                method, path, headers={"Host": "example.com", **(headers or {})}
            )
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    directory = tmp_path_factory.mktemp("front_door")
    upstream, plain, tls = free_port(), free_port(), free_port()
    argv = gunicorn_argv(upstream, "sync")
    argv[-1] = "recipes.front_door:application"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        "FRONT_DOOR_TRUSTED": "127.0.0.1",
        "FRONT_DOOR_HOSTS": "example.com *.example.com 127.0.0.1",
    }
    with started(argv, port=upstream, env=env, cwd=directory) as gunicorn:
        conf = write_conf(directory / "nginx", plain, tls, upstream)
        with started(nginx_argv(conf), port=tls, env=dict(os.environ), cwd=directory):
            wait_until_serving(plain, "/healthz")
            wait_until_serving(tls, "/healthz")
            yield Site(plain, tls, gunicorn)


def test_client_scheme_and_host_as_the_app_sees_them(site: Site) -> None:
    status, headers, body = site.request(
        site.tls,
        "/page?x=1",
        # Forged from outside: nginx appends the real client, and overwrites
        # the scheme and the id.
        headers={
            "X-Forwarded-For": "6.6.6.6",
            "X-Forwarded-Proto": "http",
            "X-Request-ID": "forged",
        },
    )
    assert status == 200, body
    text = body.decode()
    assert "client: 127.0.0.2\n" in text
    assert "scheme: https\n" in text
    assert "host: example.com\n" in text
    request_id = headers["X-Request-ID"]
    assert re.fullmatch(NEW_ID, request_id)  # nginx's $request_id, kept
    assert f"request id: {request_id}\n" in text
    # The access line and the app's record carry the client and the id.
    log = site.gunicorn.wait_for_log(lambda out: f"id={request_id}" in out)
    assert re.search(
        rf'^127\.0\.0\.2 "GET /page\?x=1 HTTP/1\.1" 200 \d+ id={request_id}$',
        log,
        re.M,
    ), log
    assert f"INFO front_door [{request_id}] serving /page" in log
    assert "6.6.6.6" not in log


def test_plain_http_is_redirected_even_with_a_forged_scheme(site: Site) -> None:
    status, headers, _ = site.request(
        site.plain, "/page?x=1", headers={"X-Forwarded-Proto": "https"}
    )
    assert status == 301
    assert headers["Location"] == "https://example.com/page?x=1"
    assert re.fullmatch(NEW_ID, headers["X-Request-ID"])
    status, headers, _ = site.request(site.plain, "/form", method="POST")
    assert status == 308
    assert headers["Location"] == "https://example.com/form"


def test_health_check_stays_on_http(site: Site) -> None:
    status, _, body = site.request(site.plain, "/healthz")
    assert (status, body) == (200, b"ok\n")


def test_an_unknown_host_gets_400(site: Site) -> None:
    status, headers, body = site.request(site.tls, "/", headers={"Host": "evil.test"})
    assert (status, body) == (400, b"invalid Host header\n")
    assert re.fullmatch(NEW_ID, headers["X-Request-ID"])


def test_an_error_is_logged_with_the_id(site: Site) -> None:
    status, headers, _ = site.request(site.tls, "/boom")
    assert status == 500
    request_id = headers["X-Request-ID"]
    log = site.gunicorn.wait_for_log(
        lambda out: f"[{request_id}] error in" in out and f"id={request_id}" in out
    )
    assert f"ERROR wsgimw.errors [{request_id}] error in GET /boom" in log
    assert re.search(rf'"GET /boom HTTP/1\.1" 500 \d+ id={request_id}$', log, re.M)
