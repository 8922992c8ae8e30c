"""``affectgpt serve``: the describer, the scorer and an OpenAI-compatible chat endpoint over HTTP
(FastAPI on uvicorn), with a web page.

Routes: ``GET /healthz`` (liveness), ``GET /readyz`` (readiness), ``GET /v1/models``,
``POST /v1/describe``, ``POST /v1/bench/score``, ``POST /v1/chat/completions`` (OpenAI-compatible,
``stream`` included), ``GET /`` (the page), ``GET /openapi.json``.

Safety, each tested: an upload-size limit (checked while the upload streams, 413), content
sniffing before any decoding (415), a media-duration limit (413), a per-request timeout (504), a
bounded worker pool with a bounded queue (429 with ``Retry-After``), temporary files removed on
every path (timeout and client disconnect included), server-side paths only under a configured
root (no traversal), no pickle over HTTP, and a bearer token whenever the server binds to a
non-loopback address (it refuses to start without one).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Depends, FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from affectgpt.errors import AffectGPTError

__all__ = ["ServeConfig", "create_app", "sniff_media", "check_bind", "ChatCompletion", "ModelList", "Health", "Ready"]

#: container signatures accepted as media (offset, bytes)
_MAGIC = [
    (4, b"ftyp"),  # MP4 / MOV / M4A / 3GP
    (0, b"\x1a\x45\xdf\xa3"),  # Matroska / WebM
    (0, b"RIFF"),  # WAV / AVI
    (0, b"OggS"), (0, b"fLaC"), (0, b"ID3"), (0, b"FLV"),
    (0, b"\xff\xfb"), (0, b"\xff\xf3"), (0, b"\xff\xf2"),  # MP3 frames
    (0, b"\x00\x00\x01\xba"), (0, b"\x00\x00\x01\xb3"),  # MPEG-PS
    (0, b"\x30\x26\xb2\x75"),  # ASF / WMV
]


def sniff_media(head: bytes) -> bool:
    """Whether the first bytes of a file look like a media container (MPEG-TS by its 0x47 sync
    bytes every 188 bytes)."""
    if any(head[off:off + len(sig)] == sig for off, sig in _MAGIC):
        return True
    return len(head) >= 377 and head[0] == 0x47 and head[188] == 0x47 and head[376] == 0x47


def check_bind(host: str, token: str | None) -> None:
    """Refuse a non-loopback bind without a bearer token (raises :class:`AffectGPTError`)."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and not token:
        raise AffectGPTError(f"refusing to serve on {host} without --token: a non-loopback address needs a bearer "
                             "token (or bind to 127.0.0.1)")


@dataclass
class ServeConfig:
    """Server settings.

    Attributes:
        max_upload_mb: largest accepted upload (MB); larger requests get 413 while streaming.
        max_duration_s: longest accepted media (seconds, from the container probe).
        timeout_s: per-request limit on describing or scoring (504 after it).
        workers: requests processed at once; ``queue`` more may wait; beyond that: 429.
        token: bearer token required on every ``/v1`` route when set.
        allowed_root: server-side ``path`` inputs must resolve under this folder (None: refused).
        data_dir: the data directory (sample clip, ground truth).
        llm_path: a local causal LM folder served by ``/v1/chat/completions``.
        model: a trained AffectGPT run: ``/v1/describe`` adds its answer, and ``/v1/chat/completions``
            answers with it (text, plus a ``video_url`` part naming a clip under ``allowed_root``).
        asr: transcribe uploads without a subtitle.
        preload: load the describer (and ``llm_path`` / ``model``) when the server starts, in the
            background; ``GET /readyz`` answers 503 until they are loaded. Without it, each model
            loads on its first request and ``/readyz`` is ready at once.
    """

    max_upload_mb: float = 64.0
    max_duration_s: float = 120.0
    timeout_s: float = 120.0
    workers: int = 1
    queue: int = 4
    token: str | None = None
    allowed_root: str | None = None
    data_dir: str | None = None
    llm_path: str | None = None
    model: str | None = None
    asr: bool = True
    temp_dir: str | None = None
    extra: dict = field(default_factory=dict)
    max_subtitle_chars: int = 10_000
    preload: bool = False

    def __post_init__(self):
        """Raises ValueError for settings a server cannot run with (no worker, no time, no upload)."""
        import math

        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise ValueError(f"workers (--workers) must be at least 1 (got {self.workers!r})")
        if isinstance(self.queue, bool) or not isinstance(self.queue, int) or self.queue < 0:
            raise ValueError(f"queue (--queue) must be 0 or more (got {self.queue!r})")
        for name, flag in (("timeout_s", "--timeout"), ("max_upload_mb", "--max-upload-mb"),
                           ("max_duration_s", "--max-duration")):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v <= 0:
                raise ValueError(f"{name} ({flag}) must be a positive, finite number (got {v!r})")
        if self.max_subtitle_chars < 1:
            raise ValueError(f"max_subtitle_chars must be at least 1 (got {self.max_subtitle_chars})")


