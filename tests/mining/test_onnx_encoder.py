"""The service's int8 ONNX encoder: same answers as the fp32 model, no torch, parsers without the model."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from models.build_onnx import fingerprint, is_up_to_date
from service.config import REPO_ROOT, Settings
from service.intake.guard import run_isolated
from service.mining.embed import BUILD_HINT, Embedder, ModelNotBuiltError, load_encoder
from service.mining.onnx_embed import OnnxEmbedder
from service.mining.unigram import UnigramTokenizer

CORPUS = REPO_ROOT / "corpus"


def corpus_sentences(limit: int | None = None, lo: int = 30, hi: int = 80) -> list[str]:
    out: list[str] = []
    for path in sorted((CORPUS / "samples").glob("*.txt")):
        for sentence in re.split(r"(?<=[。；！？])", path.read_text(encoding="utf-8")):
            sentence = sentence.strip()
            if lo <= len(sentence) <= hi:
                out.append(sentence)
    return out[::7][:limit] if limit else out


def triplets() -> list[dict[str, str]]:
    lines = (CORPUS / "embed_triplets.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="module")
def onnx() -> OnnxEmbedder:
    return OnnxEmbedder.load()


@pytest.fixture(scope="module")
def fp32() -> Embedder:
    return Embedder.load()


def test_the_service_uses_the_onnx_encoder_unless_told_otherwise(onnx: OnnxEmbedder) -> None:
    assert Settings().encoder == "onnx"
    assert load_encoder(Settings()) is onnx
    assert onnx.quantized and onnx.dim == 384


def test_the_old_path_stays_selectable_by_setting(fp32: Embedder) -> None:
    assert load_encoder(Settings(encoder="torch")) is fp32
    assert fp32.name == "torch-fp32"


def test_an_unknown_encoder_setting_is_refused_in_chinese() -> None:
    with pytest.raises(ValueError, match="未知的编码器设置"):
        load_encoder(Settings(encoder="gpu"))


def test_int8_vectors_agree_with_fp32_on_corpus_clauses_and_queries(onnx: OnnxEmbedder, fp32: Embedder) -> None:
    clauses = corpus_sentences(96)
    assert len(clauses) >= 90
    for query in (False, True):
        fast, ref = onnx.encode(clauses, query=query), fp32.encode(clauses, query=query)
        assert fast.shape == ref.shape == (len(clauses), 384)
        np.testing.assert_allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-4)
        cos = np.sum(fast * ref, axis=1)
        assert cos.min() >= 0.995 and cos.mean() >= 0.998


def test_int8_keeps_every_paraphrase_ahead_of_its_unrelated_practice(onnx: OnnxEmbedder, fp32: Embedder) -> None:
    rows = triplets()

    def wins(embedder: Embedder | OnnxEmbedder) -> np.ndarray:
        q = embedder.encode([r["anchor"] for r in rows], query=True)
        pos = embedder.encode([r["positive"] for r in rows])
        neg = embedder.encode([r["negative"] for r in rows])
        return np.sum(q * pos, axis=1) > np.sum(q * neg, axis=1)

    assert (wins(onnx) == wins(fp32)).all()


def test_a_batch_gives_the_vectors_of_one_text_at_a_time_in_the_same_order(onnx: OnnxEmbedder) -> None:
    # Lengths differ widely so the batch is sorted, padded and split into parts run side by side.
    texts = corpus_sentences(12, lo=12, hi=200) + ["党建", "在重点项目一线成立临时党支部" * 12]
    together = onnx.encode(texts)
    alone = np.vstack([onnx.encode([t]) for t in texts])
    # Activations are quantised per batch, so batch-mates shift a vector slightly, never its meaning.
    cos = together @ alone.T
    assert (np.argmax(cos, axis=1) == np.arange(len(texts))).all()
    assert np.diag(cos).min() >= 0.995


def test_empty_input_and_a_whole_document_are_handled(onnx: OnnxEmbedder) -> None:
    assert onnx.encode([]).shape == (0, 384)
    document = (CORPUS / "samples" / "seed__000_d56bd712dbae6b12.txt").read_text(encoding="utf-8")
    long_vec, head_vec = onnx.encode([document, document[:120]])
    assert float(long_vec @ head_vec) > 0.8


def test_the_small_tokenizer_gives_the_librarys_ids_on_the_corpus() -> None:
    from tokenizers import Tokenizer

    path = Settings().onnx_model_dir / "tokenizer.json"
    ours = UnigramTokenizer.from_file(path)
    reference = Tokenizer.from_file(str(path))
    reference.enable_truncation(256)
    texts = corpus_sentences(lo=1, hi=400)[::5] + [
        "<s>正文</s> 工地<mask>", "ＡＢＣ　全角～２０２３年", "\u200b零宽\u200b空格", "😀表情", "  多个   空格 ",
        "\x07控制字符", "中" * 600, "ꓘꓘꓘ 未收录字符",
    ]
    assert len(texts) > 1000
    for text in texts:
        for prompt in ("query: ", "passage: "):
            assert ours.encode(prompt + text) == reference.encode(prompt + text).ids, text


def test_a_missing_encoder_folder_tells_the_clerk_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(ModelNotBuiltError) as err:
        OnnxEmbedder.load(tmp_path / "never-built")
    assert BUILD_HINT in str(err.value)


def test_a_damaged_encoder_file_gives_the_same_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "e5-small-onnx"
    broken.mkdir()
    (broken / "model.onnx").write_bytes(b"not a model")
    (broken / "tokenizer.json").write_bytes((Settings().onnx_model_dir / "tokenizer.json").read_bytes())
    (broken / "jingyan_build.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ModelNotBuiltError) as err:
        OnnxEmbedder.load(broken)
    assert BUILD_HINT in str(err.value) and err.value.detail


def test_the_encoder_build_is_current_and_stale_when_its_source_changes(tmp_path: Path) -> None:
    settings = Settings()
    expected = fingerprint(settings.model_dir)
    assert is_up_to_date(settings.onnx_model_dir, expected)
    copy = tmp_path / "e5-small-onnx"
    copy.mkdir()
    (copy / "model.onnx").write_bytes(b"")
    record = json.loads((settings.onnx_model_dir / "jingyan_build.json").read_text(encoding="utf-8"))
    assert record["min_cosine"] >= 0.995
    for key, other in (("source_sha256", "0" * 64), ("exporter_version", -1), ("source_built_at", "then")):
        (copy / "jingyan_build.json").write_text(json.dumps({**record, key: other}), encoding="utf-8")
        assert not is_up_to_date(copy, expected), key


def test_the_service_encoder_runs_without_torch_in_the_process() -> None:
    script = (
        "import sys\n"
        "from service.library.library import load_embedder\n"
        "from service.config import Settings\n"
        "emb = load_embedder(Settings())\n"
        "v = emb.encode(['在项目一线成立临时党支部'], query=True)\n"
        "print(type(emb).__name__, v.shape[1], 'torch' in sys.modules, 'transformers' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "JINGYAN_ENCODER"}
    run = subprocess.run([sys.executable, "-c", script], env={**env, "PYTHONPATH": str(REPO_ROOT)},
                         capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["OnnxEmbedder", "384", "False", "False"]


def resident_mb() -> int:
    return int(re.search(r"VmRSS:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) // 1024


def modules_and_memory() -> tuple[list[str], int]:
    """Runs inside a parser child: what it has imported and how much memory it holds."""
    return sorted(sys.modules), resident_mb()


def test_parser_children_do_not_inherit_the_loaded_model(onnx: OnnxEmbedder) -> None:
    onnx.encode(["在项目一线成立临时党支部"])
    assert "onnxruntime" in sys.modules and resident_mb() > 250
    modules, child_mb = run_isolated(modules_and_memory, (), timeout_s=60)
    assert "service.intake.pipeline" in modules  # the parser server preloads the readers
    assert "torch" not in modules
    # onnxruntime itself may be mapped (page recognition is preloaded there), but not the model:
    # a forked copy of this process would start with the model's pages resident.
    assert child_mb < 200
