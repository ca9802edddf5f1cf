"""Saving and loading the mining stage's fitted estimators whole."""

from __future__ import annotations

from pathlib import Path
from typing import Self


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
