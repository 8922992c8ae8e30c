"""Property tests of `affectgpt serve` against its own OpenAPI spec (schemathesis over ASGI).

For every operation in ``/openapi.json``, schemathesis generates requests that follow the schema
and requests that break it (both generation modes), multipart uploads of ``/v1/describe`` and
``/v1/bench/score`` included, and checks that no answer is a server error (5xx): bad input must
get a 4xx. ``/v1/chat/completions`` runs without a chat model (``llm_path`` None), so it must
answer 404, never load a model. The same app object must also keep serving through a second
lifespan (startup after shutdown), as it does under schemathesis and repeated ``TestClient``s.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from affectgpt.serve import ServeConfig, create_app  # noqa: E402

_TEMP = Path(tempfile.mkdtemp(prefix="affectgpt-openapi-props-"))
APP = create_app(ServeConfig(asr=False, workers=2, queue=8, timeout_s=30, llm_path=None, temp_dir=str(_TEMP)))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def _remove_temp():
    yield
    shutil.rmtree(_TEMP, ignore_errors=True)


def test_spec_lists_the_routes():
    ops = {(op.method.upper(), op.path) for op in (r.ok() for r in schema.get_all_operations())}
    assert {("GET", "/healthz"), ("GET", "/v1/models"), ("POST", "/v1/describe"), ("POST", "/v1/bench/score"),
            ("POST", "/v1/chat/completions")} <= ops


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error(case):
    # the first ``sample=true`` loads the describer (seconds): more than schemathesis' 10 s default on 2 cores
    case.call_and_validate(checks=[not_a_server_error], timeout=120)


def test_chat_without_a_model_is_404():
    from starlette.testclient import TestClient

    with TestClient(APP, raise_server_exceptions=False) as c:
        r = c.post("/v1/chat/completions", json={"model": "x", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 404, r.text


def test_serves_again_after_a_lifespan_restart():
    """The same app object through two lifespans (schemathesis ends the lifespan after each
    operation; so does every ``with TestClient(app)``): the second must still describe, not 500
    on a removed temporary root or a closed describer."""
    from starlette.testclient import TestClient

    for _ in range(2):
        with TestClient(APP, raise_server_exceptions=False) as c:
            r = c.post("/v1/describe", data={"sample": "true", "subtitle": "We did it!"})
            assert r.status_code == 200, r.text
            r = c.post("/v1/describe", files={"file": ("x.mp4", b"not media at all", "video/mp4")})
            assert r.status_code == 415, r.text
