"""A tiny random causal LM and tokenizer, built and saved locally (no downloads)."""

from __future__ import annotations

import pytest

CORPUS = [
    "###Human: The audio and video merged info is: <Multi></Multi>. The audio content is as follows: "
    "<Audio></Audio>. Meanwhile, we uniformly sample raw frames from the video and extract faces from these "
    "frames: <Video></Video>. The subtitle of this video is: <Subtitle></Subtitle>. Now, please answer my "
    "question based on all the provided information. ###Assistant: ",
    "The character's emotional state is happy, sad, angry, worried, surprised, neutral.",
    "Please recognize all possible emotional states of the character. I can't believe we won!",
]


@pytest.fixture(scope="session")
def tiny_llm_dir(tmp_path_factory):
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    path = tmp_path_factory.mktemp("tiny-llm")
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<unk>", "<pad>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS * 5, trainer)
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>",
                                                bos_token="<s>", eos_token="</s>")
    fast.save_pretrained(path)
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(vocab_size=fast.vocab_size, hidden_size=32, intermediate_size=64,
                                   num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                   max_position_embeddings=512, bos_token_id=fast.bos_token_id,
                                   eos_token_id=fast.eos_token_id, pad_token_id=fast.pad_token_id)
    transformers.LlamaForCausalLM(cfg).save_pretrained(path)
    return path
