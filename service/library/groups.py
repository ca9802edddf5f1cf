"""Practice groups: the same kind of practice across units and years (all reading-and-study systems together).

Two practices are alike when their e5 embeddings are close *and* they share words: e5 scores
bunch up (paraphrases ≈ 0.92, unrelated Party-building clauses ≈ 0.85), so a small bonus for
shared jieba words separates "another reading system" from "another Party-building sentence".

``rebuild`` clusters everything by average-linkage agglomeration on that similarity, cut at
``threshold``; ``assign`` puts each new practice into the group whose members it is on average
most similar to, when that average clears the same threshold, or founds a new group. The
defaults (0.92, word weight 0.4) were chosen on corpus/queries/groups.jsonl with
``jingyan eval-search --mode practices --groups``. Each group
keeps the sum of its members' vectors so a new practice is first compared with every group's
centroid and only the best few groups are examined member by member.

Example::

    grouper = PracticeGrouper()
    grouper.migrate(conn)
    grouper.assign(conn, [101, 102])        # inside the ingest transaction
    grouper.list_groups(conn, limit=20, offset=0)
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import numpy as np

from service.library.search import migrate_schema

# Past this many practices, rebuild switches from exact agglomeration (n² memory) to a
# single pass of centroid assignment, the same rule ``assign`` follows.
EXACT_LIMIT = 5000
CANDIDATE_GROUPS = 5
# Words too common in this domain to name a group on their own.
LABEL_STOPWORDS = frozenset(
    "党员 党组织 党支部 工作 建设 开展 推进 推动 加强 组织 社区 群众 服务 党建 机制 活动 全市 市直 机关"
    " 基层 单位 部门 通过 实现 提升 形成 建立 坚持 注重 积极 深入 持续 全面 进一步 今年 以来 近年来"
    " 等等 党员干部 干部 切实 有效 不断 主要 相关 各项 组建 建立健全 从严 推行 实行 倡导 举办 中央 项目 问题"
    " 方面 情况 特色 重点 作用 地区 发展 提高 内容 形式 方式 全省 全县 全区 全国".split()
)
# A name or keyword labels a group when at least 1 / LABEL_SHARE of its members carry it.
LABEL_SHARE = 4
# jieba tags of words that name a place, a person, a body, a time or a number: never a group's label
NOT_CONCEPT_FLAGS = ("ns", "nr", "nt", "t", "m", "q", "r", "p", "c", "u", "d")
# Endings of nouns that name people (统计员, 候选人, 总书记), bodies (市政府, 领导小组) or a quality (系统性):
# such a word is not a kind of practice unless the domain's own word lists hold it (第一书记)
NOT_CONCEPT_ENDINGS = (
    "员", "人", "者", "家", "书记", "主任", "政府", "小组", "委员会", "办公室", "机关", "性",
)


# Two practices of the same unit in the same document are that unit's different measures, not the
# same kind of practice across units: their similarity is lowered by this much before clustering.
SAME_SOURCE_PENALTY = 0.05


class PracticeGrouper:
    """Clusters practices into groups and keeps ``practices.group_id`` and ``practice_groups`` current."""

    def __init__(
        self,
        threshold: float = 0.92,
        keyword_weight: float = 0.40,
        linkage: str = "average",
        same_source_penalty: float = SAME_SOURCE_PENALTY,
    ) -> None:
        self.threshold = threshold
        self.keyword_weight = keyword_weight
        self.linkage = linkage
        self.same_source_penalty = same_source_penalty

    def migrate(self, conn: sqlite3.Connection) -> None:
        """Create or upgrade the search component's tables (groups live there)."""
        migrate_schema(conn)

    # -- building -----------------------------------------------------------------------------

    def assign(self, conn: sqlite3.Connection, practice_ids: list[int]) -> None:
        """Put each new practice into the nearest group above threshold, else a new one (caller's transaction)."""
        if not practice_ids:
            return
        with _transaction(conn):
            group_ids, sums, sizes = _load_groups(conn)
            vectors = _vectors(conn, practice_ids)
            words = _words(conn, practice_ids)
            sources = _sources(conn, practice_ids)
            position = {gid: i for i, gid in enumerate(group_ids)}
            touched: set[int] = set()
            for pid in practice_ids:
                vec = vectors.get(pid)
                gid = None
                if vec is not None and group_ids:
                    gid = self._best_group(conn, vec, words.get(pid, set()), sources.get(pid), group_ids, sums)
                if gid is None:
                    gid = _new_group(conn)
                    position[gid] = len(group_ids)
                    group_ids.append(gid)
                    sums.append(None)
                    sizes.append(0)
                i = position[gid]
                if vec is not None:
                    sums[i] = vec.copy() if sums[i] is None else sums[i] + vec
                sizes[i] += 1
                conn.execute("UPDATE practices SET group_id = ? WHERE id = ?", (gid, pid))
                touched.add(gid)
            for gid in touched:
                i = position[gid]
                _save_group(conn, gid, sizes[i], sums[i])
            self._relabel(conn, sorted(touched))

    def remove_document(self, conn: sqlite3.Connection, document_id: int) -> None:
        """Take a document's practices out of their groups before they are deleted (caller's transaction).

        Sizes and vector sums shrink by the leaving members; a group left empty is dropped and the
        others are relabelled from the members that remain.
        """
        with _transaction(conn):
            rows = conn.execute(
                "SELECT id, group_id FROM practices WHERE document_id = ? AND group_id IS NOT NULL", (document_id,)
            ).fetchall()
            if not rows:
                return
            leaving: dict[int, list[int]] = {}
            for pid, gid in rows:
                leaving.setdefault(gid, []).append(pid)
            vectors = _vectors(conn, [pid for pid, _ in rows])
            conn.execute("UPDATE practices SET group_id = NULL WHERE document_id = ?", (document_id,))
            kept: list[int] = []
            for gid, pids in leaving.items():
                row = conn.execute("SELECT size, vector_sum FROM practice_groups WHERE id = ?", (gid,)).fetchone()
                if row is None:
                    continue
                size = row[0] - len(pids)
                if size <= 0:
                    conn.execute("DELETE FROM practice_groups WHERE id = ?", (gid,))
                    continue
                vector_sum = np.frombuffer(row[1], dtype=np.float32).copy() if row[1] else None
                if vector_sum is not None:
                    for pid in pids:
                        if pid in vectors:
                            vector_sum -= vectors[pid]
                _save_group(conn, gid, size, vector_sum)
                kept.append(gid)
            self._relabel(conn, sorted(kept))

    def _best_group(
        self,
        conn: sqlite3.Connection,
        vec: np.ndarray,
        words: set[str],
        source: tuple[int, str] | None,
        group_ids: list[int],
        sums: list[np.ndarray | None],
    ) -> int | None:
        """The group most similar to ``vec`` under the linkage (if above threshold), among the nearest centroids."""
        have = [i for i, s in enumerate(sums) if s is not None and np.any(s)]
        if not have:
            return None
        centroids = np.vstack([sums[i] for i in have])
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
        sims = centroids @ vec
        order = np.argsort(-sims)[:CANDIDATE_GROUPS]
        best, best_score = None, -math.inf
        for j in order:
            gid = group_ids[have[j]]
            members = [r[0] for r in conn.execute("SELECT id FROM practices WHERE group_id = ?", (gid,))]
            mvecs = _vectors(conn, members)
            mwords = _words(conn, members)
            msources = _sources(conn, members)
            scores = [
                float(mvecs[m] @ vec)
                + self.keyword_weight * _jaccard(words, mwords.get(m, set()))
                - (self.same_source_penalty if source is not None and msources.get(m) == source else 0.0)
                for m in members
                if m in mvecs
            ]
            if scores and (score := self._link(scores)) > best_score:
                best, best_score = gid, score
        return best if best_score >= self.threshold else None

    def _link(self, scores: list[float]) -> float:
        """A practice's similarity to a group under the linkage rebuild uses (all, average or any member)."""
        if self.linkage == "complete":
            return float(np.min(scores))
        if self.linkage == "single":
            return float(np.max(scores))
        return float(np.mean(scores))

    def rebuild(self, conn: sqlite3.Connection) -> int:
        """Re-cluster every practice from scratch; returns the number of groups."""
        with _transaction(conn):
            all_ids = [r[0] for r in conn.execute("SELECT id FROM practices ORDER BY id")]
            vectors = _vectors(conn, all_ids)
            with_vec = [pid for pid in all_ids if pid in vectors]
            sources = _sources(conn, with_vec)
            labels = self.cluster(
                np.vstack([vectors[p] for p in with_vec]) if with_vec else np.zeros((0, 1), np.float32),
                [_words(conn, with_vec).get(p, set()) for p in with_vec],
                [sources.get(p) for p in with_vec],
            )
            conn.execute("UPDATE practices SET group_id = NULL")
            conn.execute("DELETE FROM practice_groups")
            members: dict[int, list[int]] = {}
            for pid, label in zip(with_vec, labels, strict=True):
                members.setdefault(int(label), []).append(pid)
            clusters = list(members.values()) + [[pid] for pid in all_ids if pid not in vectors]
            new_ids: list[int] = []
            for cluster in clusters:
                gid = _new_group(conn)
                new_ids.append(gid)
                conn.executemany("UPDATE practices SET group_id = ? WHERE id = ?", [(gid, p) for p in cluster])
                vs = [vectors[p] for p in cluster if p in vectors]
                _save_group(conn, gid, len(cluster), np.sum(vs, axis=0) if vs else None)
            self._relabel(conn, new_ids)
            return len(clusters)

    def cluster(
        self, matrix: np.ndarray, words: list[set[str]], sources: list[tuple[int, str] | None] | None = None
    ) -> np.ndarray:
        """Cluster labels for rows of ``matrix`` (unit vectors) with their word sets and (document, units) sources."""
        n = matrix.shape[0]
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        if n == 1:
            return np.zeros(1, dtype=np.int64)
        if n > EXACT_LIMIT:
            return self._cluster_online(matrix)
        from sklearn.cluster import AgglomerativeClustering

        sim = matrix @ matrix.T + self.keyword_weight * _jaccard_matrix(words)
        if sources is not None and self.same_source_penalty:
            codes = {src: i for i, src in enumerate(dict.fromkeys(s for s in sources if s is not None))}
            key = np.array([codes[s] if s is not None else -1 - i for i, s in enumerate(sources)])
            sim -= self.same_source_penalty * (key[:, None] == key[None, :])
        dist = np.clip(1.0 + self.keyword_weight - sim, 0.0, None)
        np.fill_diagonal(dist, 0.0)
        model = AgglomerativeClustering(
            n_clusters=None,
            metric="precomputed",
            linkage=self.linkage,
            distance_threshold=1.0 + self.keyword_weight - self.threshold,
        )
        return model.fit_predict(dist.astype(np.float64))

    def _cluster_online(self, matrix: np.ndarray) -> np.ndarray:
        """One pass: each row joins the most similar centroid above threshold or starts a cluster."""
        labels = np.empty(matrix.shape[0], dtype=np.int64)
        sums = np.zeros((0, matrix.shape[1]), dtype=np.float32)
        for i, vec in enumerate(matrix):
            if len(sums):
                cents = sums / np.linalg.norm(sums, axis=1, keepdims=True)
                sims = cents @ vec
                j = int(np.argmax(sims))
                if sims[j] >= self.threshold:
                    sums[j] += vec
                    labels[i] = j
                    continue
            sums = np.vstack([sums, vec[None, :]])
            labels[i] = len(sums) - 1
        return labels

    # -- labels -------------------------------------------------------------------------------

    def _relabel(self, conn: sqlite3.Connection, group_ids: list[int]) -> None:
        total = conn.execute("SELECT COUNT(*) FROM practice_words").fetchone()[0] or 1
        for gid in group_ids:
            rows = conn.execute(
                "SELECT p.id, p.name, w.body, p.keywords_json, p.orgs_json FROM practices p "
                "LEFT JOIN practice_words w ON w.rowid = p.id WHERE p.group_id = ?",
                (gid,),
            ).fetchall()
            tags = [
                r[0]
                for r in conn.execute(
                    "SELECT t.tag FROM practice_tags t JOIN practices p ON p.id = t.practice_id "
                    "WHERE p.group_id = ? AND t.removed = 0",
                    (gid,),
                )
            ]
            orgs = {o for r in rows for o in _json_list(r[4])}
            label = group_label(
                [r[1] for r in rows],
                [set((r[2] or "").split()) for r in rows],
                lambda terms: _doc_freq(conn, terms),
                total,
                tags=tags,
                keywords=[_json_list(r[3]) for r in rows],
                orgs=orgs,
            )
            conn.execute("UPDATE practice_groups SET label = ? WHERE id = ?", (label, gid))

    # -- reading ------------------------------------------------------------------------------

    def list_groups(self, conn: sqlite3.Connection, limit: int = 50, offset: int = 0) -> list[dict]:
        """Groups with more than one member first (largest first), then singletons."""
        rows = conn.execute(
            "SELECT id, label, size FROM practice_groups ORDER BY (size > 1) DESC, size DESC, id ASC LIMIT ? OFFSET ?",
            (limit, offset),
        ).fetchall()
        return [_describe(conn, r[0], r[1], r[2]) for r in rows]

    def get_group(self, conn: sqlite3.Connection, group_id: int) -> dict | None:
        """One group's description and its practice ids (newest documents first)."""
        row = conn.execute("SELECT id, label, size FROM practice_groups WHERE id = ?", (group_id,)).fetchone()
        if row is None:
            return None
        out = _describe(conn, row[0], row[1], row[2])
        out["practice_ids"] = [
            r[0]
            for r in conn.execute(
                "SELECT p.id FROM practices p JOIN documents d ON d.id = p.document_id WHERE p.group_id = ? "
                "ORDER BY d.year DESC, p.document_id, p.ordinal",
                (group_id,),
            )
        ]
        return out


