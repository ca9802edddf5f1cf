"""One unit's several measures in one report are not "the same kind of practice across units"."""

import numpy as np

from service.library.groups import PracticeGrouper


def _pair(cosine: float) -> np.ndarray:
    a = np.array([1.0, 0.0], dtype=np.float32)
    b = np.array([cosine, np.sqrt(1 - cosine**2)], dtype=np.float32)
    return np.vstack([a, b])


def test_close_practices_of_two_units_group_but_one_units_own_measures_do_not():
    grouper = PracticeGrouper(threshold=0.92)
    matrix, words = _pair(0.94), [set(), set()]
    two_units = [(1, '["市委办公室"]'), (1, '["市人大常委会机关"]')]
    one_unit = [(7, '["丽江市"]'), (7, '["丽江市"]')]
    assert len(set(grouper.cluster(matrix, words, two_units).tolist())) == 1
    assert len(set(grouper.cluster(matrix, words, one_unit).tolist())) == 2
    # Near-identical wording still groups, whoever wrote it.
    assert len(set(grouper.cluster(_pair(0.99), words, one_unit).tolist())) == 1
