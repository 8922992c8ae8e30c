"""The merge step against a real OpenAI-compatible server on loopback that serves a small local
model (a tiny random Llama the tests build) through the chat API: real replies, 5xx and timeouts
retried with backoff then recorded as failures, malformed replies parsed defensively."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from affectgpt.caption.steps import MERGE_PROMPT, MergeStep, merge_prompt
from affectgpt.pipeline import run_map

pytest.importorskip("transformers")


class _ChatHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):  # noqa: N802
        srv = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][-1]["content"]
        if isinstance(prompt, list):  # content parts: text, image_url (data URL), input_audio
            srv.parts.append(prompt)
            prompt = " ".join(p["text"] for p in prompt if p["type"] == "text")
        srv.prompts.append(prompt)
        if "FAIL5XX" in prompt or srv.fail_next > 0:
            srv.fail_next -= 1
            self.send_response(503)
            self.end_headers()
            self.wfile.write(b"busy")
            return
        if "SLOW" in prompt:
            time.sleep(1.0)
        if srv.fixed_reply is not None and "basic emotion" in prompt:
            payload = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant",
                                                                        "content": srv.fixed_reply}}]}).encode()
        elif "MALFORMED" in prompt:
            payload = b'{"choices": []}' if "EMPTY" in prompt else b"<html>not json"
        else:
            with srv.lock:
                text = srv.llm.complete(prompt)
            payload = json.dumps({"id": "x", "object": "chat.completion", "model": body["model"],
                                  "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                               "finish_reason": "stop"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture(scope="module")
def chat_server(tiny_llm_dir):
    from affectgpt.bench.extractors.llm import TransformersBackend

    srv = ThreadingHTTPServer(("127.0.0.1", 0), _ChatHandler)
    srv.llm = TransformersBackend(str(tiny_llm_dir), max_tokens=12)
    srv.lock, srv.prompts, srv.fail_next, srv.parts, srv.fixed_reply = threading.Lock(), [], 0, [], None
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}/v1"
    yield srv
    srv.shutdown()
    srv.server_close()


def _record(i, subtitle="I can't believe we won!"):
    return {"id": f"s{i}", "path": f"s{i}.mp4", "subtitle": subtitle,
            "clues": {"acoustic": "In the audio, the voice is loud.", "visual": "In the video, the person smiles.",
                      "lexical": ""}, "describe": {"description": "unused"}}


def _step(url, **kw):
    return MergeStep("openai", url, "tiny-llama", timeout_s=kw.get("timeout_s", 30), retries=kw.get("retries", 3),
                     max_tokens=12)


def test_merge_through_a_real_chat_server(chat_server, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    recs = [_record(0), _record(1, "Leave me alone.")]
    res = run_map(_step(chat_server.url), recs, progress=False)
    assert not res.failures
    for rec, out in zip(recs, res.records):
        assert out["description"] == chat_server.llm.complete(merge_prompt(rec)).strip() != ""
        assert out["merge_backend"] == "openai"
    sent = chat_server.prompts[-1]
    assert sent.startswith(MERGE_PROMPT) and "Visual clues: In the video, the person smiles." in sent
    assert "Subtitle: Leave me alone." in sent


def test_5xx_is_retried_then_recorded_and_the_rest_goes_on(chat_server, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    chat_server.fail_next = 2  # two 503s, then the server answers
    n = len(chat_server.prompts)
    res = run_map(_step(chat_server.url), [_record(0)], progress=False)
    assert not res.failures and len(chat_server.prompts) - n == 3
    res = run_map(_step(chat_server.url, retries=2), [_record(1, "FAIL5XX"), _record(2)], progress=False)
    assert [r["id"] for r in res.failures] == ["s1"] and "503" in res.failures[0]["error"]
    assert res.records[1]["description"]


def test_timeouts_and_malformed_replies_become_failure_records(chat_server, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    t0 = time.perf_counter()
    res = run_map(_step(chat_server.url, timeout_s=0.3, retries=2),
                  [_record(0, "SLOW"), _record(1, "MALFORMED EMPTY"), _record(2, "MALFORMED"), _record(3)],
                  progress=False)
    assert time.perf_counter() - t0 < 30
    errors = {r["id"]: r["error"] for r in res.failures}
    assert set(errors) == {"s0", "s1", "s2"}
    assert "timed out" in errors["s0"] or "timeout" in errors["s0"].lower()
    assert "LLM endpoint" in errors["s1"] and "LLM endpoint" in errors["s2"]
    assert res.records[3]["description"]


def test_caption_run_with_clue_models_and_merge_behind_the_endpoint(chat_server, monkeypatch, tmp_path, data_dir):
    import base64

    pytest.importorskip("mediapipe")
    from affectgpt.caption import caption_run, load_caption_config
    from affectgpt.caption.steps import AUDIO_CLUE_PROMPT, VIDEO_CLUE_PROMPT

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    clip = sorted((data_dir / "crema_d" / "video_mp4").glob("*.mp4"))[0]
    m = tmp_path / "m.csv"
    m.write_text(f"name,path,english\nc0,{clip},Don't forget a jacket\n", encoding="utf-8")
    cfg = load_caption_config("paper", ["clues.asr=false", f"clues.url={chat_server.url}", "clues.audio_model=tiny-a",
                                        "clues.video_model=tiny-v", "clues.frames=4", "clues.max_tokens=12",
                                        f"merge.url={chat_server.url}", "merge.model=tiny", "merge.max_tokens=12",
                                        "filters.length.enabled=false"])
    n = len(chat_server.parts)
    res = caption_run(cfg, [str(m)], tmp_path / "out", progress=False, data_dir=str(data_dir), plots=False)
    assert not res.failures, res.failures
    rec = res.records[0]
    assert rec["clue_sources"] == {"visual": "tiny-v", "acoustic": "tiny-a"}
    sent = chat_server.parts[n:]
    video = next(p for p in sent if p[0]["text"].startswith(VIDEO_CLUE_PROMPT))
    audio = next(p for p in sent if p[0]["text"].startswith(AUDIO_CLUE_PROMPT))
    images = [p for p in video if p["type"] == "image_url"]
    assert 1 <= len(images) <= 4 and "Don't forget a jacket" in video[0]["text"]
    assert base64.b64decode(images[0]["image_url"]["url"].split(",", 1)[1])[:3] == b"\xff\xd8\xff"  # JPEG
    wav = base64.b64decode(audio[1]["input_audio"]["data"])
    assert audio[1]["input_audio"]["format"] == "wav" and wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"
    # the merge saw the models' clues, and the description is the endpoint's answer
    assert f"Visual clues: {rec['clues']['visual']}" in chat_server.prompts[-1]
    assert rec["merge_backend"] == "openai" and rec["description"]


def test_merge_with_a_local_transformers_model(tiny_llm_dir):
    from affectgpt.bench.extractors.llm import TransformersBackend

    step = MergeStep("transformers", model=str(tiny_llm_dir), max_tokens=12)
    res = run_map(step, [_record(0), _record(1, "Leave me alone.")], progress=False)
    assert not res.failures
    ref = TransformersBackend(str(tiny_llm_dir), max_tokens=12)
    assert [r["description"] for r in res.records] == [ref.complete(merge_prompt(r)).strip()
                                                       for r in (_record(0), _record(1, "Leave me alone."))]


def test_an_endpoint_crowd_voter(chat_server, monkeypatch, data_dir):
    from affectgpt.caption.steps import CrowdFilter

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    rec = {**_record(0), "openset": ["sad"], "description_sentiment": "negative",
           "modality_probs": {"audio": {"sad": 0.9, "happy": 0.1}}}
    step = CrowdFilter("E+S", ["audio"], data_dir=str(data_dir), extra_voters=[{"name": "llm", "url": chat_server.url, "model": "tiny"}])
    monkeypatch.setattr(chat_server, "fixed_reply", "Sad.")
    out = run_map(step, [rec], progress=False)
    assert out.records[0]["vote"]["voters"] == {"audio": "sad", "llm": "sad"} and out.records[0]["kept"]
    assert "basic emotion" in chat_server.prompts[-1] and "In the video, the person smiles." in chat_server.prompts[-1]
    monkeypatch.setattr(chat_server, "fixed_reply", "I would rather not say.")  # names no emotion: abstains
    out = run_map(step, [rec], progress=False)
    assert out.records[0]["vote"]["voters"] == {"audio": "sad"}
