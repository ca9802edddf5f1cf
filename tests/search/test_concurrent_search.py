"""Clerks keep searching while documents are indexed and removed: no error, and every answer is whole."""

from __future__ import annotations

import threading
import time

import numpy as np

from service.library.db import connect
from service.library.search import SearchFilters
from service.library.store import transaction
from tests.search.conftest import LIBRARY_FILES, document_id

QUERIES = ("学习制度", "工地上建党组织", "机关干部下沉社区", "老同志发挥余热", "党支部")


def test_searches_during_indexing_never_fail_and_never_mix_snapshots(library, index, built_library):
    path = library.execute("PRAGMA database_list").fetchone()[2]
    doc_of = {it.id: it.document_id for items in built_library.items.values() for it in items}
    topic = library.execute("SELECT topic FROM practices GROUP BY topic ORDER BY COUNT(*) DESC").fetchone()[0]
    moving = [name for name in LIBRARY_FILES[1:]]
    stop = threading.Event()
    errors: list[BaseException] = []
    searches = [0]
    snapshots: set[str] = set()

    def check(vm) -> None:
        assert len(vm.ids) == len(vm.doc_ids) == vm.matrix.shape[0]
        assert len(set(vm.ids.tolist())) == len(vm.ids)
        for i in range(0, len(vm.ids), 7):
            pid = int(vm.ids[i])
            assert int(vm.doc_ids[i]) == doc_of[pid]
            assert np.array_equal(vm.matrix[i], built_library.vectors[pid])

    def reader(k: int) -> None:
        conn = connect(path)
        try:
            n = 0
            while not stop.is_set():
                q = QUERIES[n % len(QUERIES)]
                filters = SearchFilters(topic=topic) if n % 3 == 0 else SearchFilters()
                index.search(conn, q, filters, limit=10)
                vm = index.vectors.matrix(conn)
                check(vm)
                snapshots.add(vm.generation)
                n += 1
                searches[0] += 1
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            stop.set()
        finally:
            conn.close()

    def writer() -> None:
        conn = connect(path)
        try:
            rounds = 0
            while not stop.is_set():
                name = moving[rounds % len(moving)]
                items = built_library.items[name]
                vectors = np.stack([built_library.vectors[it.id] for it in items])
                doc = document_id(conn, name)
                with transaction(conn):
                    index.remove_document(conn, doc)
                with transaction(conn):
                    index.add(conn, items, vectors)
                rounds += 1
        except BaseException as exc:
            errors.append(exc)
            stop.set()
        finally:
            conn.close()

    index.search(library, QUERIES[0])  # model warm before the clock starts
    threads = [threading.Thread(target=reader, args=(k,)) for k in range(4)] + [threading.Thread(target=writer)]
    for t in threads:
        t.start()
    time.sleep(6)
    stop.set()
    for t in threads:
        t.join(30)
    assert not errors, repr(errors[0])
    assert searches[0] > 50
    assert len(snapshots) > 5  # the readers really saw the index change under them
    # Afterwards every document is whole again and found.
    final = index.vectors.matrix(library)
    assert sorted(final.ids.tolist()) == sorted(doc_of)
