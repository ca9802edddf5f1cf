"""Speed benchmarks that print figures (``python -m bench.intake``)."""