def group_label(
    names: list[str | None],
    word_sets: list[set[str]],
    doc_freq,
    total: int,
    max_words: int = 2,
    tags: list[str] | None = None,
    keywords: list[list[str]] | None = None,
    orgs: set[str] | None = None,
) -> str:
    """A short Chinese label, the first that fits: the name most members share, the finer topic tag
    most members carry (学习制度), the keyword most members share, else their most telling shared words.
    Unit names never label a group: a group is a kind of practice, across units. A shared name or
    keyword labels the group only when at least a quarter of its members carry it: two of a hundred
    sentences quoting “十二五” do not make the other ninety-eight about it."""
    size = len(names)

    def describes(count: int) -> bool:
        return count >= 2 and count * LABEL_SHARE >= size

    named = Counter(n for n in names if n)
    if named:
        name, count = named.most_common(1)[0]
        if describes(count) or size == 1:
            return name
    if tags:
        tag, count = Counter(tags).most_common(1)[0]
        if count * 2 >= size:
            return tag
    orgs = orgs or set()

    def usable(w: str) -> bool:
        return _labelable(w) and not any(w in o or o in w for o in orgs) and len(w) <= 8 and is_concept(w)

    if keywords and size > 1:
        kw = Counter(k for ks in keywords for k in set(ks) if usable(k))
        if kw:
            word, count = kw.most_common(1)[0]
            if describes(count):
                return word
    counts: Counter[str] = Counter()
    for ws in word_sets:
        counts.update(w for w in ws if usable(w))
    if not counts:
        return next((n for n in names if n), Counter(tags).most_common(1)[0][0] if tags else "未命名做法")
    need = 2 if size > 1 else 1
    shared = [w for w, c in counts.items() if c >= need] or list(counts)
    # Prefer whole words over the pieces search-mode segmentation also emits.
    shared = [w for w in shared if not any(w != o and w in o for o in shared)]
    df = doc_freq(shared)
    scored = sorted(shared, key=lambda w: (-(counts[w] * math.log(1 + total / (1 + df.get(w, 0)))), w))
    # a further word joins the label only when it goes with the first in the same members (网格 + 党支部),
    # never two unrelated words (人才 + 孩子) each common in a different part of a broad group
    label = scored[:1]
    for w in scored[1:max_words]:
        if describes(sum(1 for ws in word_sets if w in ws and all(x in ws for x in label))):
            label.append(w)
    return "".join(label)


