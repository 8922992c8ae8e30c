"""``llm``: the paper's LLM extraction step, deterministic and cached.

Free text -> ``[label, ...]`` with the paper's extraction prompt, and labels -> sentiment
with its sentiment prompt (PAPER §3.2, §3.6). Two back ends:

* any OpenAI-compatible chat endpoint (vLLM, llama.cpp server, Ollama, hosted APIs),
  called with the standard library (no client package needed);
* a local transformers causal LM given by path (extra ``[local-llm]``).

Decoding is greedy (temperature 0) by default. Every answer is stored in an SQLite cache
keyed by (back end, model, decoding settings, prompt), so reruns are free and identical.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from affectgpt.bench.extractors.base import LabelExtractor, register_extractor
from affectgpt.bench.labels import parse_label_list
from affectgpt.errors import AffectGPTError

__all__ = ["EXTRACT_PROMPT", "SENTIMENT_PROMPT", "PromptCache", "OpenAIChatBackend",
           "TransformersBackend", "LLMExtractor", "postprocess_answer"]

#: Extraction prompt of the paper (PAPER §3.2); ``{text}`` is the model output.
EXTRACT_PROMPT = (
    "Please assume the role of an expert in the field of emotions. We provide clues that may be related "
    "to the emotions of the characters. Based on the provided clues, please identify the emotional states "
    "of the main character. The main character is the one with the most detailed clues. Please separate "
    "different emotional categories with commas and output only the clearly identifiable emotional "
    "categories in a list format. If none are identified, please output an empty list. "
    "Input: We cannot recognize his emotional state; Output: [] "
    "Input: His emotional state is happy, sad, and angry; Output: [happy, sad, angry] "
    "Input: {text}; Output:"
)
#: Sentiment prompt of the paper (PAPER §3.6); ``{labels}`` is the bracketed label list.
SENTIMENT_PROMPT = (
    "Please act as an expert in the field of emotions. We provide a few words to describe the emotions "
    "of a character. Please choose the most likely sentiment from the given candidates: "
    "[positive, negative, neutral] Please direct output answer without analyzing process. "
    "Input: [joyful]; Output: positive Input: []; Output: neutral Input: {labels}; Output:"
)

_MARKERS = ("输入", "输出", "翻译", "让我们来翻译一下：", "output", "Output", "input", "Input")


def postprocess_answer(answer: str) -> str:
    """Upstream clean-up of an LLM answer: strip one leading marker and colon, drop newlines."""
    text = answer.strip()
    for m in _MARKERS:
        if text.startswith(m):
            text = text[len(m):]
            break
    text = text.strip()
    if text[:1] in (":", "："):
        text = text[1:]
    return text.replace("\n", "").strip()


class PromptCache:
    """A persistent answer cache (SQLite) keyed by a hash of model, settings and prompt."""

    def __init__(self, path: str | os.PathLike | None):
        self.path = None if path is None else Path(path)
        self._db = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path)
            self._db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, answer TEXT NOT NULL)")
        self._mem: dict[str, str] = {}

    @staticmethod
    def key(identity: dict, prompt: str) -> str:
        blob = json.dumps({"id": identity, "prompt": prompt}, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def get(self, key: str) -> str | None:
        if key in self._mem:
            return self._mem[key]
        if self._db is not None:
            row = self._db.execute("SELECT answer FROM answers WHERE key = ?", (key,)).fetchone()
            if row:
                self._mem[key] = row[0]
                return row[0]
        return None

    def put(self, key: str, answer: str) -> None:
        self._mem[key] = answer
        if self._db is not None:
            self._db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?)", (key, answer))
            self._db.commit()


class OpenAIChatBackend:
    """POST ``{base_url}/chat/completions`` with one user message (OpenAI-compatible servers)."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, temperature: float = 0.0,
                 max_tokens: int = 512, seed: int = 0, timeout_s: float = 120.0, retries: int = 3):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY") or "none"
        self.temperature, self.max_tokens, self.seed = temperature, max_tokens, seed
        self.timeout_s, self.retries = timeout_s, retries

    def identity(self) -> dict:
        return {"backend": "openai", "model": self.model, "temperature": self.temperature,
                "max_tokens": self.max_tokens, "seed": self.seed}

    def complete(self, prompt: str | list[dict]) -> str:
        """The reply to one user message: text, or a list of OpenAI content parts (``text``,
        ``image_url`` with a data URL, ``input_audio``). 429, 5xx, timeouts and malformed replies
        are retried with backoff; then :class:`AffectGPTError`."""
        body = json.dumps({
            "model": self.model, "messages": [{"role": "user", "content": prompt}],
            "temperature": self.temperature, "max_tokens": self.max_tokens, "seed": self.seed,
        }).encode("utf-8")
        req = urllib.request.Request(
            f"{self.base_url}/chat/completions", data=body, method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.api_key}"},
        )
        last: Exception | None = None
        for attempt in range(self.retries):
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    data = json.loads(resp.read().decode("utf-8"))
                return str(data["choices"][0]["message"]["content"] or "")
            except urllib.error.HTTPError as exc:
                last = exc
                if exc.code < 500 and exc.code != 429:
                    break
            except (urllib.error.URLError, TimeoutError, KeyError, IndexError, ValueError) as exc:
                last = exc
            time.sleep(min(2 ** attempt, 8) * 0.1)
        raise AffectGPTError(f"LLM endpoint {self.base_url} failed for model {self.model!r}: {last}")


