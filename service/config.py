"""Settings from environment variables (prefix ``JINGYAN_``) with embedded defaults."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


DEFAULT_SECRET_KEY = "jingyan-dev-secret"


class StartRefused(RuntimeError):
    """A setting makes start-up impossible (a database or broker that cannot be used); the message says which."""


def _env(name: str, default: str) -> str:
    return os.environ.get(f"JINGYAN_{name}", default)


@dataclass
class Settings:
    """Every tunable the service reads; construct directly in tests, ``Settings.from_env()`` otherwise."""

    data_dir: Path = Path("data")
    database_url: str = ""  # empty: SQLite file inside data_dir
    # A Redis URL turns on Celery: `jingyan worker` processes ingest and `jingyan beat` schedules digests.
    broker_url: str = ""
    model_dir: Path = REPO_ROOT / "models" / "build" / "e5-small"
    # Which encoder embeds practices and queries: "onnx" (int8 ONNX Runtime, no torch in the process)
    # or "torch" (the fp32 sentence-transformers folder, kept for comparison and re-checks).
    encoder: str = "onnx"
    onnx_model_dir: Path = REPO_ROOT / "models" / "build" / "e5-small-onnx"
    # Intake limits: a file beyond them is refused with a clear reason.
    max_file_mb: float = 100.0
    max_pages: int = 2000
    parse_timeout_s: float = 120.0
    parse_memory_mb: int = 768  # address space a parse may add; beyond it the file is reported as too big
    max_unzipped_mb: float = 200.0
    max_text_chars: int = 2_000_000
    # Service
    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str = "http://127.0.0.1:8000"
    load_sample_corpus: bool = True
    # A folder watched for submissions (see service/library/inbox.py); None: no watched folder.
    inbox_dir: Path | None = None
    secret_key: str = DEFAULT_SECRET_KEY
    # Ingestion: the worker runs in its own process under ``jingyan serve`` (a thread of the web
    # process otherwise, as in tests); files up to small_job_bytes also have a lane of their own.
    worker_process: bool = False
    small_job_bytes: int = 512 * 1024
    # Threads serving requests (each keeps its own SQLite connection and page cache).
    request_threads: int = 8
    # Mail
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = "jingyan@localhost"
    smtp_starttls: bool = False
    # Digests: the zone send_at times are read in, and whether the in-process scheduler runs.
    digest_timezone: str = "Asia/Shanghai"
    digest_scheduler: bool = True
    digest_tick_s: float = 60.0  # how often the scheduler (or Celery beat) looks for due digests
    # Webhooks may reach loopback, private and link-local addresses only when this is set (intranet receivers).
    webhook_allow_private: bool = False

    @classmethod
    def from_env(cls) -> Settings:
        """Read ``JINGYAN_*`` variables over the defaults."""
        d = cls()
        return cls(
            data_dir=Path(_env("DATA_DIR", str(d.data_dir))),
            database_url=_env("DATABASE_URL", d.database_url),
            broker_url=_env("BROKER_URL", d.broker_url),
            model_dir=Path(_env("MODEL_DIR", str(d.model_dir))),
            encoder=_env("ENCODER", d.encoder),
            onnx_model_dir=Path(_env("ONNX_MODEL_DIR", str(d.onnx_model_dir))),
            max_file_mb=float(_env("MAX_FILE_MB", str(d.max_file_mb))),
            max_pages=int(_env("MAX_PAGES", str(d.max_pages))),
            parse_timeout_s=float(_env("PARSE_TIMEOUT_S", str(d.parse_timeout_s))),
            parse_memory_mb=int(_env("PARSE_MEMORY_MB", str(d.parse_memory_mb))),
            max_unzipped_mb=float(_env("MAX_UNZIPPED_MB", str(d.max_unzipped_mb))),
            max_text_chars=int(_env("MAX_TEXT_CHARS", str(d.max_text_chars))),
            host=_env("HOST", d.host),
            port=int(_env("PORT", str(d.port))),
            base_url=_env("BASE_URL", d.base_url),
            load_sample_corpus=_env("SAMPLE_CORPUS", "1") not in ("0", "false", "no"),
            inbox_dir=Path(_env("INBOX_DIR", "")) if _env("INBOX_DIR", "") else None,
            secret_key=_env("SECRET_KEY", d.secret_key),
            worker_process=_env("WORKER_PROCESS", "0") in ("1", "true", "yes"),
            small_job_bytes=int(_env("SMALL_JOB_BYTES", str(d.small_job_bytes))),
            request_threads=int(_env("REQUEST_THREADS", str(d.request_threads))),
            smtp_host=_env("SMTP_HOST", d.smtp_host),
            smtp_port=int(_env("SMTP_PORT", str(d.smtp_port))),
            smtp_user=_env("SMTP_USER", d.smtp_user),
            smtp_password=_env("SMTP_PASSWORD", d.smtp_password),
            smtp_from=_env("SMTP_FROM", d.smtp_from),
            smtp_starttls=_env("SMTP_STARTTLS", "0") in ("1", "true", "yes"),
            digest_timezone=_env("DIGEST_TIMEZONE", d.digest_timezone),
            digest_scheduler=_env("DIGEST_SCHEDULER", "1") not in ("0", "false", "no", "off"),
            digest_tick_s=float(_env("DIGEST_TICK_S", str(d.digest_tick_s))),
            webhook_allow_private=_env("WEBHOOK_ALLOW_PRIVATE", "0") in ("1", "true", "yes"),
        )

    def to_json(self) -> str:
        """Every setting as JSON, to hand to a child process."""
        return json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()})

    @classmethod
    def from_json(cls, text: str) -> Settings:
        values = json.loads(text)
        paths = {f.name for f in fields(cls) if f.type in ("Path", Path)}
        return cls(**{k: Path(v) if k in paths else v for k, v in values.items()})
