"""File helpers every layer may use: atomic writes, and safetensors files with a JSON header.

A leaf module: it imports nothing of vaekit but `vaekit.errors`, so configs, checkpoints, code
priors, pictures and reports all write files the same way without importing one another.

Every file is written atomically (a temporary file in the same folder, flushed, then renamed over
the target), so a process killed at any moment leaves either the old file or the new one, never
half of one. Tensors are stored as safetensors and everything else as JSON: no pickle anywhere.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from vaekit.errors import VaekitError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def user_cache_dir() -> Path:
    """vaekit's folder in the user's cache: $XDG_CACHE_HOME/vaekit, else ~/.cache/vaekit (need not exist)."""
    cache_home = os.environ.get("XDG_CACHE_HOME")
    return (Path(cache_home).expanduser() if cache_home else Path.home() / ".cache") / "vaekit"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Writes `path` whole or not at all; a refused write (a full disk) raises an OSError naming
    `path` (not the temporary file), and the old `path` is left as it was."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise OSError(err.errno, err.strerror, str(path)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise OSError(err.errno, err.strerror, str(path)) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict | None = None) -> None:
    """Tensors to a safetensors file; `metadata` (any JSON-able dict) rides in its header."""
    flat = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    header = {"json": json.dumps(metadata)} if metadata is not None else None
    atomic_write_bytes(path, st_save(flat, metadata=header))


def _what_is_wrong(raw: bytes) -> str:
    """Why bytes that safetensors refused are not a checkpoint: cut short, or something else."""
    header_len = int.from_bytes(raw[:8], "little") if len(raw) >= 8 else 0
    if raw[8:9] == b"{" and 8 + header_len <= len(raw):
        try:
            header = json.loads(raw[8 : 8 + header_len])
            end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
        except (ValueError, KeyError, TypeError, IndexError):
            end = 0
        if 8 + header_len + end > len(raw):
            return (
                f"it is cut short ({len(raw):,} of its {8 + header_len + end:,} bytes): it was damaged or copied "
                f"incompletely"
            )
    elif raw[8:9] == b"{" or (0 < len(raw) < 8):
        return f"it is cut short ({len(raw):,} bytes, inside its header): it was damaged or copied incompletely"
    return "it is not a safetensors file written by vaekit"


def load_tensors(path: Path, device: str | torch.device = "cpu") -> tuple[dict[str, torch.Tensor], dict | None]:
    """The tensors and the JSON metadata of a safetensors file."""
    path, raw = Path(path), b""
    try:
        raw = path.read_bytes()
        tensors = st_load(raw)
        header_len = int.from_bytes(raw[:8], "little")
        meta = json.loads(raw[8 : 8 + header_len]).get("__metadata__") or {}
    except FileNotFoundError:
        raise VaekitError(
            f"checkpoint {path} is missing: the run did not finish an epoch, or the folder is not a vaekit run"
        ) from None
    except (SafetensorError, ValueError, OSError) as err:
        raise VaekitError(f"checkpoint {path} is unreadable ({err}): {_what_is_wrong(raw)}") from None
    metadata = json.loads(meta["json"]) if "json" in meta else None
    return {k: v.to(device) for k, v in tensors.items()}, metadata


def save_weights(path: Path, model: torch.nn.Module) -> None:
    save_tensors(path, model.state_dict())


def load_weights(path: Path, model: torch.nn.Module) -> None:
    tensors, _ = load_tensors(path, next(model.parameters()).device)
    try:
        missing, unexpected = model.load_state_dict(tensors, strict=False)
    except RuntimeError as err:  # a tensor of the wrong shape
        detail = str(err).splitlines()[-1].strip()[:200]
        raise VaekitError(f"checkpoint {path} does not fit its config.json ({detail})") from None
    if missing or unexpected:
        raise VaekitError(
            f"checkpoint {path} does not fit its config.json (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )


# Filesystems that hold the kernel's views, not files: the system refuses new files there.
VIRTUAL_FILESYSTEMS = {"proc", "sysfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "debugfs", "tracefs", "securityfs"}


def filesystem_type(folder: Path) -> str | None:
    """The type of the filesystem `folder` lies on ('ext4', 'proc', ...), from /proc/self/mounts; None elsewhere."""
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return None
    folder, best = Path(os.path.realpath(folder)), (None, -1)
    for line in mounts:
        fields = line.split()
        if len(fields) < 3:
            continue
        point = Path(fields[1].replace("\\040", " "))
        if (folder == point or point in folder.parents) and len(point.parts) > best[1]:
            best = (fields[2], len(point.parts))
    return best[0]


def _refusal(folder: Path, err: OSError) -> str:
    """Why the system refused a new file in `folder`, in words that are true."""
    kind = filesystem_type(folder)
    if kind in VIRTUAL_FILESYSTEMS:
        return f"it lies on the system's {kind} filesystem, which holds no files of yours"
    if err.errno == errno.ENOENT:  # the folder exists, yet 'no such file': not an ordinary folder
        return f"the system makes no new files there ({kind or 'an unusual'} filesystem)"
    return err.strerror or str(err)


def check_writable(path: Path, flag: str, shown: Path | None = None) -> None:
    """Raises `VaekitError` unless files can be made in the folder `path` (existing or not): the
    nearest existing folder above it must take a new file. Leaves nothing behind. The message
    names `flag` and `shown` (default: `path`)."""
    path = Path(path).absolute()
    shown = shown or path
    folder = next((p for p in (path, *path.parents) if p.exists()), None)
    if folder is None or not folder.is_dir():
        raise VaekitError(f"{flag} {shown}: {folder} is a file, not a folder; choose another {flag}")
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".vaekit-probe.")
    except OSError as err:
        raise VaekitError(
            f"{flag} {shown}: cannot write in {folder} ({_refusal(folder, err)}); choose a folder you can write to"
        ) from None
    os.close(fd)
    os.unlink(probe)
