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
from service.mining.evaluate import DocScore, best_item, load_labelled, match
from service.mining.kinds import KindClassifier


def training_examples(splits: tuple[str, ...] = ("train",)) -> tuple[list[str], list[dict], list[str]]:
    """Every clause the rule extractor weighs in the labelled documents of ``splits``, with its gold kind.

    A clause holding an optional item's key is left out: the labels call it neither right nor wrong.
    """
    from service.intake import parse_file
    from service.mining.extractor import Extractor

    extractor = Extractor(kinds=None)
    examples = [(doc.items, extractor.pieces(parse_file(doc.path))) for doc in load_labelled(splits=splits)]
    return _labelled_pieces(examples)


def _labelled_pieces(examples: list[tuple[list[dict], list[tuple[str, dict]]]]) -> tuple[list[str], list[dict], list[str]]:
    """Texts, features and gold kinds of every weighed piece of each ``(gold items, pieces)`` document."""
    texts: list[str] = []
    feats: list[dict] = []
    labels: list[str] = []
    for items, pieces in examples:
        for text, f in pieces:
            i = best_item(items, text)
            if i is not None and items[i].get("optional"):
                continue
            texts.append(text)
            feats.append(f)
            labels.append("other" if i is None else items[i]["kind"])
    return texts, feats, labels


def cross_validate(folds: int = 5, **params: object) -> DocScore:
    """Practice scores on the train split with the kind classifier trained out of fold.

    Folds are groups of sources (one publisher is never on both sides), so a figure says how rules
    and classifier carry to a publisher they have not seen; topics are left to the saved model.
    """
    from service.intake import parse_file
    from service.mining.extractor import Extractor

    docs = load_labelled(splits=("train",))
    extractor = Extractor(kinds=None)
    parsed = {d.file: parse_file(d.path) for d in docs}
    pieces = {d.file: extractor.pieces(parsed[d.file]) for d in docs}
    sources = sorted({d.source for d in docs}, key=lambda s: (-sum(d.source == s for d in docs), s))
    fold_of = {s: i % folds for i, s in enumerate(sources)}  # largest sources spread over the folds
    total = DocScore("train (out of fold)", "train")
    for k in range(folds):
        texts, feats, labels = _labelled_pieces([(d.items, pieces[d.file]) for d in docs if fold_of[d.source] != k])
        clf = KindClassifier(**params).fit(texts, feats, labels)  # type: ignore[arg-type]
        held = Extractor(finder=extractor.finder, topics=extractor.topics, keywords=extractor.keywords, kinds=clf)
        for d in docs:
            if fold_of[d.source] == k:
                total.add(match(d.items, held.run(parsed[d.file]), d.file, "train", d.genre))
    return total


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
    parser.add_argument("--cv", type=int, default=0, metavar="K",
                        help="不保存模型，只报告按来源分组的 K 折交叉验证结果（train 划分）")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    if args.cv:
        s = cross_validate(args.cv)
        print(f"train 划分 {args.cv} 折交叉验证（按来源分组）：金标 {s.gold}，预测 {s.predicted}，命中 {s.matched}，"
              f"P {s.precision:.3f} R {s.recall:.3f} F1 {s.f1:.3f}，单位 {s.unit_accuracy:.3f}")
        return 0
    texts, feats, labels = training_examples()
    KindClassifier().fit(texts, feats, labels).save(args.out)
    counts = "，".join(f"{k} {n}" for k, n in sorted(Counter(labels).items()))
    print(f"分句类别分类器已训练：{len(texts)} 条样本（{counts}），{time.perf_counter() - t0:.1f} 秒，保存到 {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