class Health(BaseModel):
    """``GET /healthz``: liveness."""

    status: str = Field(description="always ok while the process serves")
    version: str
    in_progress: int = Field(description="requests holding a worker or a queue place")
    capacity: int = Field(description="workers + queue places")


class Ready(BaseModel):
    """``GET /readyz``: readiness (503 while ``--preload`` is still loading, or after it failed)."""

    status: str = Field(description="ready, loading or failed")
    loaded: list[str] = Field(description="models loaded so far: describer, llm, affectgpt-run")
    error: str | None = Field(None, description="why preloading failed")


class ModelCard(BaseModel):
    id: str
    object: str = "model"
    owned_by: str
    checkpoint: str | None = None


class ModelList(BaseModel):
    """``GET /v1/models`` (OpenAI list format)."""

    object: str = "list"
    data: list[ModelCard]


class ChatMessage(BaseModel):
    role: str
    content: str


class ChatChoice(BaseModel):
    index: int
    message: ChatMessage
    finish_reason: str = Field(description="stop, or length when cut at max_tokens")


class ChatUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    """``POST /v1/chat/completions`` without ``stream`` (OpenAI ``chat.completion``)."""

    id: str
    object: str = "chat.completion"
    created: int = Field(description="Unix time, seconds")
    model: str
    choices: list[ChatChoice]
    usage: ChatUsage | None = Field(None, description="token counts (the LLM only)")


#: ``POST /v1/chat/completions``'s request (the OpenAI fields this server reads)
CHAT_REQUEST = {"type": "object", "required": ["messages"], "properties": {
    "model": {"type": "string", "description": "a chat model of GET /v1/models; default: the only one"},
    "messages": {"type": "array", "items": {"type": "object", "properties": {
        "role": {"type": "string"},
        "content": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}],
                    "description": "text, or parts: {type: text, text} and {type: video_url, video_url: {url}}"}}}},
    "max_tokens": {"type": "integer", "minimum": 1, "maximum": 1024, "default": 256},
    "max_completion_tokens": {"type": "integer", "minimum": 1, "maximum": 1024},
    "stream": {"type": "boolean", "default": False},
    "stream_options": {"type": "object", "properties": {"include_usage": {"type": "boolean"}}},
    "n": {"type": "integer", "enum": [1]}}}

#: ``POST /v1/describe``'s answer, documented loosely (the full schema: docs/describe.md)
DESCRIBE_RESPONSE = {200: {"description": "the describe JSON (docs/describe.md)", "content": {"application/json": {
    "schema": {"type": "object", "required": ["file", "description", "labels", "sentiment", "modalities"],
               "properties": {"file": {"type": "string"}, "description": {"type": "string"},
                              "labels": {"type": "array", "items": {"type": "string"}},
                              "sentiment": {"type": "object"}, "modalities": {"type": "object"},
                              "transcript": {"type": "object"}, "timeline": {"type": "array"}},
               "additionalProperties": True}}}}}