def _json_list(value: str | None) -> list[str]:
    try:
        data = json.loads(value or "[]")
    except ValueError:
        return []
    return [str(x) for x in data] if isinstance(data, list) else []


@lru_cache(maxsize=1)
def _known_concepts() -> tuple[frozenset[str], frozenset[str]]:
    """The domain's concept words: the dictionary's fixed terms and the taxonomy's tags, then the words
    that point to a topic (the taxonomy's cues, the synonym table), which include verbs (化解, 代办)."""
    from service.library.synonyms import SynonymTable
    from service.mining import resources

    terms = set(resources.domain_terms())
    cues: set[str] = set(SynonymTable.load().terms())
    for topic in resources.taxonomy()["topics"]:
        cues.update(topic.get("cues", []))
        cues.update(topic.get("heading_cues", []))
        for tag in topic.get("tags", []):
            terms.add(tag["tag"])
            cues.update(tag["cues"])
    return frozenset(terms), frozenset(cues - terms)


@lru_cache(maxsize=4096)
def is_concept(word: str) -> bool:
    """Whether ``word`` can name a kind of practice: a concept of the domain, or a longer common noun
    (老年食堂); never a place, a person, a body, a time, an action or a fragment (提高中西部, 腹地, 化解)."""
    from service.mining import resources

    terms, cues = _known_concepts()
    if word in terms:
        return True
    _, pos = resources.tokenizers()
    tokens = list(pos.cut(word))
    if word in cues:
        return not (len(tokens) == 1 and tokens[0].flag == "v")
    if len(word) < 3 or word.endswith(NOT_CONCEPT_ENDINGS):
        return False
    return len(tokens) == 1 and tokens[0].flag.startswith(("n", "vn")) and not tokens[0].flag.startswith(NOT_CONCEPT_FLAGS)


