"""Sentence embeddings for practices and queries, from the bundled multilingual-e5-small.

The model folder is built once by ``python -m models.build`` (part of ``make setup``); loading never
touches the network. Vectors are L2-normalised float32 rows, so a dot product is the cosine.

    >>> emb = Embedder.load()
    >>> P = emb.encode(["在项目一线成立临时党支部"])          # passages (stored practices)
    >>> q = emb.encode(["工地上建党组织"], query=True)         # search queries
    >>> float(P[0] @ q[0])
"""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from service.config import Settings
    from service.mining.onnx_embed import OnnxEmbedder

# Must be set before sentence_transformers / transformers are first imported: no hub, ever.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

# Cap on characters handed to the tokenizer: the model reads at most 256 tokens anyway (set when the
# folder is built), and a whole document pasted as one text should not cost a full tokenisation.
MAX_INPUT_CHARS = 4096
TORCH_THREADS = 2
BUILD_HINT = "请先运行 make setup 构建模型"

# Loaded models per (folder, build record time, quantize): search, grouping and tests in one
# process then share one ~850 MB model instead of loading it again.
_LOADED: dict[tuple[str, int, bool], Embedder] = {}
_LOAD_LOCK = threading.Lock()


class ModelNotBuiltError(RuntimeError):
    """The embedding model folder is missing or unusable; ``detail`` carries the technical cause."""

    def __init__(self, model_dir: Path, detail: str) -> None:
        self.model_dir = model_dir
        self.detail = detail
        super().__init__(f"语义检索模型不可用（{model_dir}）：{BUILD_HINT}（python -m models.build）。技术原因：{detail}")


ENCODERS = ("onnx", "torch")


def load_encoder(settings: Settings | None = None, encoder: str | None = None) -> Embedder | OnnxEmbedder:
    """The encoder the settings choose: ``"onnx"`` (default, int8, no torch) or ``"torch"`` (fp32).

    Both give unit float32 rows from ``encode(texts, query=...)``; ``encoder`` overrides the setting.
    """
    from service.config import Settings

    settings = settings or Settings.from_env()
    choice = (encoder or settings.encoder).strip().lower()
    if choice == "onnx":
        from service.mining.onnx_embed import OnnxEmbedder

        return OnnxEmbedder.load(settings.onnx_model_dir)
    if choice == "torch":
        return Embedder.load(settings.model_dir)
    raise ValueError(f"未知的编码器设置 JINGYAN_ENCODER={choice!r}，可选：{'、'.join(ENCODERS)}")


def encoder_if_built(settings: Settings | None = None) -> Embedder | OnnxEmbedder | None:
    """:func:`load_encoder`, or None when the chosen model has not been built (callers then read text alone)."""
    try:
        return load_encoder(settings)
    except ModelNotBuiltError:
        return None


class Embedder:
    """Encodes texts with e5's prompts: ``query: `` for searches, ``passage: `` for stored texts."""

    def __init__(self, model, model_dir: Path, quantized: bool = False) -> None:
        self._model = model
        self.model_dir = model_dir
        self.quantized = quantized
        self.name = "torch-int8" if quantized else "torch-fp32"
        self._dim = int(model.get_embedding_dimension())
        # One encode at a time: concurrent requests would each start 2 torch threads on 2 cores.
        self._lock = threading.Lock()

    @classmethod
    def load(cls, model_dir: Path | None = None, quantize: bool = False) -> Embedder:
        """Load the built model (default ``Settings().model_dir``) on CPU with 2 threads.

        ``quantize=True`` converts the encoder's Linear layers to dynamic int8 (see models/MODELS.md
        for the measured speed and agreement with fp32). Raises ``ModelNotBuiltError`` with a
        Chinese message if the folder was never built or is damaged. Within one process, loading
        the same built folder again returns the already loaded model (it is safe to share).
        """
        if model_dir is None:
            from service.config import Settings

            model_dir = Settings().model_dir
        model_dir = Path(model_dir)
        if not (model_dir / "modules.json").is_file():
            raise ModelNotBuiltError(model_dir, "目录不存在或缺少 modules.json")
        record = model_dir / "jingyan_build.json"
        key = (str(model_dir.resolve()), record.stat().st_mtime_ns if record.exists() else 0, quantize)
        with _LOAD_LOCK:
            if key not in _LOADED:
                _LOADED[key] = cls._load_uncached(model_dir, quantize)
            return _LOADED[key]

    @classmethod
    def _load_uncached(cls, model_dir: Path, quantize: bool) -> Embedder:
        import torch

        torch.set_num_threads(TORCH_THREADS)
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        try:
            model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
        except Exception as exc:  # any load failure means the folder must be rebuilt
            raise ModelNotBuiltError(model_dir, f"{type(exc).__name__}: {exc}") from exc
        model.eval()
        if quantize:
            model = _quantize_int8(model)
        return cls(model, model_dir, quantized=quantize)

    @property
    def dim(self) -> int:
        """Vector length (384 for e5-small)."""
        return self._dim

    def encode(self, texts: list[str], query: bool = False, batch_size: int = 32) -> np.ndarray:
        """Embed ``texts`` as rows of a ``(len(texts), dim)`` float32 array, each of unit length.

        ``query=True`` for search input, otherwise the texts are treated as passages. Inputs longer
        than 256 tokens are truncated (practice clauses are far shorter).
        """
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        cleaned = [" ".join(t.split())[:MAX_INPUT_CHARS] for t in texts]
        with self._lock:
            vectors = self._model.encode(
                cleaned,
                prompt_name="query" if query else "passage",
                batch_size=batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _quantize_int8(model):
    """Swap the encoder's Linear layers for dynamic int8 ones (per-channel weights, activations
    quantised per batch), except each layer's FFN output projection.

    That projection reads GELU outputs whose range is too wide for one activation scale: quantising
    it too drops agreement with fp32 from ~0.996 to ~0.98 cosine (bench/embed.py).
    """
    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    encoder = model[0].model
    targets = {
        name: per_channel_dynamic_qconfig
        for name, module in encoder.named_modules()
        if isinstance(module, torch.nn.Linear) and not _is_ffn_output(name)
    }
    with warnings.catch_warnings():
        # torch marks the eager quantization API deprecated in favour of torchao; it still works on CPU.
        warnings.simplefilter("ignore", (DeprecationWarning, FutureWarning, UserWarning))
        model[0].model = quantize_dynamic(encoder, targets, dtype=torch.qint8)
    return model


def _is_ffn_output(name: str) -> bool:
    """``encoder.layer.N.output.dense`` (FFN down-projection), not ``attention.output.dense``."""
    return name.endswith("output.dense") and "attention" not in name
