"""Limits for hostile input: size checks, capped zip reads, and a killable child process.

Every reader runs behind these guards so that a bomb, a loop or a crash in a C library becomes
an :class:`IntakeError` with a stable code instead of a hung or dead service.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import resource
import signal
import sys
import threading
import time
import zipfile
from collections.abc import Callable
from typing import Any

from service.config import Settings
from service.intake.errors import IntakeError

MB = 1024 * 1024
# Called with (steps done, steps to do) by a long parse, such as page recognition.
Progress = Callable[[int, int], None]
# Address space a parse may add on top of what the parent already maps; a bomb hits this wall.
CHILD_EXTRA_ADDRESS_SPACE = 768 * MB
_CHUNK = 1 * MB
# mallopt parameter numbers in glibc's malloc.h
_M_ARENA_MAX = -8
_M_MMAP_THRESHOLD = -3


def check_file_size(data: bytes, settings: Settings) -> None:
    """Refuse empty files and files above ``settings.max_file_mb``."""
    if not data.strip():
        raise IntakeError("empty", "文件是空的，请检查后重新上传", f"{len(data)} bytes, no content")
    if len(data) > settings.max_file_mb * MB:
        raise IntakeError(
            "too_large",
            f"文件超过 {settings.max_file_mb:g} MB 的上限，请拆分或压缩图片后再上传",
            f"{len(data) / MB:.1f} MB > max_file_mb={settings.max_file_mb:g}",
        )


def check_text_length(chars: int, settings: Settings) -> None:
    """Refuse documents whose text is beyond ``settings.max_text_chars``."""
    if chars > settings.max_text_chars:
        raise IntakeError(
            "too_long",
            f"文档文字超过 {settings.max_text_chars} 字的上限，请拆分后再上传",
            f"{chars} characters > max_text_chars={settings.max_text_chars}",
        )


def _zip_bomb(detail: str) -> IntakeError:
    return IntakeError("zip_bomb", "文件解压后体积异常巨大（疑似压缩炸弹），已拒绝；请用 Word 重新保存后上传", detail)


def check_zip_declared(zf: zipfile.ZipFile, settings: Settings) -> None:
    """Refuse a zip whose declared uncompressed total exceeds ``settings.max_unzipped_mb``."""
    total = sum(info.file_size for info in zf.infolist())
    if total > settings.max_unzipped_mb * MB:
        raise _zip_bomb(f"declared uncompressed size {total / MB:.0f} MB > max_unzipped_mb={settings.max_unzipped_mb:g}")


def read_zip_member(zf: zipfile.ZipFile, name: str, settings: Settings) -> bytes:
    """Read one member, decompressing in chunks and stopping at the unzipped-size cap.

    Declared sizes can lie, so the cap is enforced on the bytes actually produced.
    """
    cap = int(settings.max_unzipped_mb * MB)
    parts: list[bytes] = []
    produced = 0
    try:
        with zf.open(name) as member:
            while chunk := member.read(_CHUNK):
                produced += len(chunk)
                if produced > cap:
                    raise _zip_bomb(f"{name} inflates beyond max_unzipped_mb={settings.max_unzipped_mb:g}")
                parts.append(chunk)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
        raise IntakeError("corrupt", "文件已损坏，无法打开；请用 Word 重新保存后上传", f"{name}: {exc}") from exc
    return b"".join(parts)


def _address_space_now() -> int:
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


TOO_BIG = "文件过大：解析所需内存超出上限，已停止；请拆分文件（或删去大图片、长表格）后再上传"


PR_SET_PDEATHSIG = 1


def _die_with_parent(parent_pid: int) -> None:
    """End this parse child as soon as the service that asked for it is gone (even by ``kill -9``).

    The child's own parent is the parser server, which ends when the service does; the kernel's
    parent-death signal ends the child with it. A watchdog thread polling the service's process
    covers the moment before the signal is set and systems without it.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if not _alive(parent_pid) or os.getppid() == 1:
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if not _alive(parent_pid) or os.getppid() == 1:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _child(
    conn: Any,
    func: Callable[..., Any],
    args: tuple[Any, ...],
    extra_address_space: int,
    parent_pid: int,
    with_progress: bool,
) -> None:
    _die_with_parent(parent_pid)
    # Library chatter (pdfium, fontTools …) must not reach the clerk's terminal.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    _tame_malloc()
    try:
        limit = _address_space_now() + extra_address_space
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (OSError, ValueError):
        pass  # no limit support on this platform: the time limit still applies
    if with_progress:
        args = (*args, lambda done, total: conn.send(("progress", done, total)))
    try:
        conn.send(("ok", func(*args)))
    except IntakeError as exc:
        conn.send(("error", exc.code, exc.message, exc.detail))
    except MemoryError:
        conn.send(("error", "memory", TOO_BIG, "MemoryError in parser"))
    except Exception as exc:  # noqa: BLE001 - any library failure becomes one clear line
        conn.send(("error", "corrupt", "文件已损坏或格式异常，无法解析；请另存为 .docx 或 PDF 后再上传",
                   f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def _tame_malloc() -> None:
    """Keep glibc's allocator from spending the memory cap on address space it never uses.

    Two malloc arenas instead of eight per core (each reserves 64 MB up front), and a fixed 1 MB
    threshold above which blocks are mapped and unmapped on their own: with the default sliding
    threshold, the large buffers of page recognition end up in the heap and it only ever grows.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return  # not glibc: its allocator reserves differently
    libc.mallopt(_M_ARENA_MAX, 2)
    libc.mallopt(_M_MMAP_THRESHOLD, 1 * MB)


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        # SIGABRT/SIGSEGV here usually means the parser ran into the memory cap.
        return f"parser process killed by {signal.Signals(-code).name} (memory cap {CHILD_EXTRA_ADDRESS_SPACE // MB} MB)"
    return f"parser process ended with exit code {code}"


# Parser children are forked from a small server process that has imported only the readers, never
# from the service: a fork of the service would carry the loaded encoder and vectors into every
# child (and a fork of a process running ONNX Runtime or torch threads is unsafe).
START_METHOD = "forkserver"
# Each child re-runs the main module as ``__mp_main__`` (multiprocessing's rule); the CLI's imports
# are light apart from the intake modules preloaded here, so re-running it costs little.
PRELOAD = [
    "service.intake.pipeline",
    "service.intake.readers.pdf",
    "service.intake.readers.docx",
    "service.intake.readers.text",
    # page recognition's libraries (some 500 MB of address space) are mapped once, in the server:
    # each child's memory cap is then spent on recognising pages only
    "service.intake.readers.ocr",
    "rapidocr_onnxruntime",
]


def _context() -> multiprocessing.context.BaseContext:
    if not _main_is_safe_to_rerun():
        # An ad-hoc script (or code piped to ``python -``) may not guard its top level: fork as before.
        return multiprocessing.get_context("fork")
    ctx = multiprocessing.get_context(START_METHOD)
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def _main_is_safe_to_rerun() -> bool:
    """True for ``python -m module``, ``python -c`` and installed entry points (``jingyan``, ``pytest``),
    whose top level a child may re-run; false for other script files, which may not guard it."""
    main = sys.modules.get("__main__")
    if getattr(getattr(main, "__spec__", None), "name", None):
        return True
    path = getattr(main, "__file__", None)
    if path is None:
        return True
    # folders compared as resolved: a virtualenv reached through a symlink holds the same scripts
    scripts = os.path.realpath(os.path.dirname(sys.executable))
    return os.path.isfile(path) and os.path.realpath(os.path.dirname(os.path.abspath(path))) == scripts


def can_fork() -> bool:
    """True where a child process may be started (not inside a daemonic worker)."""
    return START_METHOD in multiprocessing.get_all_start_methods() and not multiprocessing.current_process().daemon


def start_parser_server() -> None:
    """Start the process parser children are forked from now, so the first upload does not wait for it."""
    if can_fork():
        from multiprocessing import forkserver

        _context()
        forkserver.ensure_running()


def run_isolated(
    func: Callable[..., Any],
    args: tuple[Any, ...],
    timeout_s: float,
    extra_address_space: int = CHILD_EXTRA_ADDRESS_SPACE,
    progress: Progress | None = None,
) -> Any:
    """Run ``func(*args)`` in a child forked from the parser server, with a memory cap; kill it at ``timeout_s``.

    ``func`` must be importable by name (a module-level function). With ``progress``, ``func`` gets
    one more argument, a callable ``(done, total)``; each call reaches ``progress`` here and restarts
    the clock, so ``timeout_s`` bounds the time between two steps (one recognised page, say) rather
    than the whole of a long scan. The result travels back by pickle; failures come back as
    :class:`IntakeError`.
    """
    ctx = _context()
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(
        target=_child, args=(sender, func, args, extra_address_space, os.getpid(), progress is not None), daemon=True
    )
    proc.start()
    sender.close()
    try:
        while True:
            if not receiver.poll(timeout_s):
                raise IntakeError(
                    "timeout",
                    f"解析超过 {timeout_s:g} 秒仍未完成，已停止；文件可能异常，请另存后重新上传",
                    f"parse_timeout_s={timeout_s:g} exceeded",
                )
            try:
                reply = receiver.recv()
            except (EOFError, OSError) as exc:
                proc.join(5)
                raise IntakeError(
                    "crashed",
                    "解析程序在读取此文件时异常退出：文件可能过大或已损坏；请拆分或另存后重新上传",
                    _exit_reason(proc.exitcode),
                ) from exc
            if reply[0] != "progress":
                break
            if progress is not None:
                progress(reply[1], reply[2])
    finally:
        receiver.close()
        if proc.is_alive():
            proc.kill()
        proc.join()
    if reply[0] == "ok":
        return reply[1]
    raise IntakeError(reply[1], reply[2], reply[3])
