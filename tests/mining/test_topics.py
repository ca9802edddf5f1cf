"""The topic classifier is an ordinary estimator: trained on corpus/topics, saved and loaded whole."""

from __future__ import annotations

import numpy as np

from service.mining import TOPICS
from service.mining.topics import TopicAssigner, TopicClassifier, load_training_data
from service.mining.train_topics import main as train_main


def test_training_data_covers_all_ten_topics_with_hundreds_of_examples():
    texts, labels = load_training_data()
    assert len(texts) >= 300
    assert set(labels) == set(TOPICS)


def test_classifier_round_trips_through_joblib(tmp_path):
    texts, labels = load_training_data()
    clf = TopicClassifier().fit(texts, labels)
    path = tmp_path / "topic.joblib"
    clf.save(path)
    loaded = TopicClassifier.load(path)
    probe = ["市发改委建立起“三卡预警”制度", "组织开展知识竞赛和体育运动会"]
    assert loaded.predict(probe) == clf.predict(probe)
    assert set(loaded.classes) == set(TOPICS)


def test_train_command_writes_the_model_file(tmp_path, capsys):
    out = tmp_path / "build" / "topic-classifier.joblib"
    assert train_main(["--out", str(out)]) == 0
    assert out.exists()
    assert "主题分类器已训练（文字模型 + 向量模型）" in capsys.readouterr().out
    assert TopicClassifier.load(out).uses_vectors


def test_passage_vectors_mix_into_the_topic_and_text_alone_still_answers(encoder):
    texts, labels = load_training_data()
    vectors = encoder.encode(texts, query=False)
    text_only = TopicClassifier().fit(texts, labels)
    mixed = TopicClassifier().fit(texts, labels, vectors)
    assert mixed.uses_vectors and not text_only.uses_vectors
    probe = ["组织党员到革命纪念馆开展现场教学", "建立廉政风险防控台账", "开展“书香机关”读书活动"]
    probe_vectors = encoder.encode(probe, query=False)
    # without vectors the mixed model answers exactly as the text model
    np.testing.assert_allclose(mixed.predict_proba(probe), text_only.predict_proba(probe))
    both = mixed.predict_proba(probe, probe_vectors)
    np.testing.assert_allclose(both.sum(axis=1), 1.0)
    assert not np.allclose(both, text_only.predict_proba(probe))


def test_extractor_embeds_each_practice_once_as_search_would(seed_document, encoder):
    """Ingest stores the extractor's vectors for search, so they must be the vectors of search's passages."""
    from service.library.ingest import indexed_practice
    from service.library.search import embedding_text
    from service.mining import extract

    practices = extract(seed_document, encoder)
    assert practices and all(p.vector is not None for p in practices)
    passages = [embedding_text(indexed_practice(p, 0, seed_document, None)) for p in practices]
    np.testing.assert_allclose(np.stack([p.vector for p in practices]), encoder.encode(passages), atol=1e-4)
    assert all(p.vector is None for p in extract(seed_document))  # no encoder, no vectors
    assert "vector" not in practices[0].to_dict()


def test_section_heading_steers_an_ambiguous_clause():
    assigner = TopicAssigner()
    clause = "制定了工作规定，明确了职责权限"
    topic_discipline, _ = assigner.run(clause, ["四、纪律作风建设不断强化。"])
    topic_culture, _ = assigner.run(clause, ["五、机关文化活动丰富多彩。"])
    assert topic_discipline != topic_culture


def test_tags_come_from_the_taxonomy_of_the_chosen_topic():
    assigner = TopicAssigner()
    topic, tags = assigner.run("严格落实“三会一课”制度，按期进行换届", ["三、基层组织建设日趋规范。"])
    assert topic == "组织建设"
    assert "换届" in tags and "三会一课" in tags


def test_missing_model_file_is_trained_on_first_use(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "JINGYAN_MODELS_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    code = (
        "from service.intake import parse_file; from service.mining import extract; from pathlib import Path;"
        "ps = extract(parse_file(Path('corpus/samples/seed__000_d56bd712dbae6b12.txt'))); print(len(ps))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip()) > 0
    assert (tmp_path / "topic-classifier.joblib").exists()
