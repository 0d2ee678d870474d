"""Writing files safely: atomic replacement and the permissions of what is written.

Every file the toolkit publishes (reports, bundles, manifests, CSV exports, decks, PDFs) is written to
a temporary file beside its final path and renamed into place (:func:`os.replace`, atomic on one file
system), so a reader never sees half a file and a failed write leaves the old file as it was. A
published file gets the permissions any new file of the user gets (``0666`` less the process umask),
not the ``0600`` of :func:`tempfile.mkstemp`. Files meant for their owner only (invitation links,
outgoing mail) are opened with :func:`open_private`.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

__all__ = ["write_atomic", "atomic_path", "open_private", "PUBLISHED_MODE"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: the mode of a published file: what ``open()`` would give a new file under this process's umask
PUBLISHED_MODE = 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, mode: int = PUBLISHED_MODE) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed onto ``path`` when the block succeeds.

    Parameters
    ----------
    path : path
        The final file. Its folder is created when missing.
    mode : int
        Permissions of the finished file (default :data:`PUBLISHED_MODE`).

    Yields
    ------
    Path
        An empty file in ``path``'s folder (hidden name, ``.tmp`` suffix). On any exception it is
        removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_atomic(path: str | os.PathLike, data: bytes | str, *, mode: int = PUBLISHED_MODE) -> Path:
    """Write ``data`` (text is encoded as UTF-8) to ``path`` atomically; return ``path``.

    See :func:`atomic_path` for where the temporary file goes and what a failure leaves.
    """
    with atomic_path(path, mode=mode) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return Path(path)


def open_private(path: str | os.PathLike, *, exclusive: bool = False) -> int:
    """Open ``path`` for writing, readable and writable by its owner only (mode ``0600``); return the descriptor.

    Parameters
    ----------
    exclusive : bool
        ``True``: refuse an existing file (:class:`FileExistsError`) instead of truncating it.
    """
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    return os.open(path, flags, 0o600)