def _labelable(word: str) -> bool:
    return len(word) >= 2 and word not in LABEL_STOPWORDS and not any(ch.isdigit() for ch in word) and "x" not in word


def _doc_freq(conn: sqlite3.Connection, terms: list[str]) -> dict[str, int]:
    if not terms:
        return {}
    rows = conn.execute(
        "SELECT term, doc FROM practice_words_vocab WHERE term IN (SELECT value FROM json_each(?))",
        (json.dumps(terms, ensure_ascii=False),),
    )
    return {r[0]: int(r[1]) for r in rows}


def _describe(conn: sqlite3.Connection, gid: int, label: str, size: int) -> dict:
    orgs = [
        r[0]
        for r in conn.execute(
            "SELECT o.org, COUNT(*) AS n FROM practice_orgs o JOIN practices p ON p.id = o.practice_id "
            "WHERE p.group_id = ? GROUP BY o.org ORDER BY n DESC, o.org LIMIT 20",
            (gid,),
        )
    ]
    years = [
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT d.year FROM practices p JOIN documents d ON d.id = p.document_id "
            "WHERE p.group_id = ? AND d.year IS NOT NULL ORDER BY d.year",
            (gid,),
        )
    ]
    topics = [
        r[0]
        for r in conn.execute(
            "SELECT topic, COUNT(*) AS n FROM practices WHERE group_id = ? GROUP BY topic ORDER BY n DESC, topic",
            (gid,),
        )
    ]
    return {"id": gid, "label": label, "size": size, "orgs": orgs, "years": years, "topics": topics}