#: ``POST /v1/bench/score``'s answer, documented loosely (docs/metrics.md)
SCORE_RESPONSE = {200: {"description": "the score report (docs/metrics.md)", "content": {"application/json": {
    "schema": {"type": "object", "additionalProperties": True}}}}}


def _error_body(path: str, status: int, detail) -> dict:
    """FastAPI's ``{"detail": ...}`` plus, on the OpenAI-compatible routes, OpenAI's ``{"error":
    {"message", "type", "param", "code"}}`` so that OpenAI clients show the reason."""
    body: dict = {"detail": detail}
    if path.startswith(("/v1/chat/", "/v1/models")):
        kind = {401: "authentication_error", 404: "not_found_error", 413: "invalid_request_error",
                429: "rate_limit_error", 504: "timeout_error"}.get(status, "invalid_request_error")
        body["error"] = {"message": str(detail), "type": kind, "param": None, "code": status}
    return body


class _Slots:
    """At most ``workers`` running and ``queue`` waiting; beyond that a request is turned away."""

    def __init__(self, workers: int, queue: int):
        self.workers, self.capacity = workers, workers + queue
        self._lock = threading.Lock()
        self._inside = 0
        self._run = asyncio.Semaphore(workers)

    def try_enter(self) -> bool:
        with self._lock:
            if self._inside >= self.capacity:
                return False
            self._inside += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self._inside -= 1

    @property
    def in_progress(self) -> int:
        """Requests running or waiting now."""
        with self._lock:
            return self._inside


def _scrub_paths(obj, replace: dict[str, str]):
    """``obj`` (JSON-like) with every string's server paths replaced (longest first): an answer
    names files as the client knows them, never where they lie on the server."""
    keys = sorted((k for k in replace if k), key=len, reverse=True)

    def fix(v):
        if isinstance(v, str):
            for k in keys:
                if k in v:
                    v = v.replace(k, replace[k])
            return v
        if isinstance(v, dict):
            return {fix(k): fix(x) for k, x in v.items()}
        if isinstance(v, list):
            return [fix(x) for x in v]
        return v

    return fix(obj)


