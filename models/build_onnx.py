"""The service's encoder: the built e5-small folder exported to ONNX and quantised to int8.

``python -m models.build`` runs this after the sentence-transformers folder is in place. Steps:

1. ``torch.onnx.export`` of the BERT encoder with e5's mean pooling and L2 normalisation inside
   the graph (inputs ``input_ids`` and ``attention_mask``, output one unit vector per text).
2. ONNX Runtime's BERT graph optimiser fuses attention, GELU and the layer norms.
3. Dynamic int8 quantisation (``onnxruntime.quantization``): weights per output channel, the
   word-embedding table included; each layer's FFN down-projection stays fp32, because its GELU
   input is too wide for one activation scale (with it quantised, agreement drops to ~0.99).
4. The result is checked against the fp32 folder on practice sentences with both prompts and
   installed only when every cosine is at least ``MIN_COSINE``.

The service then runs it with ``onnxruntime`` and ``tokenizers`` alone: no torch in its process.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

ONNX_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
BUILD_RECORD = "jingyan_build.json"
# Bump when the export or quantisation changes so existing folders get rebuilt.
EXPORTER_VERSION = 1
MIN_COSINE = 0.995
OPSET = 17


class OnnxBuildError(RuntimeError):
    """The ONNX encoder could not be built or disagreed with the fp32 model."""


def fingerprint(st_dir: Path) -> dict[str, object]:
    """What the ONNX folder is made from: the fp32 folder's own build record and this exporter."""
    try:
        source = json.loads((st_dir / BUILD_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OnnxBuildError(f"fp32 模型目录 {st_dir} 缺少构建记录，请先构建它（{exc}）") from exc
    return {
        "source_sha256": source.get("source_sha256"),
        "source_built_at": source.get("built_at"),
        "max_seq_length": source.get("max_seq_length"),
        "exporter_version": EXPORTER_VERSION,
        "quantization": "dynamic int8, per-channel weights, FFN output fp32",
    }


def read_record(out: Path) -> dict | None:
    """The build record of an existing ONNX folder, or ``None``."""
    try:
        return json.loads((out / BUILD_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_up_to_date(out: Path, expected: dict[str, object]) -> bool:
    """True when ``out`` holds a verified export of exactly this fp32 build and exporter."""
    record = read_record(out)
    return bool(record) and (out / ONNX_FILE).is_file() and all(record.get(k) == v for k, v in expected.items())


def export_fp32(st_dir: Path, path: Path) -> None:
    """Write the fp32 encoder with mean pooling and normalisation as one ONNX graph."""
    import warnings

    import torch
    from transformers import BertModel

    bert = BertModel.from_pretrained(str(st_dir), add_pooling_layer=False, attn_implementation="eager").eval()

    class PooledEncoder(torch.nn.Module):
        def __init__(self, encoder: torch.nn.Module) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(states.dtype)
            mean = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)

    ids = torch.tensor([[0, 1294, 12, 6, 2], [0, 1294, 2, 1, 1]])
    mask = (ids != 1).long()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer notes about shapes taken as constants
        torch.onnx.export(
            PooledEncoder(bert).eval(),
            (ids, mask),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                          "embedding": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )


def optimize_and_quantize(fp32: Path, out: Path, config: dict) -> None:
    """Fuse the BERT graph, then quantise it to dynamic int8 (FFN down-projections kept fp32)."""
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer

    fused = fp32.with_name("fused.onnx")
    model = optimizer.optimize_model(
        str(fp32), model_type="bert", num_heads=int(config["num_attention_heads"]),
        hidden_size=int(config["hidden_size"]), opt_level=1,
    )
    model.save_model_to_file(str(fused))
    graph = onnx.load(str(fused), load_external_data=False).graph
    ffn_out = [n.name for n in graph.node if n.op_type == "MatMul" and _is_ffn_output(n.name)]
    if not ffn_out:
        raise OnnxBuildError("优化后的图中找不到前馈层输出投影，无法按既定方案量化")
    logging.getLogger().setLevel(logging.ERROR)  # the quantiser logs advice about pre-processing
    quantize_dynamic(
        str(fused), str(out), weight_type=QuantType.QInt8, per_channel=True, nodes_to_exclude=ffn_out,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def _is_ffn_output(name: str) -> bool:
    """``…/layer.N/output/dense/MatMul`` (FFN down-projection), not ``…/attention/output/dense``."""
    return "/output/dense/" in name and "/attention/" not in name


def verify(st_dir: Path, onnx_dir: Path, sentences: list[str]) -> dict[str, float]:
    """Cosine between the int8 ONNX encoder and the fp32 folder on ``sentences`` (both prompts)."""
    from sentence_transformers import SentenceTransformer

    from service.mining.onnx_embed import OnnxEmbedder

    reference = SentenceTransformer(str(st_dir), device="cpu", local_files_only=True)
    ours = OnnxEmbedder.open(onnx_dir)
    cosines: list[float] = []
    for name, is_query in (("passage", False), ("query", True)):
        theirs = reference.encode(sentences, prompt_name=name, convert_to_numpy=True, normalize_embeddings=True)
        cosines.extend(np.sum(ours.encode(sentences, query=is_query) * theirs, axis=1).tolist())
    return {"min_cosine": float(min(cosines)), "mean_cosine": float(np.mean(cosines))}


def build_onnx(st_dir: Path, out: Path, sentences: list[str], force: bool = False) -> dict:
    """Build the int8 ONNX encoder at ``out`` from the fp32 folder ``st_dir`` unless it is current."""
    expected = fingerprint(st_dir)
    if not force and is_up_to_date(out, expected):
        print(f"ONNX 编码器已是最新，无需重建：{out}")
        return read_record(out) or {}
    started = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    # Built beside the target and renamed at the end: a failed build never leaves a half-written model.
    work = Path(tempfile.mkdtemp(prefix=".e5-onnx-build-", dir=out.parent))
    try:
        staged = work / "onnx"
        staged.mkdir()
        fp32 = work / "fp32.onnx"
        export_fp32(st_dir, fp32)
        config = json.loads((st_dir / "config.json").read_text(encoding="utf-8"))
        optimize_and_quantize(fp32, staged / ONNX_FILE, config)
        shutil.copy(st_dir / TOKENIZER_FILE, staged / TOKENIZER_FILE)
        (staged / BUILD_RECORD).write_text(json.dumps(expected), encoding="utf-8")  # what load() reads
        check = verify(st_dir, staged, sentences)
        if check["min_cosine"] < MIN_COSINE:
            raise OnnxBuildError(
                f"int8 ONNX 编码器与 fp32 模型不一致：最小余弦 {check['min_cosine']:.5f} < {MIN_COSINE}"
            )
        record = {**expected, **check, "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "build_seconds": round(time.perf_counter() - started, 1),
                  "size_mb": round((staged / ONNX_FILE).stat().st_size / 1e6, 1)}
        (staged / BUILD_RECORD).write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        staged.rename(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"已构建 ONNX int8 编码器 {out}：{record['size_mb']} MB，用时 {record['build_seconds']} 秒；"
          f"与 fp32 的余弦最小 {record['min_cosine']:.5f}、平均 {record['mean_cosine']:.5f}")
    return record
