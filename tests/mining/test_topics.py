"""The topic classifier is an ordinary estimator: trained on corpus/topics, saved and loaded whole."""

from __future__ import annotations

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
    assert "主题分类器已训练" in capsys.readouterr().out


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
