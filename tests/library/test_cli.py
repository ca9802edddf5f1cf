"""From a terminal: ingest a folder, see a summary of failures, then search the library."""

from __future__ import annotations

import json
import shutil

import pytest

from service import cli
from service.library import library as library_module
from tests.library.conftest import SAMPLES, SEED


@pytest.fixture
def shared_model(monkeypatch, embedder):
    """The commands load the model themselves; hand them the session's copy instead of a second load."""
    monkeypatch.setattr(library_module, "load_embedder", lambda settings: embedder)


def test_ingest_folder_then_search(tmp_path, capsys, shared_model):
    folder = tmp_path / "上报材料"
    folder.mkdir()
    shutil.copy(SEED, folder / "交流会讲话.txt")
    shutil.copy(SAMPLES / "pb-lotjol__05.txt", folder / "基层报道.txt")
    (folder / "空文件.txt").write_bytes(b"")
    data = tmp_path / "data"

    code = cli.main(["ingest", str(folder), "--data", str(data)])
    out = capsys.readouterr().out
    assert code == 1  # one file failed, and the exit code says so
    assert "共 3 个文件：成功 2" in out and "失败 1" in out
    assert "空文件.txt：文件是空的" in out

    assert cli.main(["ingest", str(folder / "交流会讲话.txt"), "--data", str(data)]) == 0
    assert "完全重复 1" in capsys.readouterr().out

    assert cli.main(["search", "学习制度", "--json", "--data", str(data)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["total"] > 0
    assert any("日读一文" in r["practice"]["text"] for r in result["results"][:5])

    assert cli.main(["search", "", "--topic", "思想建设", "--json", "--data", str(data)]) == 0
    browsed = json.loads(capsys.readouterr().out)
    assert browsed["results"] and all(r["practice"]["topic"] == "思想建设" for r in browsed["results"])
