"""Mining speed: ``python -m bench.mining`` prints characters per second over corpus/samples.

Models are loaded (and warmed on the seed) before timing; the seed's latency is reported apart,
and the corpus run's CPU time beside its wall time. Two paths are timed: extraction alone (topics
from the text model, ``jingyan extract --text-only``) and extraction with the encoder, as ingest
runs it: each practice's passage vector is computed once, read by the topic classifier and stored
for search, so that figure includes the embedding ingest would pay anyway.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from service.intake import parse_file
from service.intake.errors import IntakeError
from service.mining import extract
from service.mining.resources import CORPUS_DIR


def main() -> int:
    """Time extraction over every readable sample and the seed alone, without and with the encoder."""
    from service.mining.embed import load_encoder

    samples = sorted((CORPUS_DIR / "samples").glob("*"))
    seed = CORPUS_DIR / "samples" / "seed__000_d56bd712dbae6b12.txt"
    t0 = time.perf_counter()
    seed_doc = parse_file(seed)
    encoder = load_encoder()
    extract(seed_doc, encoder)
    print(f"模型加载与预热：{time.perf_counter() - t0:.2f} 秒")
    docs = []
    for path in samples:
        try:
            docs.append(parse_file(Path(path)))
        except IntakeError as exc:
            print(f"跳过 {path.name}：{exc.user_line()}")
    chars = sum(len(d.text) for d in docs)
    for label, enc in (("只抽取（主题只按文字）", None), ("抽取并编码（入库路径，向量同时供检索）", encoder)):
        runs = []
        for _ in range(5):
            t = time.perf_counter()
            extract(seed_doc, enc)
            runs.append(time.perf_counter() - t)
        print(f"【{label}】")
        print(f"  种子讲话（{len(seed_doc.text)} 字）：中位数 {statistics.median(runs) * 1000:.0f} ms")
        t, cpu = time.perf_counter(), time.process_time()
        found = sum(len(extract(d, enc)) for d in docs)
        elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
        print(f"  语料 {len(docs)} 份、{chars} 字：{elapsed:.2f} 秒，{chars / elapsed:,.0f} 字/秒，抽出 {found} 条")
        # CPU time tells the cost when other work shares the machine (wall time then overstates it)
        print(f"  CPU 时间 {cpu:.2f} 秒，{chars / cpu:,.0f} 字/CPU 秒")
    return 0


if __name__ == "__main__":
    sys.exit(main())