class TransformersBackend:
    """A local causal LM (any transformers checkpoint folder), greedy decoding on CPU or GPU."""

    def __init__(self, model_path: str, max_tokens: int = 512, device: str | None = None):
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:  # pragma: no cover - depends on extras
            raise AffectGPTError("the local LLM back end needs: pip install 'affectgpt[local-llm]'") from exc
        self.model_path, self.max_tokens = str(model_path), max_tokens
        self._torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_path)
        self.model = AutoModelForCausalLM.from_pretrained(self.model_path)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device).eval()
        with open(Path(self.model_path) / "config.json", "rb") as fh:
            self._fingerprint = hashlib.sha256(fh.read()).hexdigest()[:16]

    def identity(self) -> dict:
        return {"backend": "transformers", "model": Path(self.model_path).name, "config": self._fingerprint,
                "temperature": 0.0, "max_tokens": self.max_tokens}

    def complete(self, prompt: str) -> str:
        """The greedy answer to ``prompt`` (chat template applied when the tokenizer has one)."""
        return self.generate(prompt)["text"]

    def generate(self, prompt: str) -> dict:
        """Greedy answer with its token counts.

        Returns:
            ``{"text", "prompt_tokens", "completion_tokens", "finish_reason"}``; ``finish_reason`` is
            ``"length"`` when the answer was cut at ``max_tokens`` without an end-of-sequence token,
            else ``"stop"`` (the OpenAI chat-completions meanings).
        """
        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            ids = tok.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                          return_tensors="pt")
            if not hasattr(ids, "shape"):
                ids = ids["input_ids"]
        else:
            ids = tok(prompt, return_tensors="pt")["input_ids"]
        ids = ids.to(self.device)
        with self._torch.no_grad():
            out = self.model.generate(ids, attention_mask=self._torch.ones_like(ids), do_sample=False,
                                      max_new_tokens=self.max_tokens,
                                      pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id)
        new = out[0, ids.shape[1]:].tolist()
        eos = self.model.generation_config.eos_token_id
        eos = set(eos if isinstance(eos, (list, tuple)) else [] if eos is None else [eos])
        ended = bool(eos) and any(t in eos for t in new)
        if ended:  # generate pads after the end-of-sequence token: those are not answer tokens
            new = new[:next(i for i, t in enumerate(new) if t in eos) + 1]
        return {"text": tok.decode(new, skip_special_tokens=True), "prompt_tokens": int(ids.shape[1]),
                "completion_tokens": len(new),
                "finish_reason": "length" if not ended and len(new) >= self.max_tokens else "stop"}


@register_extractor("llm")
class LLMExtractor(LabelExtractor):
    """Extract labels (and sentiments) with an LLM; answers are cached on disk.

    Args:
        model: served model name (with ``base_url``) or a local model folder.
        base_url: OpenAI-compatible endpoint, e.g. ``http://127.0.0.1:8000/v1``.
        cache: SQLite cache file (default ``~/.cache/affectgpt/llm-cache.sqlite``; ``None`` disables).
        backend: an object with ``complete(prompt)`` and ``identity()`` (overrides the above).
        progress: show a progress bar over uncached prompts.
    """

    def __init__(self, model: str | None = None, base_url: str | None = None, api_key: str | None = None,
                 temperature: float = 0.0, cache: str | os.PathLike | None | bool = True,
                 backend=None, progress: bool = True, max_tokens: int = 512, **_: object):
        if backend is None:
            if not model:
                raise ValueError("the llm extractor needs --llm-model (a served model name or a local folder)")
            if base_url:
                backend = OpenAIChatBackend(base_url, model, api_key=api_key, temperature=temperature,
                                            max_tokens=max_tokens)
            elif Path(model).is_dir():
                backend = TransformersBackend(model, max_tokens=max_tokens)
            else:
                raise ValueError(f"{model}: not a local model folder; pass --llm-url for a served model")
        self.backend = backend
        if cache is True:
            cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "affectgpt" / "llm-cache.sqlite"
        self.cache = PromptCache(cache or None)
        self.progress = progress
        self.calls = 0

    def _ask(self, prompts: Sequence[str], what: str) -> list[str]:
        ident = self.backend.identity()
        keys = [PromptCache.key(ident, p) for p in prompts]
        answers = [self.cache.get(k) for k in keys]
        todo = [i for i, a in enumerate(answers) if a is None]
        if todo:
            from tqdm.auto import tqdm

            for i in tqdm(todo, desc=f"llm {what}", disable=not self.progress or len(todo) < 2, unit="q"):
                ans = postprocess_answer(self.backend.complete(prompts[i]))
                self.calls += 1
                self.cache.put(keys[i], ans)
                answers[i] = ans
        return [a or "" for a in answers]

    def extract(self, texts: Sequence[str]) -> list[list[str]]:
        answers = self._ask([EXTRACT_PROMPT.format(text=t) for t in texts], "labels")
        return [parse_label_list(a) for a in answers]

    def to_sentiment(self, label_lists):
        prompts = [SENTIMENT_PROMPT.format(labels="[" + ", ".join(x) + "]") for x in label_lists]
        return [a.strip().lower() for a in self._ask(prompts, "sentiment")]

    def signature(self) -> dict:
        return {"name": self.name, **self.backend.identity()}
