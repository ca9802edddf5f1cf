"""Train the clause-kind classifier on the train split of corpus/gold: ``python -m service.mining.train_kinds``."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from service.mining import resources
from service.mining.estimator import load_or_train
from service.mining.evaluate import best_item, load_labelled
from service.mining.kinds import KindClassifier


def training_examples(splits: tuple[str, ...] = ("train",)) -> tuple[list[str], list[dict], list[str]]:
    """Every clause the rule extractor weighs in the labelled documents of ``splits``, with its gold kind.

    A clause holding an optional item's key is left out: the labels call it neither right nor wrong.
    """
    from service.intake import parse_file
    from service.mining.extractor import Extractor

    extractor = Extractor(kinds=None)
    texts: list[str] = []
    feats: list[dict] = []
    labels: list[str] = []
    for doc in load_labelled(splits=splits):
        document = parse_file(doc.path)
        for text, f in extractor.pieces(document):
            i = best_item(doc.items, text)
            if i is not None and doc.items[i].get("optional"):
                continue
            texts.append(text)
            feats.append(f)
            labels.append("other" if i is None else doc.items[i]["kind"])
    return texts, feats, labels


def train(path: Path | None = None) -> KindClassifier:
    """Train on the train split and save to ``path`` (default models/build/kind-classifier.joblib)."""
    texts, feats, labels = training_examples()
    clf = KindClassifier().fit(texts, feats, labels)
    clf.save(path or resources.KIND_MODEL_PATH)
    return clf


_model: KindClassifier | None = None
_model_lock = threading.Lock()


def default_classifier() -> KindClassifier:
    """The saved classifier; built from the train split first when the file is missing (once per process)."""
    global _model
    with _model_lock:
        if _model is None:
            _model = load_or_train(KindClassifier, resources.KIND_MODEL_PATH, train, retrain_on=(FileNotFoundError,))
    return _model


def main(argv: list[str] | None = None) -> int:
    """Train and save; prints the examples per kind and where the model went."""
    parser = argparse.ArgumentParser(description="训练做法/要求/其他分类器（corpus/gold 的 train 划分 → models/build）")
    parser.add_argument("--out", type=Path, default=resources.KIND_MODEL_PATH)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    texts, feats, labels = training_examples()
    KindClassifier().fit(texts, feats, labels).save(args.out)
    counts = "，".join(f"{k} {n}" for k, n in sorted(Counter(labels).items()))
    print(f"分句类别分类器已训练：{len(texts)} 条样本（{counts}），{time.perf_counter() - t0:.1f} 秒，保存到 {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
