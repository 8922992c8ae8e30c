"""`affectgpt serve` on a real uvicorn server on loopback: routes, limits, bad uploads (each a 4xx
with a clear message and an empty temporary folder afterwards), the bounded pool (429 with
Retry-After), the timeout, path confinement, the bearer token and the OpenAI-compatible chat."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import time

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("mediapipe")
httpx = pytest.importorskip("httpx")

from affectgpt.errors import AffectGPTError  # noqa: E402
from _server import RunningServer  # noqa: E402

from affectgpt.serve import ServeConfig, check_bind, sniff_media  # noqa: E402


@pytest.fixture(scope="module")
def clip(tmp_path_factory, data_dir):
    import shutil

    dst = tmp_path_factory.mktemp("clips") / "talk.mp4"
    shutil.copyfile(sorted((data_dir / "crema_d" / "video_mp4").glob("*.mp4"))[0], dst)
    return dst


@pytest.fixture(scope="module")
def server(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("allowed")
    (root / "inside.txt").write_text("x")
    srv = RunningServer(ServeConfig(asr=False, max_upload_mb=1.0, workers=1, queue=0, allowed_root=str(root),
                              data_dir=str(data_dir), temp_dir=str(tmp_path_factory.mktemp("serve-tmp"))))
    yield srv
    srv.close()


def test_health_models_and_spec(server):
    assert server.client.get("/healthz").json()["status"] == "ok"
    assert server.client.get("/v1/models").json()["data"][0]["id"] == "affectgpt-describe"
    spec = server.client.get("/openapi.json").json()
    assert {"/v1/describe", "/v1/bench/score", "/v1/chat/completions", "/healthz"} <= set(spec["paths"])


def test_describe_an_upload(server, clip):
    r = server.client.post("/v1/describe", files={"file": ("talk.mp4", clip.read_bytes(), "video/mp4")},
                           data={"subtitle": "Don't forget a jacket."})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["file"] == "talk.mp4" and body["description"] and abs(sum(body["basic"].values()) - 1) < 1e-3
    assert body["timeline"] and body["transcript"]["text"] == "Don't forget a jacket."
    assert server.temp_entries() == []


@pytest.mark.parametrize("name,data,status,words", [
    ("empty.mp4", b"", 400, "empty"),
    ("notes.mp4", b"just some text, not a video at all" * 20, 415, "not a media file"),
    ("big.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * (2 << 20), 413, "over the 1 MB limit"),
    ("trunc.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 300, 422, "cannot read the media"),
    ("../../etc/evil.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 300, 422, "evil.mp4"),
])
def test_bad_uploads_get_a_clear_4xx_and_leave_no_temporary_file(server, name, data, status, words):
    r = server.client.post("/v1/describe", files={"file": (name, data, "video/mp4")})
    assert r.status_code == status, r.text
    assert words in r.json()["detail"] and "/tmp" not in r.json()["detail"]
    assert server.temp_entries() == []


def test_server_side_paths_stay_under_the_allowed_root(server):
    for path, status in (("../../etc/passwd", 403), ("/etc/passwd", 403), ("missing.mp4", 404)):
        r = server.client.post("/v1/describe", data={"path": path})
        assert r.status_code == status, (path, r.text)


def test_a_full_pool_answers_429_with_retry_after(server, clip):
    def call(_):
        return server.client.post("/v1/describe", files={"file": ("talk.mp4", clip.read_bytes(), "video/mp4")},
                                  data={"subtitle": "Fine."})

    with ThreadPoolExecutor(4) as ex:
        codes = list(ex.map(call, range(4)))
    statuses = sorted(r.status_code for r in codes)
    assert 200 in statuses and 429 in statuses and set(statuses) <= {200, 429}
    busy = next(r for r in codes if r.status_code == 429)
    assert busy.headers["retry-after"] == "5"
    assert server.temp_entries() == []


def test_timeout_is_504_and_cleans_up(tmp_path, clip, data_dir):
    srv = RunningServer(ServeConfig(asr=False, timeout_s=0.05, data_dir=str(data_dir), temp_dir=str(tmp_path)))
    try:
        r = srv.client.post("/v1/describe", files={"file": ("talk.mp4", clip.read_bytes(), "video/mp4")})
        assert r.status_code == 504 and "not finished within" in r.json()["detail"]
        assert srv.temp_entries() == []
    finally:
        srv.close()


def test_bench_score_over_http(server, data_dir):
    import csv
    import io

    with open(data_dir / "merunibench/gt_csv/mer2023.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["name", "labels"])
    w.writerows([r["name"], f"[{r['label']}]"] for r in rows)
    r = server.client.post("/v1/bench/score", files={"predictions": ("p.csv", buf.getvalue().encode(), "text/csv")},
                           data={"dataset": "mer2023", "extractor": "given"})
    assert r.status_code == 200, r.text
    assert r.json()["score"] > 95
    bad = server.client.post("/v1/bench/score", files={"predictions": ("p.npz", b"PK\x03\x04", "application/zip")},
                             data={"dataset": "mer2023"})
    assert bad.status_code == 415 and "no pickled files" in bad.json()["detail"]


def test_token_and_bind_rules(tmp_path):
    with pytest.raises(AffectGPTError, match="without --token"):
        check_bind("0.0.0.0", None)
    check_bind("0.0.0.0", "s3cret")
    check_bind("127.0.0.1", None)
    srv = RunningServer(ServeConfig(asr=False, token="s3cret", temp_dir=str(tmp_path)))
    try:
        assert srv.client.get("/v1/models").status_code == 401
        assert srv.client.get("/v1/models", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert srv.client.get("/healthz").status_code == 200
    finally:
        srv.close()


def test_chat_completions_with_a_loaded_model(tmp_path, tiny_llm_dir):
    srv = RunningServer(ServeConfig(asr=False, llm_path=str(tiny_llm_dir), temp_dir=str(tmp_path)))
    name = tiny_llm_dir.name
    try:
        r = srv.client.post("/v1/chat/completions", json={"model": name, "max_tokens": 8,
                                                           "messages": [{"role": "user", "content": "Hello there"}]})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["object"] == "chat.completion" and body["choices"][0]["message"]["role"] == "assistant"
        assert body["model"] == name
        from affectgpt.bench.extractors.llm import OpenAIChatBackend

        client = OpenAIChatBackend(srv.url + "/v1", name, max_tokens=8)  # the project's own client
        assert client.complete("Hello there") == body["choices"][0]["message"]["content"]
        assert srv.client.post("/v1/chat/completions", json={"nope": 1}).status_code == 422
        for bad in (-5, 0, 1.5, 10**6, "8"):
            r = srv.client.post("/v1/chat/completions", json={"model": name, "max_tokens": bad,
                                                               "messages": [{"role": "user", "content": "Hi"}]})
            assert r.status_code == 422 and "max_tokens must be a whole number" in r.json()["detail"], bad
        r = srv.client.post("/v1/chat/completions", content=b'{"max_tokens": 1e400, "messages": []}',
                            headers={"content-type": "application/json"})
        assert r.status_code == 422, r.text
    finally:
        srv.close()


def test_chat_with_the_openai_sdk_usage_stream_and_model_names(tmp_path, tiny_llm_dir):
    """The real OpenAI Python SDK against the server: token usage, finish_reason, streaming (with
    the usage chunk), an unknown model (404) and n > 1 (422)."""
    openai = pytest.importorskip("openai")
    from affectgpt.bench.extractors.llm import TransformersBackend

    srv = RunningServer(ServeConfig(asr=False, llm_path=str(tiny_llm_dir), temp_dir=str(tmp_path)))
    name = tiny_llm_dir.name
    ask = [{"role": "user", "content": "Hello there"}]
    try:
        import httpx

        client = openai.OpenAI(base_url=srv.url + "/v1", api_key="unused", max_retries=0,
                               http_client=httpx.Client(trust_env=False, timeout=120))
        reference = TransformersBackend(str(tiny_llm_dir), max_tokens=5).generate("Hello there")
        done = client.chat.completions.create(model=name, messages=ask, max_tokens=5)
        assert done.choices[0].message.content == reference["text"]
        assert done.choices[0].finish_reason == reference["finish_reason"]
        assert (done.usage.prompt_tokens, done.usage.completion_tokens) == (reference["prompt_tokens"],
                                                                            reference["completion_tokens"])
        assert done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens
        # no model named: the only chat model answers
        r = srv.client.post("/v1/chat/completions", json={"messages": ask, "max_tokens": 5})
        assert r.status_code == 200 and r.json()["model"] == name

        chunks = list(client.chat.completions.create(model=name, messages=ask, max_tokens=5, stream=True,
                                                     stream_options={"include_usage": True}))
        assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == reference["text"]
        assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == reference["finish_reason"]
        assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == reference["completion_tokens"]
        plain = list(client.chat.completions.create(model=name, messages=ask, max_tokens=5, stream=True))
        assert all(c.usage is None for c in plain) and all(c.choices for c in plain)

        with pytest.raises(openai.NotFoundError, match="not served here"):
            client.chat.completions.create(model="gpt-4o", messages=ask)
        with pytest.raises(openai.NotFoundError, match="/v1/describe"):
            client.chat.completions.create(model="affectgpt-describe", messages=ask)
        with pytest.raises(openai.UnprocessableEntityError, match="n must be 1"):
            client.chat.completions.create(model=name, messages=ask, n=2)
        r = srv.client.post("/v1/chat/completions", json={"model": name, "messages": ask, "stream": "yes"})
        assert r.status_code == 422 and "stream" in r.json()["detail"] and r.json()["error"]["code"] == 422
        r = srv.client.post("/v1/chat/completions", json={"model": str(tiny_llm_dir), "messages": ask,
                                                          "max_tokens": 5, "stream": None})
        assert r.status_code == 200 and r.json()["model"] == name  # the --llm folder names the model too
        r = srv.client.get("/v1/chat/completions")  # routing's own 405 carries the OpenAI error object too
        assert r.status_code == 405 and r.json()["error"]["message"]
    finally:
        srv.close()


def test_finish_reason_length_only_when_cut(tiny_llm_dir):
    """finish_reason is "length" exactly when the answer filled max_tokens without an end token,
    "stop" (counting the end token) when it ended. The tiny random model never emits its own end
    token, so the token it emits third is made the end token for the "stop" case."""
    from affectgpt.bench.extractors.llm import TransformersBackend

    llm = TransformersBackend(str(tiny_llm_dir), max_tokens=6)
    cut = llm.generate("Hello there")
    assert cut["finish_reason"] == "length" and cut["completion_tokens"] == 6
    ids = llm.tokenizer("Hello there", return_tensors="pt")["input_ids"]
    raw = llm.model.generate(ids, attention_mask=ids.new_ones(ids.shape), do_sample=False, max_new_tokens=6,
                             pad_token_id=llm.tokenizer.pad_token_id)[0, ids.shape[1]:].tolist()
    third = raw[2]
    llm.model.generation_config.eos_token_id = third
    ended = llm.generate("Hello there")
    assert ended["finish_reason"] == "stop" and ended["completion_tokens"] == raw.index(third) + 1 <= 3
    assert ended["prompt_tokens"] == ids.shape[1] == cut["prompt_tokens"]
    assert ended["text"] == llm.tokenizer.decode(raw[: raw.index(third) + 1], skip_special_tokens=True)


def test_readyz_with_preload(tmp_path, tiny_llm_dir):
    """--preload: /readyz is 503 until every configured model is loaded, then 200 listing them; a
    model that cannot load leaves it 503 with the error, while /healthz stays 200."""
    import time

    srv = RunningServer(ServeConfig(asr=False, llm_path=str(tiny_llm_dir), temp_dir=str(tmp_path), preload=True))
    try:
        seen = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            r = srv.client.get("/readyz")
            seen.append(r.status_code)
            if r.status_code == 200:
                break
            assert r.json()["status"] == "loading"
            time.sleep(0.05)
        assert r.status_code == 200 and r.json()["loaded"] == ["describer", "llm"], r.text
    finally:
        srv.close()
    broken = tmp_path / "not-a-model"
    broken.mkdir()
    srv = RunningServer(ServeConfig(asr=False, llm_path=str(broken), temp_dir=str(tmp_path / "b"), preload=True))
    try:
        deadline = time.monotonic() + 60
        while srv.client.get("/readyz").json()["status"] == "loading" and time.monotonic() < deadline:
            time.sleep(0.05)
        r = srv.client.get("/readyz")
        assert r.status_code == 503 and r.json()["status"] == "failed" and r.json()["error"], r.text
        assert srv.client.get("/healthz").status_code == 200
    finally:
        srv.close()
    srv = RunningServer(ServeConfig(asr=False, temp_dir=str(tmp_path / "c")))  # no preload: ready at once
    try:
        r = srv.client.get("/readyz")
        assert r.status_code == 200 and r.json() == {"status": "ready", "loaded": [], "error": None}
    finally:
        srv.close()


def test_sniffing():
    assert sniff_media(b"\x00\x00\x00\x18ftypisom") and sniff_media(b"RIFF\x00\x00\x00\x00WAVE")
    assert not sniff_media(b"<html>") and not sniff_media(b"#!/bin/sh\nrm -rf /")


def test_chat_with_a_trained_affectgpt_run_and_a_video_reference(tmp_path, tiny_llm_dir, data_dir):
    import shutil

    from affectgpt.cli import main

    clips = tmp_path / "clips"
    clips.mkdir()
    src = sorted((data_dir / "crema_d" / "video_mp4").glob("*.mp4"))[:2]
    for p in src:
        shutil.copyfile(p, clips / p.name)
    manifest = tmp_path / "train.csv"
    manifest.write_text("name,path,subtitle,target,label\n" + "".join(
        f"{p.stem},{clips / p.name},Don't forget a jacket,The character's emotional state is angry.,angry\n"
        for p in src), encoding="utf-8")
    run = tmp_path / "run"
    sets = [f"model.llm_path={tiny_llm_dir}", f"data.manifest={manifest}", "train.max_steps=1", "train.batch_size=2",
            "train.grad_accum=1", f"train.output_dir={run}", "train.save_every=1"]
    assert main(["train", "mini", *sum((["--set", s] for s in sets), []), "-q"]) == 0
    srv = RunningServer(ServeConfig(asr=False, model=str(run), allowed_root=str(clips), temp_dir=str(tmp_path / "t")))
    try:
        assert "affectgpt-run" in [m["id"] for m in srv.client.get("/v1/models").json()["data"]]
        video = {"type": "video_url", "video_url": {"url": src[0].name}}
        ask = {"model": "affectgpt-run", "max_tokens": 4,
               "messages": [{"role": "user", "content": [{"type": "text", "text": "Don't forget a jacket"}, video]}]}
        r = srv.client.post("/v1/chat/completions", json=ask)
        assert r.status_code == 200, r.text
        assert r.json()["model"] == "affectgpt-run" and isinstance(r.json()["choices"][0]["message"]["content"], str)
        text_only = srv.client.post("/v1/chat/completions", json={"model": "affectgpt-run", "max_tokens": 4,
                                                                  "messages": [{"role": "user", "content": "Hi"}]})
        assert text_only.status_code == 200, text_only.text
        outside = {**ask, "messages": [{"role": "user", "content": [{"type": "video_url",
                                                                     "video_url": {"url": "../../etc/passwd"}}]}]}
        assert srv.client.post("/v1/chat/completions", json=outside).status_code == 403
        remote = {**ask, "messages": [{"role": "user", "content": [{"type": "video_url",
                                                                    "video_url": {"url": "https://x/y.mp4"}}]}]}
        assert srv.client.post("/v1/chat/completions", json=remote).status_code == 422
    finally:
        srv.close()


@pytest.mark.parametrize("cut", [True, False])
def test_client_disconnect_leaves_no_temporary_file(server, clip, cut):
    import socket

    boundary = "xYzBoUnDaRy"
    data = clip.read_bytes()
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"talk.mp4\"\r\n"
            f"Content-Type: video/mp4\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as s:
        s.sendall((f"POST /v1/describe HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/form-data; "
                   f"boundary={boundary}\r\nContent-Length: {len(body)}\r\n\r\n").encode())
        s.sendall(body[: len(body) // 2] if cut else body)  # gone mid-upload, or gone while it is described
    deadline, empty_since = time.monotonic() + 60, None
    while time.monotonic() < deadline:  # empty, and staying empty for 2 s (the request may still be starting)
        if server.temp_entries():
            empty_since = None
        elif empty_since is None:
            empty_since = time.monotonic()
        elif time.monotonic() - empty_since > 2.0:
            break
        time.sleep(0.05)
    assert server.temp_entries() == []
    assert server.client.get("/healthz").status_code == 200


def test_a_port_in_use_is_a_usage_error_before_serving(server, capsys):
    from affectgpt.cli import main

    port = server.url.rsplit(":", 1)[1]
    assert main(["serve", "--port", port, "--no-asr"]) == 2
    err = capsys.readouterr()
    assert f"cannot serve on 127.0.0.1:{port}" in err.err and "serving on" not in err.out


def test_a_subtitle_over_http_is_text_never_a_server_file(server, clip):
    secret = server.config.allowed_root + "/inside.txt"
    for value in (secret, "/etc/hostname"):
        r = server.client.post("/v1/describe", files={"file": ("talk.mp4", clip.read_bytes(), "video/mp4")},
                               data={"subtitle": value})
        assert r.status_code == 200, r.text
        assert r.json()["transcript"]["text"] == value  # the words sent, not the file's content
    long = server.client.post("/v1/describe", files={"file": ("talk.mp4", clip.read_bytes(), "video/mp4")},
                              data={"subtitle": "啊" * 10_001})
    assert long.status_code == 413 and "over the 10000 limit" in long.json()["detail"]


def test_bad_paths_languages_and_settings_are_4xx_or_refused(server, clip):
    for path in ("a\x00b.mp4", "x" * 2000):
        r = server.client.post("/v1/describe", data={"path": path})
        assert r.status_code == 422 and "Traceback" not in r.text, r.text
    r = server.client.post("/v1/describe", files={"file": ("talk.mp4", clip.read_bytes(), "video/mp4")},
                           data={"language": "xx"})
    assert r.status_code == 422 and "not a language code Whisper knows" in r.json()["detail"]
    for kwargs in ({"workers": 0}, {"queue": -1}, {"timeout_s": 0}, {"max_upload_mb": -1}):
        with pytest.raises(ValueError):
            ServeConfig(**kwargs)
    from affectgpt.serve import check_port

    with pytest.raises(AffectGPTError, match="a port is 1-65535"):
        check_port("127.0.0.1", 99999)


def test_an_oversized_body_is_refused_on_its_declared_length(server):
    r = server.client.post("/v1/describe", content=b"\x00" * (3 << 20),
                           headers={"content-type": "multipart/form-data; boundary=x"})
    assert r.status_code == 413 and "over the 1 MB limit" in r.json()["detail"]
    assert server.temp_entries() == []


def test_bench_score_answers_name_no_server_path(server, data_dir):
    body = "name,labels\n" + "".join(f"n{i},[happy]\n" for i in range(3))
    r = server.client.post("/v1/bench/score", files={"predictions": ("p.csv", body.encode(), "text/csv")},
                           data={"dataset": "mer2023", "extractor": "given"})
    text = r.text
    assert str(data_dir) not in text and server.config.temp_dir not in text and "/tmp/" not in text, text


def test_a_timed_out_request_keeps_its_worker_until_it_ends(tmp_path, media, data_dir):
    srv = RunningServer(ServeConfig(asr=False, timeout_s=0.3, workers=1, queue=0, data_dir=str(data_dir),
                                    temp_dir=str(tmp_path)))
    try:
        long = media.video("long.mp4", seconds=30.0, fps=10, size=(320, 240))  # seconds of work, far over 0.3 s
        files = {"file": ("long.mp4", long.read_bytes(), "video/mp4")}
        first = srv.client.post("/v1/describe", files=files)
        assert first.status_code == 504
        second = srv.client.post("/v1/describe", files=files)
        assert second.status_code == 429  # the timed-out describe still runs: no second one beside it
        assert srv.client.get("/healthz").json()["in_progress"] == 1
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and srv.client.get("/healthz").json()["in_progress"]:
            time.sleep(0.5)  # once its thread ends, its worker is free again
        assert srv.client.get("/healthz").json()["in_progress"] == 0
    finally:
        srv.close()


def test_bearer_scheme_is_case_insensitive(tmp_path):
    srv = RunningServer(ServeConfig(asr=False, token="s3cret", temp_dir=str(tmp_path)))
    try:
        assert srv.client.get("/v1/models", headers={"Authorization": "bearer s3cret"}).status_code == 200
        assert srv.client.get("/v1/models", headers={"Authorization": "Bearer wrong"}).status_code == 401
    finally:
        srv.close()
