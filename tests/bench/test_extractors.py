"""Label extractors: lexicon rules, and the LLM extractor against a local OpenAI-compatible stub."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from affectgpt.bench.extractors import LexiconExtractor, LLMExtractor, get_extractor
from affectgpt.bench.extractors.llm import EXTRACT_PROMPT, postprocess_answer

FORMS = ["happy", "sad", "angry", "anxious", "tense", "relieved", "burnt out", "let down", "emotional", "calm"]


@pytest.fixture()
def lex():
    return LexiconExtractor(forms=FORMS)


def test_lexicon_order_multiword_and_framing_words(lex):
    text = "The character's emotional state is sad, then happy; he was burnt out and let down. Sad again."
    assert lex.extract_one(text) == ["sad", "happy", "burnt out", "let down"]


@pytest.mark.parametrize("text,expected", [
    ("He is not happy but angry.", ["angry"]),
    ("She is no longer angry, and feels relieved.", ["relieved"]),
    ("He isn't sad at all; he is calm.", ["calm"]),
    ("There is no sign of anxious behaviour, he is tense.", ["tense"]),
    ("without being angry or sad at all", []),
])
def test_lexicon_negation_scope(lex, text, expected):
    assert lex.extract_one(text) == expected


def test_lexicon_hedges_kept_or_dropped():
    text = "He may be anxious. He is sad."
    assert LexiconExtractor(forms=FORMS).extract_one(text) == ["anxious", "sad"]
    assert LexiconExtractor(forms=FORMS, hedges="drop").extract_one(text) == ["sad"]


def test_lexicon_on_real_vocabulary(data_dir):
    e = get_extractor("lexicon", data_dir=str(data_dir))
    labels = e.extract_one("In the audio, his tone is tense. Overall, he feels frustrated and disappointed, not happy.")
    assert labels == ["tense", "frustrated", "disappointed"]
    assert e.to_sentiment([labels, ["joyful"], []]) == ["negative", "positive", "neutral"]


def test_postprocess_matches_upstream_cleanup():
    assert postprocess_answer(" Output: [happy, sad]\n") == "[happy, sad]"
    assert postprocess_answer("输出：[angry]") == "[angry]"


class _Stub(BaseHTTPRequestHandler):
    calls: list = []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Stub.calls.append(body)
        prompt = body["messages"][0]["content"]
        if "sentiment" in prompt:
            answer = "positive" if "joy" in prompt.rsplit("Input:", 1)[1] else "negative"
        else:
            answer = "Output: [joyful, relieved]" if "glad" in prompt.rsplit("Input:", 1)[1] else "[]"
        data = json.dumps({"choices": [{"message": {"content": answer}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture()
def stub_url():
    _Stub.calls = []
    server = HTTPServer(("127.0.0.1", 0), _Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()


def test_llm_extractor_uses_paper_prompt_greedy_and_caches(tmp_path, stub_url):
    cache = tmp_path / "cache.sqlite"
    e = LLMExtractor(model="qwen", base_url=stub_url, cache=cache, progress=False)
    assert e.extract(["He is glad to see her.", "Nothing here."]) == [["joyful", "relieved"], []]
    assert len(_Stub.calls) == 2
    sent = _Stub.calls[0]
    assert sent["temperature"] == 0.0 and sent["model"] == "qwen"
    assert sent["messages"][0]["content"] == EXTRACT_PROMPT.format(text="He is glad to see her.")
    assert e.to_sentiment([["joyful"], ["sad"]]) == ["positive", "negative"]
    # a new extractor on the same cache file answers without calling the server
    again = LLMExtractor(model="qwen", base_url=stub_url, cache=cache, progress=False)
    assert again.extract(["He is glad to see her.", "Nothing here."]) == [["joyful", "relieved"], []]
    assert again.calls == 0 and len(_Stub.calls) == 4
    # another model name is another cache key
    other = LLMExtractor(model="other", base_url=stub_url, cache=cache, progress=False)
    other.extract(["He is glad to see her."])
    assert other.calls == 1


def test_llm_extractor_in_scoring_pipeline(tmp_path, stub_url, tiny_data):
    from affectgpt.bench import ScoreSettings, score

    gt = tmp_path / "gt.csv"
    gt.write_text("name,valence\na,1.5\nb,-2\n", encoding="utf-8")
    preds = tmp_path / "p.csv"
    preds.write_text("name,text\na,He is glad.\nb,He is upset.\n", encoding="utf-8")
    r = score(ScoreSettings("cmumosi", str(gt), str(preds), extractor="llm", llm_model="qwen", llm_url=stub_url,
                            llm_cache=str(tmp_path / "c.sqlite"), data_dir=str(tiny_data), bootstrap=0))
    assert r["score"] == 100.0 and r["sentiment_source"] == "llm"
    assert r["extractor"]["model"] == "qwen" and r["extractor"]["temperature"] == 0.0


def test_llm_endpoint_failure_is_clear(tmp_path):
    e = LLMExtractor(model="m", base_url="http://127.0.0.1:9/v1", cache=None, progress=False)
    e.backend.retries = 1
    with pytest.raises(Exception, match="LLM endpoint http://127.0.0.1:9/v1 failed"):
        e.extract(["x"])


def test_llm_needs_a_model():
    with pytest.raises(ValueError, match="--llm-model"):
        LLMExtractor()


def _tiny_local_llm(path):
    """A randomly initialised 1-layer Llama with a word-level tokenizer, saved like any checkpoint."""
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = ["[UNK]", "[PAD]", "<s>", "</s>", "[", "]", ",", "happy", "sad", "angry", "he", "is", "input", "output"]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                                bos_token="<s>", eos_token="</s>")
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(vocab_size=len(words), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                   num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=2048,
                                   bos_token_id=2, eos_token_id=3, pad_token_id=1)
    transformers.LlamaForCausalLM(cfg).save_pretrained(path)
    fast.save_pretrained(path)
    return path


def test_local_transformers_model_path_is_deterministic_and_cached(tmp_path):
    model_dir = _tiny_local_llm(tmp_path / "tiny-llm")
    cache = tmp_path / "c.sqlite"
    a = LLMExtractor(model=str(model_dir), cache=cache, progress=False, max_tokens=8)
    first = a.extract(["he is happy", "he is sad"])
    assert a.calls == 2 and a.signature()["backend"] == "transformers"
    b = LLMExtractor(model=str(model_dir), cache=None, progress=False, max_tokens=8)
    assert b.extract(["he is happy", "he is sad"]) == first  # greedy decoding: same answers
    c = LLMExtractor(model=str(model_dir), cache=cache, progress=False, max_tokens=8)
    assert c.extract(["he is happy", "he is sad"]) == first and c.calls == 0
