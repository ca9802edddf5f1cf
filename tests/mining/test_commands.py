"""The clerk's commands: ``jingyan extract FILE --json`` and ``jingyan eval``."""

from __future__ import annotations

import json

from service.cli import main
from tests.mining.conftest import SEED


def test_extract_prints_the_document_and_its_practices_as_json(capsys):
    assert main(["extract", str(SEED), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    text = out["document"]["text"]
    assert out["practices"]
    for p in out["practices"]:
        assert set(p) >= {"orgs", "mentions", "text", "name", "topic", "tags", "keywords", "kind", "span",
                          "section", "confidence"}
        assert text[p["span"][0] : p["span"][1]] == p["text"]
    study = next(p for p in out["practices"] if "日读一文" in p["text"])
    assert study["orgs"] == ["市委办公室"]


def test_extract_prints_a_readable_list_without_json(capsys):
    assert main(["extract", str(SEED)]) == 0
    out = capsys.readouterr().out
    assert "市委办公室" in out and "[做法｜思想建设]" in out and "[要求｜" in out


def test_extract_of_a_missing_file_explains_in_chinese(tmp_path, capsys):
    assert main(["extract", str(tmp_path / "没有这个文件.txt")]) == 2
    assert "无法" in capsys.readouterr().err


def test_eval_scores_each_split_and_genre_separately(capsys):
    assert main(["eval", "--split", "train"]) == 0
    out = capsys.readouterr().out
    assert "== train" in out and "== test" not in out
    assert "体裁 speech" in out and "体裁 report" in out
    assert out.count("合计") == 1
    for label in ("P", "R", "F1", "单位", "主题"):
        assert label in out
