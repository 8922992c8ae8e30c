"""Clues from a local transformers image-text-to-text model (a tiny random Llava the test builds:
CLIP vision tower + the tiny Llama), through `caption run` with `clues.backend: transformers`."""

from __future__ import annotations

import pytest

pytest.importorskip("mediapipe")
transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

CHAT_TEMPLATE = ("{% for m in messages %}{% for c in m['content'] %}{% if c['type'] == 'image' %}<image>"
                 "{% else %}{{ c['text'] }}{% endif %}{% endfor %}{% endfor %}"
                 "{% if add_generation_prompt %} ASSISTANT:{% endif %}")


@pytest.fixture(scope="module")
def tiny_llava(tmp_path_factory, tiny_llm_dir):
    from transformers import (AutoTokenizer, CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration,
                              LlavaProcessor)

    try:
        from transformers.models.clip import CLIPImageProcessorPil as ImageProcessor
    except ImportError:  # older transformers
        from transformers import CLIPImageProcessor as ImageProcessor

    out = tmp_path_factory.mktemp("tiny-llava")
    tok = AutoTokenizer.from_pretrained(tiny_llm_dir)
    tok.add_special_tokens({"additional_special_tokens": ["<image>"]})
    proc = LlavaProcessor(image_processor=ImageProcessor(size={"shortest_edge": 28}, crop_size={"height": 28, "width": 28}),
                          tokenizer=tok, patch_size=14, vision_feature_select_strategy="default",
                          chat_template=CHAT_TEMPLATE, num_additional_image_tokens=1)
    torch.manual_seed(0)
    cfg = LlavaConfig(vision_config=CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                                     num_attention_heads=2, image_size=28, patch_size=14,
                                                     projection_dim=32),
                      text_config=LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                                              num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                              max_position_embeddings=512, bos_token_id=tok.bos_token_id,
                                              eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id),
                      image_token_index=tok.convert_tokens_to_ids("<image>"), vision_feature_select_strategy="default")
    LlavaForConditionalGeneration(cfg).save_pretrained(out)
    proc.save_pretrained(out)
    return out


def test_caption_run_with_a_local_video_clue_model(tiny_llava, tmp_path, data_dir):
    from affectgpt.caption import caption_run, load_caption_config

    clip = sorted((data_dir / "crema_d" / "video_mp4").glob("*.mp4"))[0]
    m = tmp_path / "m.csv"
    m.write_text(f"name,path,english\nc0,{clip},Don't forget a jacket\n", encoding="utf-8")
    cfg = load_caption_config("offline", ["clues.asr=false", "clues.backend=transformers", f"clues.video_model={tiny_llava}",
                                          "clues.frames=3", "clues.max_tokens=6", "filters.length.enabled=false"])
    res = caption_run(cfg, [str(m)], tmp_path / "out", progress=False, data_dir=str(data_dir), plots=False)
    assert not res.failures, res.failures
    rec = res.records[0]
    assert rec["clue_sources"] == {"visual": f"local:{tiny_llava}"}
    assert not rec["clues"]["visual"].startswith("In the video")  # the model's words replaced the offline sentence
    again = caption_run(cfg, [str(m)], tmp_path / "out", progress=False, data_dir=str(data_dir), plots=False,
                        resume=True)
    assert again.records == res.records  # greedy decoding: deterministic, and cached


@pytest.fixture(scope="module")
def tiny_audio_lm(tmp_path_factory, tiny_llm_dir):
    """A tiny random Qwen2-Audio (Whisper-style encoder + the tiny Llama's tokenizer on Qwen2)."""
    from transformers import (AutoTokenizer, Qwen2AudioConfig, Qwen2AudioEncoderConfig, Qwen2AudioForConditionalGeneration,
                              Qwen2AudioProcessor, Qwen2Config, WhisperFeatureExtractor)

    out = tmp_path_factory.mktemp("tiny-audio-lm")
    tok = AutoTokenizer.from_pretrained(tiny_llm_dir)
    tok.add_special_tokens({"additional_special_tokens": ["<|AUDIO|>", "<|audio_bos|>", "<|audio_eos|>"]})
    template = ("{% for m in messages %}{% for c in m['content'] %}{% if c['type'] == 'audio' %}"
                "<|audio_bos|><|AUDIO|><|audio_eos|>{% else %}{{ c['text'] }}{% endif %}{% endfor %}{% endfor %}"
                "{% if add_generation_prompt %} ASSISTANT:{% endif %}")
    proc = Qwen2AudioProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=128), tokenizer=tok,
                               chat_template=template)
    torch.manual_seed(0)
    cfg = Qwen2AudioConfig(
        audio_config=Qwen2AudioEncoderConfig(d_model=32, encoder_layers=1, encoder_attention_heads=2, encoder_ffn_dim=64,
                                             num_mel_bins=128, max_source_positions=1500),
        text_config=Qwen2Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                                bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                                pad_token_id=tok.pad_token_id),
        audio_token_index=tok.convert_tokens_to_ids("<|AUDIO|>"))
    Qwen2AudioForConditionalGeneration(cfg).save_pretrained(out)
    proc.save_pretrained(out)
    return out


def test_caption_run_with_local_audio_and_video_clue_models(tiny_llava, tiny_audio_lm, tmp_path, data_dir):
    from affectgpt.caption import caption_run, load_caption_config

    clip = sorted((data_dir / "crema_d" / "video_mp4").glob("*.mp4"))[1]
    m = tmp_path / "m.csv"
    m.write_text(f"name,path,english\nc1,{clip},Don't forget a jacket\n", encoding="utf-8")
    cfg = load_caption_config("offline", ["clues.asr=false", "clues.backend=transformers", f"clues.video_model={tiny_llava}",
                                          f"clues.audio_model={tiny_audio_lm}", "clues.frames=2", "clues.max_tokens=6",
                                          "filters.length.enabled=false"])
    res = caption_run(cfg, [str(m)], tmp_path / "out", progress=False, data_dir=str(data_dir), plots=False)
    assert not res.failures, res.failures
    assert res.records[0]["clue_sources"] == {"visual": f"local:{tiny_llava}", "acoustic": f"local:{tiny_audio_lm}"}
