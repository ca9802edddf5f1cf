"""Train the topic classifier on corpus/topics and save it: ``python -m service.mining.train_topics``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from service.mining import resources
from service.mining.topics import gold_clauses, load_training_data, train


def main(argv: list[str] | None = None) -> int:
    """Train and save; prints how many examples and where the model went."""
    parser = argparse.ArgumentParser(description="训练主题分类器（corpus/topics 与 corpus/gold 的 train 划分 → models/build）")
    parser.add_argument("--out", type=Path, default=resources.TOPIC_MODEL_PATH)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    texts, _ = load_training_data()
    gold, _, _ = gold_clauses()
    clf = train(args.out)
    how = "文字模型 + 向量模型" if clf.uses_vectors else "只有文字模型（编码器尚未构建）"
    print(f"主题分类器已训练（{how}）：{len(texts)} 条手写样本 + {len(gold)} 条 train 标注句，"
          f"{time.perf_counter() - t0:.1f} 秒，保存到 {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
