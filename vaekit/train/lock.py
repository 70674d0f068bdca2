"""One writer per run folder: a lock held for the life of a training.

The lock is `flock` on the file `.vaekit-lock` in the run folder, with the holder's process id
written into it. The kernel releases an `flock` when its process ends, however it ends, so a
SIGKILLed training never leaves a run locked: its lock file stays behind, and the next writer
takes it over and says so (a warning naming the process). A clean exit removes the file.

A second writer (`train --out RUN` or `--resume` while RUN is being trained, two trainings started
at the same moment) gets `VaekitError` naming the process that holds the run. Readers (`eval`,
`sample`, `report`, `explore`) take no lock: every checkpoint file is written whole and renamed
into place (`vaekit.io`), so a reader always loads a complete one.

Within one process the lock is re-entrant: the CLI holds it from its first check to its last
picture, and the `Trainer` it drives takes it again without blocking itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
import warnings
from pathlib import Path

from vaekit.errors import VaekitError, VaekitWarning

LOCK = ".vaekit-lock"

# Locks this process holds: resolved run folder -> [file descriptor, depth, folders it created].
_HELD: dict[Path, list] = {}


def acquire(run_dir: Path, create: bool = True) -> None:
    """Takes the run's lock (making the folder if need be), or raises `VaekitError` naming its holder.
    With create=False a folder that is not there is left so, unlocked (the caller's own check says why)."""
    key = Path(run_dir).absolute()
    if key in _HELD:
        _HELD[key][1] += 1
        return
    if not create and not key.is_dir():
        return
    if key.exists() and not key.is_dir():
        raise VaekitError(f"{run_dir} is a file, not a run folder")
    made = [p for p in (key, *key.parents) if not p.exists()]
    key.mkdir(parents=True, exist_ok=True)
    try:
        fd = _lock_file(key / LOCK, Path(run_dir))
    except BaseException:
        _remove_empty(made)
        raise
    _HELD[key] = [fd, 1, made]


def release(run_dir: Path) -> None:
    """Gives back one `acquire`; the last one removes the lock file, and the folders `acquire`
    made if they are still empty (a refused command leaves nothing behind)."""
    key = Path(run_dir).absolute()
    if key not in _HELD:
        return
    _HELD[key][1] -= 1
    if _HELD[key][1]:
        return
    fd, _, made = _HELD.pop(key)
    try:
        (key / LOCK).unlink(missing_ok=True)  # while still held: no one can be taking it meanwhile
    finally:
        os.close(fd)
    _remove_empty(made)


@contextlib.contextmanager
def holding(run_dir: Path, create: bool = True):
    """`acquire` ... `release` as a `with` block."""
    acquire(run_dir, create)
    try:
        yield
    finally:
        release(run_dir)


def holder(run_dir: Path) -> int | None:
    """The process id training `run_dir` now, or None when no other process holds it. Changes nothing."""
    key = Path(run_dir).absolute()
    if key in _HELD:
        return None
    try:
        fd = os.open(key / LOCK, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read_pid(fd) or -1
    finally:
        os.close(fd)  # also drops the shared lock, if it was granted
    return None


def refuse_if_held(run_dir: Path) -> None:
    """Raises `VaekitError` when another process is training `run_dir` (an early check, before slow work)."""
    pid = holder(run_dir)
    if pid is not None:
        raise VaekitError(_busy(Path(run_dir), pid))


def _lock_file(path: Path, run_dir: Path) -> int:
    """An open descriptor of `path` holding its exclusive lock, with this process's id in it."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise VaekitError(_busy(run_dir, pid or -1)) from None
        except BaseException:
            os.close(fd)
            raise
        try:
            if _claim(fd, path, run_dir):
                return fd
        except BaseException:  # never leave a descriptor open behind an error
            os.close(fd)
            raise
        os.close(fd)


def _claim(fd: int, path: Path, run_dir: Path) -> bool:
    """Writes this process's id into the locked `fd`; False when `path` is no longer its file."""
    # The holder before us may have removed the file between our open and our flock: then we
    # hold a lock on a file no one else will open, and must lock the one at `path` instead.
    try:
        if os.stat(path).st_ino != os.fstat(fd).st_ino:
            return False
    except FileNotFoundError:
        return False
    stale = _read_pid(fd)
    if stale and stale != os.getpid():
        warnings.warn(
            f"{run_dir} was locked by process {stale}, which ended without releasing it (killed?): taking the run over",
            VaekitWarning,
            stacklevel=5,
        )
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except OSError:  # a full disk: the lock holds all the same, only its holder goes unnamed
        pass
    return True


def _read_pid(fd: int) -> int | None:
    """The process id in a lock file; a holder that has only just taken it gets a moment to write it."""
    for _ in range(50):
        text = os.pread(fd, 32, 0).decode(errors="replace").strip()
        if text.isdigit():
            return int(text)
        time.sleep(0.01)
    return None


def _busy(run_dir: Path, pid: int) -> str:
    who = f"process {pid}" if pid > 0 else "another process"
    return (
        f"{run_dir} is being trained by {who}: one writer per run; wait for it to end (or stop it), "
        f"then continue with --resume, or choose another --out"
    )


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:  # innermost first
        try:
            folder.rmdir()
        except OSError:
            return