def _load_groups(conn: sqlite3.Connection) -> tuple[list[int], list[np.ndarray | None], list[int]]:
    ids, sums, sizes = [], [], []
    for gid, size, blob in conn.execute("SELECT id, size, vector_sum FROM practice_groups ORDER BY id"):
        ids.append(gid)
        sizes.append(size)
        sums.append(np.frombuffer(blob, dtype=np.float32).copy() if blob else None)
    return ids, sums, sizes


def _new_group(conn: sqlite3.Connection) -> int:
    return int(conn.execute("INSERT INTO practice_groups(label, size) VALUES ('', 0)").lastrowid)


def _save_group(conn: sqlite3.Connection, gid: int, size: int, vector_sum: np.ndarray | None) -> None:
    conn.execute(
        "UPDATE practice_groups SET size = ?, vector_sum = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') "
        "WHERE id = ?",
        (size, None if vector_sum is None else np.asarray(vector_sum, dtype=np.float32).tobytes(), gid),
    )


def _vectors(conn: sqlite3.Connection, ids: list[int]) -> dict[int, np.ndarray]:
    if not ids:
        return {}
    rows = conn.execute(
        "SELECT practice_id, vector FROM practice_vectors WHERE practice_id IN (SELECT value FROM json_each(?))",
        (json.dumps(ids),),
    )
    return {r[0]: np.frombuffer(r[1], dtype=np.float32) for r in rows}


def _sources(conn: sqlite3.Connection, ids: list[int]) -> dict[int, tuple[int, str]]:
    """Each practice's (document, sorted units): what makes two practices one unit's own measures."""
    if not ids:
        return {}
    rows = conn.execute(
        "SELECT id, document_id, orgs_json FROM practices WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps(ids),),
    )
    return {r[0]: (r[1], json.dumps(sorted(json.loads(r[2] or "[]")), ensure_ascii=False)) for r in rows}


def _words(conn: sqlite3.Connection, ids: list[int]) -> dict[int, set[str]]:
    if not ids:
        return {}
    rows = conn.execute(
        "SELECT rowid, body FROM practice_words WHERE rowid IN (SELECT value FROM json_each(?))", (json.dumps(ids),)
    )
    return {r[0]: set((r[1] or "").split()) for r in rows}


def _jaccard(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def _jaccard_matrix(words: list[set[str]]) -> np.ndarray:
    """Pairwise Jaccard similarity of word sets, via a sparse binary term matrix."""
    from scipy.sparse import csr_matrix

    vocab: dict[str, int] = {}
    rows, cols = [], []
    for i, ws in enumerate(words):
        for w in ws:
            rows.append(i)
            cols.append(vocab.setdefault(w, len(vocab)))
    n = len(words)
    if not vocab:
        return np.zeros((n, n), dtype=np.float32)
    x = csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, len(vocab)))
    inter = (x @ x.T).toarray()
    sizes = np.asarray(x.sum(axis=1)).ravel()
    union = sizes[:, None] + sizes[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0).astype(np.float32)


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """Join the caller's transaction, or open one when called on its own (CLI rebuild)."""
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
