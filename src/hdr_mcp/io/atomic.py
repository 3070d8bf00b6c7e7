"""Atomic file replacement shared by every writer in :mod:`hdr_mcp.io`.

A reader (a compositor's file browser, a render farm watching a folder, another job) must never
see half an image. Every writer therefore writes to a hidden temporary file in the *same*
directory and renames it over the destination with :func:`os.replace`, which POSIX and Windows
both perform atomically within one filesystem. A temporary file in ``/tmp`` would not do: a
rename across filesystems is a copy, and a copy can be observed half-done.

Durability across a power cut (``fsync``) is not attempted: the guarantee is "complete file or
no file", not "on the platter".
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from hdr_mcp.errors import InvalidArgument

__all__ = ["atomic_path", "check_writable_path"]


def check_writable_path(path: str | os.PathLike[str], argument: str = "path") -> Path:
    """Return ``path`` as a :class:`~pathlib.Path` after checking it can be written.

    Raises :class:`~hdr_mcp.errors.InvalidArgument` naming ``argument`` when the path is empty,
    names an existing directory, or its parent directory does not exist. Parent directories are
    not created: a missing folder is far more often a typo than an intention.
    """
    if not isinstance(path, (str, os.PathLike)) or str(path) == "":
        raise InvalidArgument(argument, path, "expected a non-empty file path")
    target = Path(path).expanduser()
    if target.is_dir():
        raise InvalidArgument(argument, str(path), "is a directory, expected a file path")
    parent = target.parent
    if not parent.is_dir():
        raise InvalidArgument(
            argument, str(path), f"parent directory {str(parent)!r} does not exist"
        )
    return target


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds.

    The temporary name is hidden (leading dot), unique (128 random bits) and keeps the
    destination's suffix, so libraries that choose a codec by extension (OpenCV) still work.
    The file itself is created by the writer inside the block, with the process's normal
    permissions (``mkstemp`` would create it mode 0600).

    On any exception inside the block the temporary file is removed (if it was created) and the
    exception propagates; the destination is left untouched. If the block finishes without
    creating the file, ``FileNotFoundError`` is raised rather than silently doing nothing.

    Examples
    --------
    >>> with atomic_path("out.exr") as tmp:          # doctest: +SKIP
    ...     OpenEXR.File(header, channels).write(str(tmp))
    """
    target = check_writable_path(path)
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(16)}.tmp{target.suffix}")
    try:
        yield temporary
        os.replace(temporary, target)
    except BaseException:
        # BaseException: a KeyboardInterrupt mid-write must not leave a stray temp file either.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
