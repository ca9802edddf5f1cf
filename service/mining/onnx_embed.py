"""The service's sentence encoder: e5-small as an int8 ONNX graph, run by ONNX Runtime.

Built by ``python -m models.build`` next to the fp32 folder (see models/MODELS.md). Only
``onnxruntime``, ``tokenizers`` and numpy are imported: no torch in the service process, which keeps
the loaded encoder near 300 MB instead of ~850 MB and a query near 6 ms of CPU on one core.

    >>> emb = OnnxEmbedder.load()
    >>> P = emb.encode(["在项目一线成立临时党支部"])          # passages (stored practices)
    >>> q = emb.encode(["工地上建党组织"], query=True)         # search queries
    >>> float(P[0] @ q[0])
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from service.mining.embed import MAX_INPUT_CHARS, ModelNotBuiltError

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
PROMPTS = {True: "query: ", False: "passage: "}
PAD_ID = 1  # XLM-R's <pad>; padded positions are masked out of attention and pooling
# Each encode call runs on one core; a batch is split into this many parts run side by side.
PARALLEL_PARTS = 2
# Padding to the longest text of a batch costs compute: sorted-by-length chunks of at most this many texts.
MAX_BATCH = 8

_LOADED: dict[tuple[str, int], OnnxEmbedder] = {}
_LOAD_LOCK = threading.Lock()


class OnnxEmbedder:
    """Encodes texts with e5's prompts (``query: `` / ``passage: ``) through the int8 ONNX graph."""

    quantized = True
    name = "onnx-int8"

    def __init__(self, session, tokenizer, model_dir: Path, dim: int) -> None:
        self._session = session
        self._tokenizer = tokenizer
        self.model_dir = model_dir
        self._dim = dim
        # Sessions are safe to run from several threads; each run here uses one intra-op thread.
        self._pool = ThreadPoolExecutor(max_workers=PARALLEL_PARTS, thread_name_prefix="onnx-encode")

    @classmethod
    def load(cls, model_dir: Path | None = None) -> OnnxEmbedder:
        """The encoder in ``model_dir`` (default ``Settings().onnx_model_dir``), loaded once per process.

        Raises ``ModelNotBuiltError`` with a Chinese message when the folder was never built or is damaged.
        """
        if model_dir is None:
            from service.config import Settings

            model_dir = Settings().onnx_model_dir
        model_dir = Path(model_dir)
        model = model_dir / MODEL_FILE
        key = (str(model_dir.resolve()), model.stat().st_mtime_ns if model.exists() else 0)
        with _LOAD_LOCK:
            if key not in _LOADED:
                _LOADED[key] = cls.open(model_dir)
            return _LOADED[key]

    @classmethod
    def open(cls, model_dir: Path) -> OnnxEmbedder:
        """Load ``model_dir`` without the per-process cache (the build's own check uses this)."""
        model_dir = Path(model_dir)
        if not (model_dir / MODEL_FILE).is_file() or not (model_dir / TOKENIZER_FILE).is_file():
            raise ModelNotBuiltError(model_dir, f"目录不存在或缺少 {MODEL_FILE} / {TOKENIZER_FILE}")
        import onnxruntime as ort

        from service.mining.unigram import UnigramTokenizer

        try:
            record = json.loads((model_dir / "jingyan_build.json").read_text(encoding="utf-8"))
            max_tokens = int(record.get("max_seq_length") or 256)
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            # Busy-waiting threads would steal the shared cores from SQLite and the parser.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            # No arena and no memory-pattern plans: buffers go back to malloc after every run, so a
            # batch of long passages does not leave ~130 MB reserved in the worker (malloc_trim after
            # each job returns them); measured the same CPU per query and per batch.
            options.enable_cpu_mem_arena = False
            options.enable_mem_pattern = False
            options.log_severity_level = 3
            session = ort.InferenceSession(str(model_dir / MODEL_FILE), options, providers=["CPUExecutionProvider"])
            tokenizer = UnigramTokenizer.from_file(model_dir / TOKENIZER_FILE, max_length=max_tokens)
        except Exception as exc:  # any load failure means the folder must be rebuilt
            raise ModelNotBuiltError(model_dir, f"{type(exc).__name__}: {exc}") from exc
        dim = int(session.get_outputs()[0].shape[-1])
        return cls(session, tokenizer, model_dir, dim)

    @property
    def dim(self) -> int:
        """Vector length (384 for e5-small)."""
        return self._dim

    def encode(self, texts: list[str], query: bool = False, batch_size: int = MAX_BATCH) -> np.ndarray:
        """Embed ``texts`` as rows of a ``(len(texts), dim)`` float32 array, each of unit length.

        ``query=True`` for search input, otherwise passages. Inputs longer than the model's 256
        tokens are truncated. Texts are grouped by length so little compute goes to padding.
        """
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        prompt = PROMPTS[bool(query)]
        ids = [self._tokenizer.encode(prompt + " ".join(t.split())[:MAX_INPUT_CHARS]) for t in texts]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        parts = max(PARALLEL_PARTS if len(ids) >= 2 * PARALLEL_PARTS else 1, -(-len(ids) // max(1, batch_size)))
        chunks = [c for c in np.array_split(np.asarray(order), parts) if len(c)]
        if len(chunks) == 1:  # a query: run in the caller's thread
            results = [self._run([ids[i] for i in chunks[0]])]
        else:
            results = list(self._pool.map(lambda c: self._run([ids[i] for i in c]), chunks))
        out = np.empty((len(ids), self._dim), dtype=np.float32)
        for chunk, vectors in zip(chunks, results, strict=True):
            out[chunk] = vectors
        return out

    def _run(self, batch: list[list[int]]) -> np.ndarray:
        width = max(len(x) for x in batch)
        input_ids = np.full((len(batch), width), PAD_ID, dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, seq in enumerate(batch):
            input_ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        (vectors,) = self._session.run(None, {"input_ids": input_ids, "attention_mask": mask})
        return np.asarray(vectors, dtype=np.float32)

