"""Subscriptions and automatic digests of newly added practices.

``subscriptions`` (who follows which topics, tags, units or saved search, daily or weekly, by
e-mail or webhook) → ``select`` (what is new since the last delivered digest) → ``render`` (HTML,
plain text, webhook JSON, the .docx 汇编) → ``deliver`` (SMTP, HTTP POST); ``runner`` records each
digest and delivers it exactly once, ``scheduler`` ticks in-process, ``tokens`` signs unsubscribe
links. Try it: ``jingyan digest run --dry-run``; HTTP: ``/api/subscriptions``, ``/api/digests``.
"""
