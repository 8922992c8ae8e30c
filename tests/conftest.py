"""Shared fixtures: the real data directory (skipped when absent) and a tiny synthetic one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _real_data_dir() -> Path | None:
    for cand in (os.environ.get("AFFECTGPT_DATA_DIR"), REPO.parent / "shared" / "data"):
        if cand and (Path(cand) / "emotion_wheel" / "2025" / "wheel1.csv").is_file():
            return Path(cand)
    return None


@pytest.fixture(scope="session", autouse=True)
def _empty_asset_cache(tmp_path_factory):
    """Tests never see the user's asset cache (``affectgpt data fetch``): each session gets an
    empty one; tests that fetch point ``AFFECTGPT_ASSET_DIR`` at their own folder."""
    old = os.environ.get("AFFECTGPT_ASSET_DIR")
    os.environ["AFFECTGPT_ASSET_DIR"] = str(tmp_path_factory.mktemp("asset-cache"))
    yield
    if old is None:
        os.environ.pop("AFFECTGPT_ASSET_DIR", None)
    else:
        os.environ["AFFECTGPT_ASSET_DIR"] = old


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared third-party data (../shared/data or $AFFECTGPT_DATA_DIR); skips when absent."""
    d = _real_data_dir()
    if d is None:
        pytest.skip("third-party data not found: set AFFECTGPT_DATA_DIR or place it at ../shared/data")
    return d


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture()
def tiny_data(tmp_path: Path) -> Path:
    """A synthetic data directory with the real tables' layout and a handful of words.

    Wheel k (k = 1..5) has sectors "glad" (glad > cheerful > sunny) and "down"
    (down > gloomy > blue); wheel 2 also lists "blue" under "glad" in a later row.
    """
    root = tmp_path / "data"
    for k in range(1, 6):
        rows = "level1,level2,level3\nGlad,Cheerful,Sunny\n,,Merry\nDown,Gloomy,Blue\n,,Sorrowful\n"
        if k == 2:
            rows += "Glad,Cheerful,Blue\n"
        _write(root / "emotion_wheel" / "2025" / f"wheel{k}.csv", rows)
    syn = (
        "word_run1,synonym_run1,word_run2,synonym_run2\n"
        "sunny,\"bright, happy\",Sunny,\"happy\"\n"
        "merry,\"jolly, happy\",merry,\"jolly\"\n"
        "blue,\"sad, unhappy\",blue,\"sad\"\n"
        "sorrowful,\"sad\",sorrowful,\"grieving\"\n"
        "glad,\"happy\",glad,\"happy, pleased\"\n"
        "cheerful,\"\",cheerful,\"\"\n"
        "down,\"\",down,\"\"\n"
        "gloomy,\"\",gloomy,\"\"\n"
    )
    _write(root / "emotion_wheel" / "2025" / "synonym.csv", syn)
    forms = (
        "name,format\n"
        "happy,\"happy,happiness,happily\"\n"
        "sad,\"sad,sadness,sadly\"\n"
        "jolly,\"jolly,jollity\"\n"
        "sunny,\"sunny\"\n"
        "merry,\"merry\"\n"
        "blue,\"blue\"\n"
        "sorrowful,\"sorrowful,sorrow\"\n"
        "glad,\"glad,gladness\"\n"
        "cheerful,\"cheerful\"\n"
        "down,\"down\"\n"
        "gloomy,\"gloomy\"\n"
        "grieving,\"grieving,grief\"\n"
        "pleased,\"pleased\"\n"
        "bright,\"bright\"\n"
        "unhappy,\"unhappy,unhappiness\"\n"
        "joyless,\"joyless,happy\"\n"
    )
    _write(root / "emotion_wheel" / "2025" / "format.csv", forms)
    _write(root / "emotion_wheel" / "2026" / "format.csv", forms.replace('joyless,"joyless,happy"', 'joyless,"joyless"'))
    return root


