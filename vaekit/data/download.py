"""Where dataset files live, and how they are fetched and checked (with pooch).

Every file a built-in dataset needs is described by a `RemoteFile`: the sub-folder of the data
directory it belongs in, its name, the URLs it can be fetched from (tried in order) and the
digest it must have. `ensure_file` returns the local path of a verified file, downloading it
first when it is missing and downloads are allowed.

Fetching, verifying and placing are pooch's (`pooch.retrieve`, as scipy.datasets and
scikit-image use it): bytes go to a temporary file in the destination folder, the known hash is
checked, and only then is the file moved into place, so an interrupted or mismatching download
never leaves a file behind that a later run could pick up. The default folder is pooch's OS cache
(`pooch.os_cache("vaekit")`, ~/.cache/vaekit on Linux). What stays here is vaekit's side: the
data folder (`--data-dir`, ``$VAEKIT_DATA_DIR``), mirrors tried in turn, a cached file of the
user's that is checked but never deleted, and one-line errors that say which file, which URLs
were tried, and where to put the file by hand.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from vaekit.errors import VaekitError

DATA_DIR_ENV = "VAEKIT_DATA_DIR"
_DOWNLOAD_TIMEOUT_S = 60


def default_data_dir() -> Path:
    """The folder datasets are read from and cached in.

    Returns
    -------
    pathlib.Path
        ``$VAEKIT_DATA_DIR`` if set, else ``$XDG_CACHE_HOME/vaekit``, else ``~/.cache/vaekit``.
        The folder need not exist yet.
    """
    explicit = os.environ.get(DATA_DIR_ENV)
    if explicit:
        return Path(explicit).expanduser()
    import pooch

    return Path(pooch.os_cache("vaekit"))


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
        A second accepted digest, for files that exist in more than one good byte form: then it
        is the digest of the form the URLs serve (what a download is checked against).
    whole_lines : bool
        The public copy stops in the middle of its last line: a download is cut after its last
        newline before it is checked (so `sha256` is the digest of the whole lines).
    """

    folder: str
    filename: str
    urls: tuple[str, ...]
    sha256: str
    alt_md5: str | None = None
    whole_lines: bool = False

    @property
    def relative_path(self) -> str:
        return f"{self.folder}/{self.filename}"

    def accepts(self, sha256: str, md5: str) -> bool:
        """Whether a file with these digests is a good copy."""
        return sha256 == self.sha256 or (self.alt_md5 is not None and md5 == self.alt_md5)

    @property
    def known_hash(self) -> str:
        """The hash a download must have, in pooch's "algorithm:hex" form."""
        return f"md5:{self.alt_md5}" if self.alt_md5 else f"sha256:{self.sha256}"

    def expected_digest_text(self) -> str:
        alternative = f" (or md5 {self.alt_md5})" if self.alt_md5 else ""
        return f"sha256 {self.sha256}{alternative}"


def file_digests(path: Path) -> tuple[str, str]:
    """(sha256, md5) hex digests of a file."""
    import pooch

    return pooch.file_hash(str(path), "sha256"), pooch.file_hash(str(path), "md5")


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


def _download(remote: RemoteFile, folder: Path) -> Path:
    """Fetch `remote` into `folder` with pooch, trying each URL until one yields a good copy."""
    import pooch
    import requests

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise VaekitError(
            f"cannot create data folder {folder} ({error.strerror}): set {DATA_DIR_ENV} or "
            f"--data-dir to a writable folder"
        ) from None
    pooch.get_logger().setLevel("WARNING")  # vaekit says what it downloads, once
    failures: list[str] = []
    mismatch: str | None = None
    for url in remote.urls:
        print(f"vaekit: downloading {url} -> {folder / remote.filename}", file=sys.stderr)
        try:
            fetch = None
            fetch = _RecordingDownloader(url, progressbar=sys.stderr.isatty(), whole_lines=remote.whole_lines)
            path = pooch.retrieve(url, remote.known_hash, fname=remote.filename, path=folder, downloader=fetch)
        except (requests.RequestException, OSError, ValueError) as error:
            if fetch is None or fetch.sha256 is None:  # nothing arrived: this URL failed, the next may work
                failures.append(f"{url}: {_reason(error)}")
                continue
            mismatch = (
                f"checksum mismatch for {remote.filename} downloaded from {url}: expected "
                f"{remote.expected_digest_text()}, got sha256 {fetch.sha256}; the download "
                f"was deleted: try again later or fetch the file by hand into {folder}/"
            )
            continue
        os.chmod(path, 0o644)  # pooch's temporary file was private; a cache is for everyone to read
        return Path(path)
    if mismatch is not None:
        raise VaekitError(mismatch)
    reason = "and could not be downloaded (" + "; ".join(failures) + ")"
    raise VaekitError(_missing_message(remote, folder, reason))


class _RecordingDownloader:
    """pooch's downloader for the URL (HTTP(S) with vaekit's user agent and timeout, FTP, ...) that
    also notes the sha256 of what arrived: pooch deletes a mismatching download before vaekit's
    message could name its digest. With `whole_lines` it cuts the download after its last newline
    first (pooch then checks what is left)."""

    def __init__(self, url: str, progressbar: bool, whole_lines: bool = False):
        import pooch

        if url.lower().startswith(("http://", "https://")):
            headers = {"User-Agent": "vaekit"}
            self.inner = pooch.HTTPDownloader(progressbar=progressbar, timeout=_DOWNLOAD_TIMEOUT_S, headers=headers)
        else:
            self.inner = pooch.downloaders.choose_downloader(url, progressbar=progressbar)  # ValueError if unknown
        self.whole_lines, self.sha256 = whole_lines, None

    def __call__(self, url: str, output_file, pooch_obj, check_only: bool = False):
        import pooch

        result = self.inner(url, output_file, pooch_obj, check_only=check_only)
        if not check_only:
            if self.whole_lines:
                _cut_partial_line(Path(output_file))
            self.sha256 = pooch.file_hash(str(output_file), "sha256")
        return result


def _cut_partial_line(path: Path) -> None:
    """Truncates the file after its last newline (a copy that stops inside its last line)."""
    data = path.read_bytes()
    with open(path, "r+b") as stream:
        stream.truncate(data.rfind(b"\n") + 1)


def _reason(error: Exception) -> str:
    """A failed request in a few words: 'HTTP 404', the connection error's own words."""
    response = getattr(error, "response", None)
    if response is not None:
        return f"HTTP {response.status_code} {response.reason}".strip()
    return str(error).splitlines()[0] if str(error) else type(error).__name__


__all__ = ["DATA_DIR_ENV", "RemoteFile", "default_data_dir", "ensure_file", "file_digests"]
