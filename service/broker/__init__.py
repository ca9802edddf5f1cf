"""Scaled deployment: Celery on Redis runs ingestion and digests when ``JINGYAN_BROKER_URL`` is set.

``app`` builds the Celery application and sends jobs to it, ``tasks`` is what a worker runs (the
same functions the in-process worker and scheduler call), ``commands`` adds ``jingyan worker``
and ``jingyan beat``.
"""
