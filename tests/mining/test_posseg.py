"""The NumPy decoding tags every unknown-word run exactly as jieba's own Viterbi does."""

import re

import jieba.posseg
from jieba.posseg import char_state_tab_P, emit_P, start_P, trans_P
from jieba.posseg.viterbi import viterbi

from service.mining.posseg import HmmTables
from service.mining.resources import CORPUS_DIR, tokenizers

HAN_RUN = re.compile("[\u4e00-\u9fd5]{2,}")


def _windows(limit: int = 1500) -> list[str]:
    """Every 2–12 character window at a stride over the Chinese runs of the sample texts."""
    out: list[str] = []
    for path in sorted((CORPUS_DIR / "samples").glob("*.txt"))[:12]:
        for run in HAN_RUN.findall(path.read_text(encoding="utf-8")):
            for start in range(0, len(run) - 1, 7):
                out.append(run[start : start + 2 + start % 11])
    return out[:limit] + ["杨淑涵", "徐旺达同志回顾", "龘靐齉"]  # names and characters jieba never saw


def test_decoding_matches_jieba_on_sample_text():
    tables = HmmTables()
    windows = _windows()
    assert len(windows) > 1000
    for text in windows:
        _, expected = viterbi(text, char_state_tab_P, start_P, trans_P, emit_P)
        assert tables.viterbi(text) == list(expected), text


def test_tokenizer_cuts_sample_paragraphs_as_jieba_does():
    tok, pos = tokenizers()
    stock = jieba.posseg.POSTokenizer(tok)
    stock.word_tag_tab = pos.word_tag_tab  # the domain dictionary's tags, taken by the first tagger
    text = (CORPUS_DIR / "samples" / "seed__000_d56bd712dbae6b12.txt").read_text(encoding="utf-8")
    paragraphs = [p for p in text.splitlines() if p.strip()]
    assert len(paragraphs) > 10
    for paragraph in paragraphs:
        assert [(t.word, t.flag) for t in pos.cut(paragraph)] == [(t.word, t.flag) for t in stock.cut(paragraph)]
    assert ("徐旺达", "nr") in [(t.word, t.flag) for t in pos.cut("负责人徐旺达回顾了")]