class MediaFactory:
    """Writes small real media files with PyAV for tests (faces from scikit-image's astronaut)."""

    def __init__(self, root: Path):
        self.root = root

    def video(self, name: str, seconds: float = 2.0, fps: int = 10, size=(160, 120), audio: str | None = "voice",
              face: bool = True, rotation: int = 0, vfr: bool = False, n_frames: int | None = None,
              two_faces: bool = False) -> Path:
        import av
        import numpy as np

        path = self.root / name
        w, h = size
        img = self._frame(w, h, face, two_faces)
        with av.open(str(path), "w") as c:
            vs = c.add_stream("libx264", rate=fps)
            vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
            vs.codec_context.time_base = __import__("fractions").Fraction(1, 1000)
            if rotation:
                vs.set_display_rotation(rotation)
            ast = None
            if audio:
                ast = c.add_stream("aac", rate=16000)
                ast.layout = "mono"
            n = n_frames if n_frames is not None else int(seconds * fps)
            t_ms = 0
            for i in range(n):
                frame = av.VideoFrame.from_ndarray(np.roll(img, i, axis=1) if not face else img, format="rgb24")
                frame.pts = t_ms
                frame.time_base = vs.codec_context.time_base
                t_ms += int(1000 / fps) * (3 if vfr and i % 2 else 1)
                for p in vs.encode(frame):
                    c.mux(p)
            for p in vs.encode():
                c.mux(p)
            if ast is not None:
                sr = 16000
                total = int(seconds * sr)
                t = np.arange(total) / sr
                if audio == "tone":
                    sig = 0.3 * np.sin(2 * np.pi * 220 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
                elif audio == "voice":  # synthetic vowels that voice activity detection takes for speech
                    from affectgpt.describe.sample import _voice

                    sig = _voice(seconds, sr)
                else:
                    sig = np.zeros(total)
                sig = sig.astype(np.float32)
                for k in range(0, total, 1024):
                    chunk = sig[k:k + 1024]
                    chunk = np.pad(chunk, (0, 1024 - len(chunk)))
                    fr = av.AudioFrame.from_ndarray(chunk[None, :], format="flt", layout="mono")
                    fr.sample_rate, fr.pts = sr, k
                    for p in ast.encode(fr):
                        c.mux(p)
                for p in ast.encode():
                    c.mux(p)
        return path

    def audio(self, name: str, seconds: float = 2.0, kind: str = "voice") -> Path:
        import av
        import numpy as np

        path = self.root / name
        sr = 16000
        t = np.arange(int(seconds * sr)) / sr
        if kind == "voice":
            from affectgpt.describe.sample import _voice

            sig = _voice(seconds, sr)
        else:
            sig = (0.3 * np.sin(2 * np.pi * 200 * t) if kind == "tone" else np.zeros_like(t)).astype(np.float32)
        with av.open(str(path), "w") as c:
            st = c.add_stream("pcm_s16le" if path.suffix == ".wav" else "flac", rate=sr)
            st.layout = "mono"
            fr = av.AudioFrame.from_ndarray((sig * 32767).astype(np.int16)[None, :], format="s16", layout="mono")
            fr.sample_rate, fr.pts = sr, 0
            for p in st.encode(fr):
                c.mux(p)
            for p in st.encode():
                c.mux(p)
        return path

    @staticmethod
    def _frame(w, h, face, two_faces):
        import numpy as np

        if not face:
            rng = np.random.default_rng(0)
            return (rng.random((h, w, 3)) * 80 + 60).astype(np.uint8)
        import cv2
        from skimage import data

        ast = data.astronaut()[20:300, 120:400]
        canvas = np.full((h, w, 3), 30, np.uint8)
        if two_faces:
            big = cv2.resize(ast, (h * 3 // 4, h * 3 // 4))
            small = cv2.resize(ast, (h // 2, h // 2))
            canvas[h // 8:h // 8 + big.shape[0], :big.shape[1]] = big
            canvas[h // 3:h // 3 + small.shape[0], w - small.shape[1]:] = small
        else:
            side = min(w, h)
            face_img = cv2.resize(ast, (side, side))
            x0 = (w - side) // 2
            canvas[:side, x0:x0 + side] = face_img
        return canvas


@pytest.fixture()
def media(tmp_path) -> MediaFactory:
    """A factory of small real media files in ``tmp_path``."""
    return MediaFactory(tmp_path)


# A tiny random causal LM and tokenizer, built and saved locally (no downloads): used by the model tests
# and by the caption tests' OpenAI-compatible server.

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
