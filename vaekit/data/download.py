"""Where dataset files live, and how they are fetched and checked.

Every file a built-in dataset needs is described by a `RemoteFile`: the sub-folder of the data
directory it belongs in, its name, the URLs it can be fetched from (tried in order) and the
digest it must have. `ensure_file` returns the local path of a verified file, downloading it
first when it is missing and downloads are allowed.

Downloads are atomic: bytes go to a hidden temporary file in the destination folder, the digest
is checked, and only then is the file renamed into place with `os.replace`. An interrupted or
mismatching download therefore never leaves a file behind that a later run could pick up.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from vaekit.errors import VaekitError
from vaekit.io import user_cache_dir

DATA_DIR_ENV = "VAEKIT_DATA_DIR"
_DOWNLOAD_TIMEOUT_S = 60
_CHUNK_BYTES = 1 << 20


def default_data_dir() -> Path:
    """The folder datasets are read from and cached in.

    Returns
    -------
    pathlib.Path
        ``$VAEKIT_DATA_DIR`` if set, else ``$XDG_CACHE_HOME/vaekit``, else ``~/.cache/vaekit``.
        The folder need not exist yet.
    """
    explicit = os.environ.get(DATA_DIR_ENV)
    return Path(explicit).expanduser() if explicit else user_cache_dir()


@dataclass(frozen=True)
class RemoteFile:
    """One file a dataset needs, where to get it and how to recognise a good copy.

    Attributes
    ----------
    folder : str
        Sub-folder of the data directory, e.g. ``"mnist"``.
    filename : str
        Name of the file inside that folder.
    urls : tuple of str
        Full URLs of the same file, tried in order (primary first, then mirrors).
    sha256 : str
        Hex SHA-256 a good copy has.
    alt_md5 : str or None
        A second accepted digest, for files that exist in more than one good byte form.
    """

    folder: str
    filename: str
    urls: tuple[str, ...]
    sha256: str
    alt_md5: str | None = None

    @property
    def relative_path(self) -> str:
        return f"{self.folder}/{self.filename}"

    def accepts(self, sha256: str, md5: str) -> bool:
        """Whether a file with these digests is a good copy."""
        return sha256 == self.sha256 or (self.alt_md5 is not None and md5 == self.alt_md5)

    def expected_digest_text(self) -> str:
        alternative = f" (or md5 {self.alt_md5})" if self.alt_md5 else ""
        return f"sha256 {self.sha256}{alternative}"


def file_digests(path: Path) -> tuple[str, str]:
    """(sha256, md5) hex digests of a file, read in one pass."""
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK_BYTES):
            sha256.update(chunk)
            md5.update(chunk)
    return sha256.hexdigest(), md5.hexdigest()


def ensure_file(remote: RemoteFile, data_dir: Path, *, download: bool = True) -> Path:
    """Path of a verified local copy of `remote`, downloading it first if needed.

    Parameters
    ----------
    remote : RemoteFile
        The file wanted.
    data_dir : pathlib.Path
        Root data folder; the file lives at ``data_dir / remote.folder / remote.filename``.
    download : bool
        Fetch the file when it is missing. When False a missing file is an error.

    Raises
    ------
    VaekitError
        The file is missing and cannot be fetched, or its digest is wrong.
    """
    folder = Path(data_dir) / remote.folder
    destination = folder / remote.filename
    if destination.is_file():
        sha256, md5 = file_digests(destination)
        if not remote.accepts(sha256, md5):
            # A cached file is the user's: report it, but do not delete it behind their back.
            raise VaekitError(
                f"checksum mismatch for {destination}: expected {remote.expected_digest_text()}, "
                f"got sha256 {sha256}; the file is corrupt or not the canonical one: delete it "
                f"to download it again, or replace it with a good copy"
            )
        return destination
    if not download:
        raise VaekitError(_missing_message(remote, folder, "and downloads are off"))
    return _download(remote, folder)


def _missing_message(remote: RemoteFile, folder: Path, reason: str) -> str:
    return (
        f"{remote.filename} is missing {reason}: download it from {remote.urls[0]} and put it "
        f"in {folder}/ (or point {DATA_DIR_ENV} / --data-dir at a folder holding "
        f"{remote.relative_path})"
    )


class _DigestMismatch(Exception):
    """A fetched file had the wrong digest (the next mirror may still have a good copy)."""


def _download(remote: RemoteFile, folder: Path) -> Path:
    """Fetch `remote` into `folder`, trying each URL until one yields a good copy."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise VaekitError(
            f"cannot create data folder {folder} ({error.strerror}): set {DATA_DIR_ENV} or "
            f"--data-dir to a writable folder"
        ) from None
    failures: list[str] = []
    mismatch: str | None = None
    for url in remote.urls:
        try:
            return _download_one(remote, url, folder)
        except _DigestMismatch as error:
            mismatch = str(error)
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
            failures.append(f"{url}: {getattr(error, 'reason', None) or error}")
    if mismatch is not None:
        raise VaekitError(mismatch)
    reason = "and could not be downloaded (" + "; ".join(failures) + ")"
    raise VaekitError(_missing_message(remote, folder, reason))


def _download_one(remote: RemoteFile, url: str, folder: Path) -> Path:
    """Stream `url` to a temporary file in `folder`, verify it, then rename it into place."""
    print(f"vaekit: downloading {url} -> {folder / remote.filename}", file=sys.stderr)
    request = urllib.request.Request(url, headers={"User-Agent": "vaekit"})
    handle, temporary_name = tempfile.mkstemp(prefix=f".{remote.filename}.", suffix=".part", dir=folder)
    temporary = Path(temporary_name)
    try:
        sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
        with os.fdopen(handle, "wb") as sink:
            with urllib.request.urlopen(request, timeout=_DOWNLOAD_TIMEOUT_S) as response:
                while chunk := response.read(_CHUNK_BYTES):
                    sink.write(chunk)
                    sha256.update(chunk)
                    md5.update(chunk)
            sink.flush()
            os.fsync(sink.fileno())
        if not remote.accepts(sha256.hexdigest(), md5.hexdigest()):
            raise _DigestMismatch(
                f"checksum mismatch for {remote.filename} downloaded from {url}: expected "
                f"{remote.expected_digest_text()}, got sha256 {sha256.hexdigest()}; the download "
                f"was deleted: try again later or fetch the file by hand into {folder}/"
            )
        os.chmod(temporary, 0o644)  # mkstemp makes it private; a cache is for everyone to read
        os.replace(temporary, folder / remote.filename)
    finally:
        # Covers every failure, Ctrl-C included: no partial or unverified file stays behind.
        temporary.unlink(missing_ok=True)
    return folder / remote.filename


__all__ = ["DATA_DIR_ENV", "RemoteFile", "default_data_dir", "ensure_file", "file_digests"]
