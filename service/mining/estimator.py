"""Saving and loading the mining stage's fitted estimators whole."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Self, TypeVar

log = logging.getLogger(__name__)
E = TypeVar("E", bound="SavedEstimator")


class SavedEstimator:
    """``save`` / ``load`` with joblib for an estimator whose fitted state lives in its attributes."""

    def save(self, path: Path) -> None:
        """Persist the whole estimator with joblib."""
        import joblib

        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(self, path)

    @classmethod
    def load(cls, path: Path) -> Self:
        """Load an estimator saved by :meth:`save`; anything else in the file is refused."""
        import joblib

        obj = joblib.load(path)
        if not isinstance(obj, cls):
            raise TypeError(f"{path} holds {type(obj).__name__}, not {cls.__name__}")
        return obj


def load_or_train(
    cls: type[E], path: Path, train: Callable[[Path], E], retrain_on: tuple[type[Exception], ...]
) -> E:
    """The estimator saved at ``path``; trained into ``path`` (with a warning) when loading raises one of
    ``retrain_on``, any other failure propagates."""
    try:
        return cls.load(path)
    except retrain_on as exc:
        log.warning("%s could not be loaded (%s): training %s from corpus/", path, exc, cls.__name__)
        return train(path)