def create_app(cfg: ServeConfig | None = None):
    """The FastAPI application (see the module doc for routes and limits)."""
    from contextlib import asynccontextmanager

    from affectgpt import __version__

    cfg = cfg or ServeConfig()
    state: dict = {"describer": None, "llm": None}

    @asynccontextmanager
    async def lifespan(_app):  # the same app may be started again (tests, reloads): set up per start
        tmp_root.mkdir(parents=True, exist_ok=True)
        if cfg.preload:
            state["preload"] = {"status": "loading", "error": None}
            threading.Thread(target=preload, name="affectgpt-preload", daemon=True).start()
        yield
        # a request that timed out may still be describing in its thread: wait for it before the
        # describer's models are freed under it
        with describe_lock, lock:
            if state["describer"] is not None:
                state["describer"].close()
                state["describer"] = None
        shutil.rmtree(tmp_root, ignore_errors=True)

    app = FastAPI(title="affectgpt", version=__version__, lifespan=lifespan,
                  description="Explainable multimodal emotion understanding: describe clips, score MER-UniBench "
                              "predictions, chat with a loaded model.")
    tmp_root = Path(cfg.temp_dir or tempfile.gettempdir()) / f"affectgpt-serve-{os.getpid()}"
    tmp_root.mkdir(parents=True, exist_ok=True)
    app.state.temp_root = tmp_root
    app.state.config = cfg

    @app.exception_handler(StarletteHTTPException)  # FastAPI's HTTPException and routing's 404/405 alike
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """FastAPI's ``{"detail": ...}`` plus, on the OpenAI-compatible routes, OpenAI's
        ``{"error": {"message", "type", "code"}}`` so that OpenAI clients show the reason."""
        return JSONResponse(_error_body(request.url.path, exc.status_code, exc.detail), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    slots = _Slots(cfg.workers, cfg.queue)
    lock = threading.Lock()
    describe_lock = threading.Lock()

    def auth(request: Request) -> None:
        import hmac

        if not cfg.token:
            return
        scheme, _, given = (request.headers.get("authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), cfg.token.encode()):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    def describer():
        with lock:
            if state["describer"] is None:
                from affectgpt.describe.pipeline import DescribeConfig, Describer

                state["describer"] = Describer(DescribeConfig(timeline=True, asr=cfg.asr, data_dir=cfg.data_dir,
                                                              model=cfg.model))
            return state["describer"]

    def loaded() -> list[str]:
        return [name for name, key in (("describer", "describer"), ("llm", "llm"), ("affectgpt-run", "answerer"))
                if state.get(key) is not None]

    def preload() -> None:
        """Load every configured model (the server's background thread when ``cfg.preload``)."""
        try:
            if cfg.llm_path:
                with lock:
                    chat_llm()
            if cfg.model:
                with lock:
                    run_answerer()
            describer()
            state["preload"] = {"status": "ready", "error": None}
        except Exception as exc:  # reported by /readyz, never raised into the server
            state["preload"] = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}

    async def limited(fn, *args):
        """Run ``fn`` in a worker thread under the pool and the timeout. The timeout covers waiting
        for a worker too. A thread cannot be stopped: when the timeout fires the client gets 504 at
        once, but the request keeps its worker and queue place until the thread really ends, so
        timed-out work never piles up beyond ``workers`` + ``queue`` (later requests get 429)."""
        if not slots.try_enter():
            raise HTTPException(429, f"busy: {slots.workers} running and {slots.capacity - slots.workers} waiting; "
                                     "retry later", headers={"Retry-After": "5"})
        loop = asyncio.get_running_loop()
        deadline = loop.time() + cfg.timeout_s
        running = False
        handed_off = False
        try:
            try:
                await asyncio.wait_for(slots._run.acquire(), timeout=cfg.timeout_s)
            except asyncio.TimeoutError:
                raise HTTPException(504, f"not started within {cfg.timeout_s:g} s (all workers busy)") from None
            running = True
            task = asyncio.ensure_future(run_in_threadpool(fn, *args))
            try:
                return await asyncio.wait_for(asyncio.shield(task), timeout=max(0.0, deadline - loop.time()))
            except asyncio.TimeoutError:
                def release(t):  # runs on the event loop when the thread is done
                    if not t.cancelled():
                        t.exception()  # retrieved: the client already has its 504
                    slots._run.release()
                    slots.leave()

                task.add_done_callback(release)
                handed_off = True
                raise HTTPException(504, f"not finished within {cfg.timeout_s:g} s") from None
        finally:
            if not handed_off:
                if running:
                    slots._run.release()
                slots.leave()

    async def save_upload(upload: UploadFile, folder: Path) -> Path:
        """Stream an upload to ``folder`` under a safe name, enforcing the size limit and sniffing."""
        name = Path(upload.filename or "upload").name  # "../x.mp4" -> "x.mp4": never outside the folder
        suffix = "".join(c for c in Path(name).suffix.lower() if c.isalnum() or c == ".")[:8]
        dest = folder / f"upload{suffix}"
        limit = int(cfg.max_upload_mb * 1024 * 1024)
        size = 0
        head = b""
        with open(dest, "wb") as fh:
            while chunk := await upload.read(1 << 20):
                size += len(chunk)
                if size > limit:
                    raise HTTPException(413, f"{name}: upload over the {cfg.max_upload_mb:g} MB limit")
                if len(head) < 512:
                    head += chunk[: 512 - len(head)]
                fh.write(chunk)
        if size == 0:
            raise HTTPException(400, f"{name}: the upload is empty (0 bytes)")
        if not sniff_media(head):
            raise HTTPException(415, f"{name}: not a media file (no audio/video container signature); "
                                     "send mp4, mkv/webm, avi, mov, wav, flac, mp3, ogg or MPEG-TS")
        return dest

    def probe(path: Path, shown: str) -> None:
        from affectgpt.media.clip import Clip

        try:
            info = Clip.open(path, max_duration_s=cfg.max_duration_s + 1, decode_audio=False).info
        except (AffectGPTError, OSError, ValueError) as exc:
            raise HTTPException(422, f"{shown}: cannot read the media ({str(exc).replace(str(path), shown)})") from None
        if info.duration_s and info.duration_s > cfg.max_duration_s:
            raise HTTPException(413, f"{shown}: {info.duration_s:.0f} s of media, over the {cfg.max_duration_s:g} s "
                                     "limit")

    def run_describe(path: Path, shown: str, subtitle: str | None, language: str | None, timeline: bool) -> dict:
        probe(path, shown)
        d = describer()
        describe_lock.acquire()  # one describer, one clip at a time (its models are not thread-safe)
        old = d.config.language
        try:
            d.config.language = language or None  # this request's language only (checked by the route)
            r = d.describe(path, subtitle or None)
        except (AffectGPTError, ValueError) as exc:
            raise HTTPException(422, str(exc).replace(str(path), shown)) from None
        finally:
            d.config.language = old
            describe_lock.release()
        r["file"] = shown
        r.pop("path", None)
        if not timeline:
            r.pop("timeline", None)
        return r

    def under_root(ref: str) -> Path:
        """A server-side file named by a request: only under the allowed root (403 outside, 404 absent)."""
        if ref.startswith(("http://", "https://", "data:")):
            raise HTTPException(422, f"{ref}: only a path under the server's allowed root is accepted")
        if not cfg.allowed_root:
            raise HTTPException(403, "server-side paths are disabled (start with --allowed-root DIR)")
        if "\x00" in ref or len(ref) > 1024:
            raise HTTPException(422, "path: not a file name (NUL byte or over 1024 characters)")
        root = Path(cfg.allowed_root).resolve()
        try:
            src = (root / ref.removeprefix("file://")).resolve()
            if root != src and root not in src.parents:
                raise HTTPException(403, f"{ref}: outside the allowed root")
            if not src.is_file():
                raise HTTPException(404, f"{ref}: not found under the allowed root")
        except (OSError, ValueError):
            raise HTTPException(422, "path: not a usable file name") from None
        return src

    @app.middleware("http")
    async def body_limit(request: Request, call_next):
        """413 on the declared length, before any of an oversized body is read or stored."""
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cfg.max_upload_mb * 1024 * 1024 + (1 << 20):  # + multipart framing
            return JSONResponse(_error_body(request.url.path, 413, f"request body of {int(declared) / 2**20:.0f} MB, "
                                                                   f"over the {cfg.max_upload_mb:g} MB limit"),
                                status_code=413)
        return await call_next(request)

    @app.get("/healthz", response_model=Health)
    def healthz() -> dict:
        """Liveness: always 200 while the process serves, with the requests holding a worker or a
        queue place (``in_progress``; a timed-out request holds its worker until its thread ends)."""
        return {"status": "ok", "version": __version__, "in_progress": slots.in_progress,
                "capacity": slots.capacity}

    @app.get("/readyz", response_model=Ready, responses={503: {"model": Ready, "description": "still loading, or failed"}})
    def readyz() -> JSONResponse:
        """Readiness: 200 once the server can answer without loading a model first (at once without
        ``--preload``); 503 while preloading, or with the error when preloading failed."""
        pre = state.get("preload") or {"status": "ready", "error": None}
        body = {"status": pre["status"], "loaded": loaded(), "error": pre["error"]}
        return JSONResponse(body, status_code=200 if pre["status"] == "ready" else 503)

    @app.get("/v1/models", dependencies=[Depends(auth)], response_model=ModelList, response_model_exclude_none=True)
    def models() -> dict:
        """The models this server answers with (OpenAI list format)."""
        data = [{"id": "affectgpt-describe", "object": "model", "owned_by": "affectgpt"}]
        if cfg.llm_path:
            data.append({"id": Path(cfg.llm_path).name, "object": "model", "owned_by": "local"})
        if cfg.model:
            data.append({"id": "affectgpt-run", "object": "model", "owned_by": "affectgpt",
                         "checkpoint": Path(cfg.model).name})
        return {"object": "list", "data": data}

    @app.post("/v1/describe", dependencies=[Depends(auth)], responses=DESCRIBE_RESPONSE)
    async def describe(file: UploadFile | None = File(None), path: str | None = Form(None),
                       sample: bool = Form(False), subtitle: str | None = Form(None),
                       language: str | None = Form(None), timeline: bool = Form(True)) -> JSONResponse:
        """Describe one clip: an upload in ``file``, a server-side ``path`` under the allowed root, or
        ``sample=true``. Answers the describe JSON (docs/describe.md)."""
        folder = Path(tempfile.mkdtemp(dir=tmp_root))
        try:
            if file is not None:
                src = await save_upload(file, folder)
                shown = Path(file.filename or "upload").name
            elif sample:
                from affectgpt.describe.sample import sample_clip

                src, sub, _ = sample_clip(tmp_root, cfg.data_dir)  # this server's private folder
                subtitle, shown = subtitle or sub, Path(src).name
            elif path:
                src, shown = under_root(path), path
            else:
                raise HTTPException(422, "send a file (multipart field 'file'), a 'path' or sample=true")
            if language:
                try:
                    from affectgpt.describe.pipeline import DescribeConfig

                    language = DescribeConfig(language=language, asr_model="base").language
                except ValueError as exc:
                    raise HTTPException(422, str(exc).replace("--language ", "language ")) from None
            if isinstance(subtitle, str) and not sample:
                # over HTTP a subtitle is text, never a path on the server
                if len(subtitle) > cfg.max_subtitle_chars:
                    raise HTTPException(413, f"subtitle of {len(subtitle)} characters, over the "
                                             f"{cfg.max_subtitle_chars} limit")
                from affectgpt.media.subtitles import Segment, Transcript, cue_text

                text = cue_text(subtitle, lines=True)
                subtitle = Transcript([Segment(text)] if text else [], "string") if subtitle.strip() else None
            result = await limited(run_describe, src, shown, subtitle, language, timeline)
            return JSONResponse(result)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    @app.post("/v1/bench/score", dependencies=[Depends(auth)], responses=SCORE_RESPONSE)
    async def bench_score(predictions: UploadFile = File(...), dataset: str = Form(...),
                          extractor: str = Form("lexicon"), select: str = Form("single")) -> JSONResponse:
        """Score a predictions file (CSV or JSONL; never pickle) on a dataset's public ground truth."""
        from affectgpt.bench import ScoreSettings, score
        from affectgpt.bench.datasets import DATASETS

        if dataset not in DATASETS:
            raise HTTPException(422, f"unknown dataset {dataset!r}; one of {', '.join(DATASETS)}")
        if extractor not in ("given", "lexicon"):
            raise HTTPException(422, "extractor must be given or lexicon over HTTP")
        if select not in ("single", "best", "last", "all"):
            raise HTTPException(422, "select must be single, best, last or all")
        name = Path(predictions.filename or "predictions.csv").name
        suffix = Path(name).suffix.lower()
        if suffix not in (".csv", ".jsonl"):
            raise HTTPException(415, f"{name}: send .csv or .jsonl predictions (no pickled files over HTTP)")
        folder = Path(tempfile.mkdtemp(dir=tmp_root))
        try:
            dest = folder / f"predictions{suffix}"
            data = await predictions.read(int(cfg.max_upload_mb * 1024 * 1024) + 1)
            if len(data) > cfg.max_upload_mb * 1024 * 1024:
                raise HTTPException(413, f"{name}: over the {cfg.max_upload_mb:g} MB limit")
            dest.write_bytes(data)

            def run():
                try:
                    return score(ScoreSettings(dataset=dataset, labels=None, predictions=str(dest), select=select,
                                               extractor=extractor, data_dir=cfg.data_dir, bootstrap=0,
                                               trust_pickle=False))
                except (AffectGPTError, ValueError) as exc:
                    raise HTTPException(422, str(exc).replace(str(dest), name)) from None

            report = await limited(run)
            return JSONResponse(_scrub_paths(report, {str(dest): name, str(folder): "", str(tmp_root): "",
                                                      **({str(Path(cfg.data_dir).resolve()): "<data-dir>",
                                                          str(cfg.data_dir): "<data-dir>"} if cfg.data_dir else {})}))
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def chat_models() -> dict[str, str]:
        """Chat model id -> what answers it (``run``: the AffectGPT run; ``llm``: the loaded LM)."""
        ids = {"affectgpt-run": "run"} if cfg.model else {}
        if cfg.llm_path:
            ids[Path(cfg.llm_path).name] = "llm"
        return ids

    @app.post("/v1/chat/completions", dependencies=[Depends(auth)], response_model=ChatCompletion,
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": CHAT_REQUEST}}}},
              responses={200: {"content": {"text/event-stream": {}},
                               "description": "a chat.completion, or with stream=true its server-sent events"}})
    async def chat(request: Request):
        """OpenAI-compatible chat completions: with the loaded AffectGPT run (``--model``; request
        model ``affectgpt-run``), text plus an optional ``{"type": "video_url", "video_url": {"url":
        <path under the allowed root>}}`` part; or with the loaded LLM (``--llm``; model = its folder
        name). A missing ``model`` means the only (or the run's) model; an unknown one gets 404.
        Greedy decoding (``temperature``/``top_p`` are ignored), one choice (``n`` = 1),
        ``max_tokens`` at most 1024. ``stream: true`` answers server-sent ``chat.completion.chunk``
        events (``stream_options.include_usage`` adds the usage chunk) once the answer is generated:
        the whole answer in one content chunk, not token by token. ``usage`` counts tokens with the
        LLM's tokenizer; the AffectGPT run's answers carry none (its prompt includes media tokens)."""
        served = chat_models()
        if not served:
            raise HTTPException(404, "no chat model loaded (start with --llm MODEL_FOLDER or --model RUN)")
        try:
            body = await request.json()
            messages = body["messages"]
            texts, videos = [], []
            for m in messages:
                content = m.get("content") if isinstance(m, dict) else None
                if isinstance(content, str):
                    texts.append(content)
                    continue
                for part in content or []:
                    if not isinstance(part, dict):
                        continue
                    if part.get("type") == "text":
                        texts.append(str(part.get("text", "")))
                    elif part.get("type") == "video_url":
                        videos.append(str((part.get("video_url") or {}).get("url", "")))
            prompt = "\n".join(texts)
            raw = body.get("max_completion_tokens", body.get("max_tokens"))
            raw = 256 if raw is None else raw
            if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not 1 <= raw <= 1024 or raw != int(raw):
                raise HTTPException(422, f"max_tokens must be a whole number from 1 to 1024 (got {raw!r})")
            max_tokens = int(raw)
            wanted = body.get("model")
            stream = body.get("stream") or False  # null is false (OpenAI's schema allows it)
            n = body.get("n", 1)
            options = body.get("stream_options") or {}
            include_usage = options.get("include_usage") or False
        except (ValueError, KeyError, TypeError, AttributeError, OverflowError):
            raise HTTPException(422, "expected {'model': ..., 'messages': [{'role': ..., 'content': ...}]}") from None
        if not isinstance(stream, bool) or not isinstance(include_usage, bool):
            raise HTTPException(422, "stream and stream_options.include_usage must be true or false")
        if n is not None and (isinstance(n, bool) or n != 1):
            raise HTTPException(422, f"n must be 1: one greedy answer per request (got {n!r})")
        if wanted is not None and not isinstance(wanted, str):
            raise HTTPException(422, f"model must be a string (got {wanted!r})")
        if wanted and cfg.llm_path and wanted in (cfg.llm_path, str(Path(cfg.llm_path))):
            wanted = Path(cfg.llm_path).name  # the folder given to --llm names its model too
        if wanted:
            if wanted not in served:
                raise HTTPException(404, f"model {wanted!r} is not served here; chat models: {', '.join(served)}"
                                         + (" (affectgpt-describe answers POST /v1/describe)"
                                            if wanted == "affectgpt-describe" else ""))
            name = wanted
        else:
            name = "affectgpt-run" if "affectgpt-run" in served else next(iter(served))
        use_run = served[name] == "run"
        if len(videos) > 1:
            raise HTTPException(422, "at most one video_url per request")
        if videos and not use_run:
            raise HTTPException(422, "video_url needs the AffectGPT run (start with --model RUN; model affectgpt-run)")
        if not prompt.strip() and not videos:
            raise HTTPException(422, "the messages hold no text")
        video = under_root(videos[0]) if videos else None

        def run_llm() -> dict:
            with lock:
                llm = chat_llm()
                llm.max_tokens = max_tokens
                return llm.generate(prompt)

        def run_affectgpt() -> dict:
            with lock:
                answerer = run_answerer()
                answerer.max_new_tokens = max_tokens
                if video is None:
                    return {"text": answerer.answer_text(prompt)["answer"]}
                from affectgpt.media.clip import Clip

                try:
                    out = answerer.answer(Clip.open(video), prompt)
                except (AffectGPTError, ValueError) as exc:
                    raise HTTPException(422, str(exc)) from None
                if out["error"]:
                    raise HTTPException(422, out["error"])
                return {"text": out["answer"]}

        gen = await limited(run_affectgpt if use_run else run_llm)
        created = int(time.time())
        cid = f"chatcmpl-{uuid.uuid4().hex}"
        usage = None
        if "prompt_tokens" in gen:
            usage = {"prompt_tokens": gen["prompt_tokens"], "completion_tokens": gen["completion_tokens"],
                     "total_tokens": gen["prompt_tokens"] + gen["completion_tokens"]}
        finish = gen.get("finish_reason", "stop")
        if not stream:
            return JSONResponse({"id": cid, "object": "chat.completion", "created": created, "model": name,
                                 "choices": [{"index": 0, "message": {"role": "assistant", "content": gen["text"]},
                                              "finish_reason": finish}],
                                 **({"usage": usage} if usage else {})})

        def events():
            import json

            head = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": name}
            deltas = [({"role": "assistant", "content": ""}, None), ({"content": gen["text"]}, None), ({}, finish)]
            for delta, reason in deltas:
                chunk = {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": reason}]}
                if include_usage:
                    chunk["usage"] = None
                yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"
            if include_usage:
                yield f"data: {json.dumps({**head, 'choices': [], 'usage': usage})}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    def chat_llm():
        """The ``--llm`` model, loaded once (call with ``lock`` held)."""
        if state["llm"] is None:
            from affectgpt.bench.extractors.llm import TransformersBackend

            state["llm"] = TransformersBackend(cfg.llm_path, max_tokens=256)
        return state["llm"]

    def run_answerer():
        """The AffectGPT run's answerer, loaded once (call with ``lock`` held)."""
        if state.get("answerer") is None:
            from affectgpt.recipes.run import ClipAnswerer

            state["answerer"] = ClipAnswerer(cfg.model)
        return state["answerer"]

    page = Path(__file__).with_name("static") / "index.html"

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index():
        return FileResponse(page) if page.is_file() else HTMLResponse("<h1>affectgpt</h1>")

    return app
