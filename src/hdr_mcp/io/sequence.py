"""Image sequences on disk: a folder of frames, a printf/hash pattern, or a glob.

``list_frames`` turns what a user types into an ordered list of frame files:

* a folder: every image file in it (``.png .jpg .jpeg .tif .tiff .exr .hdr``), hidden files
  (leading dot, e.g. an unfinished atomic write) excluded. All files must share one suffix,
  since a folder holding ``frame_0001.png`` and ``preview.jpg`` is ambiguous; pass a pattern;
* a printf pattern, ``shot/frame_%05d.png`` (or ``%d``), or a hash pattern,
  ``shot/frame.####.exr`` (one ``#`` a digit, zero padded, the Nuke/Houdini convention): files
  whose number formats back to exactly the matched text, ordered by that number;
* a glob, ``shot/*.png`` (``*``, ``?``, ``[...]`` in the file name).

Ordering is natural (``frame_2`` before ``frame_10``). The result is the frames' order, not
their numbers: index 0 is the first file, whatever number its name carries.

``check_frame_range`` validates the Python-slice ``start``/``stop`` indices that every reader of
frame sequences and videos takes.
"""

from __future__ import annotations

import glob
import os
import re
from collections import Counter
from collections.abc import Collection
from numbers import Integral
from pathlib import Path
from typing import Any

from hdr_mcp.errors import InvalidArgument
from hdr_mcp.vocabulary import HDR_SUFFIXES as _HDR_SUFFIXES
from hdr_mcp.vocabulary import IMAGE_SUFFIXES as _IMAGE_SUFFIXES

__all__ = [
    "HDR_SUFFIXES",
    "IMAGE_SUFFIXES",
    "check_frame_range",
    "frame_range",
    "list_frames",
    "natural_key",
]

#: Suffixes (lower case) of the image files a folder listing picks up by default, and of the
#: scene-linear ones (:mod:`hdr_mcp.vocabulary`).
IMAGE_SUFFIXES = _IMAGE_SUFFIXES
HDR_SUFFIXES = _HDR_SUFFIXES

_PRINTF = re.compile(r"%(0?)(\d*)d")
_HASHES = re.compile(r"#+")
_GLOB_CHARS = re.compile(r"[*?\[]")
_ARGUMENT = "folder_or_pattern"


def natural_key(name: str) -> tuple[object, ...]:
    """Sort key that orders digit runs by value: ``a2 < a10``; case-insensitive text.

    ``re.split`` with a capturing group alternates text and digits, text first, so the
    tuples compare text with text and numbers with numbers.
    """
    parts = re.split(r"(\d+)", name)
    return tuple(int(part) if i % 2 else part.lower() for i, part in enumerate(parts))


def _is_index(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, Integral)  # numpy integers too


def check_frame_range(start: Any, stop: Any) -> None:
    """Validate Python-slice frame indices: ``start >= 0``, ``stop`` None or above ``start``."""
    if not _is_index(start) or start < 0:
        raise InvalidArgument("start", start, "must be an integer >= 0")
    if stop is not None and (not _is_index(stop) or stop <= start):
        raise InvalidArgument("stop", stop, f"must be None or an integer > start={start}")


def frame_range(start: Any, stop: Any, count: int) -> tuple[int, int]:
    """``(start, stop)`` of a Python-slice frame range into ``count`` frames, ``stop=None``
    meaning all. A range beyond the input is refused, naming the argument and the frame count
    (never clamped: a silently shorter result reads as a complete one)."""
    check_frame_range(start, stop)
    if start >= count:
        raise InvalidArgument(
            "start", start, f"the input has {count} frame(s) (indices 0..{count - 1})"
        )
    if stop is None:
        return int(start), count
    if stop > count:
        raise InvalidArgument(
            "stop", stop, f"the input has {count} frame(s); stop must be <= {count}"
        )
    return int(start), int(stop)


def _sorted_files(paths: list[Path]) -> list[Path]:
    return sorted((p for p in paths if p.is_file()), key=lambda p: natural_key(p.name))


def _list_folder(folder: Path, shown: str, suffixes: frozenset[str]) -> list[Path]:
    frames = _sorted_files(
        [p for p in folder.iterdir() if p.suffix.lower() in suffixes and not p.name.startswith(".")]
    )
    if not frames:
        raise InvalidArgument(
            _ARGUMENT, shown, f"folder holds no image files ({', '.join(sorted(suffixes))})"
        )
    counts = Counter(p.suffix.lower() for p in frames).most_common()
    if len(counts) > 1:
        listed = ", ".join(f"{n} {suffix}" for suffix, n in counts)
        raise InvalidArgument(
            _ARGUMENT,
            shown,
            f"folder mixes image types ({listed}); pass a pattern such as "
            f"{folder / ('*' + counts[0][0])}",
        )
    return frames


def _number_pattern(name: str) -> tuple[str, str, int] | None:
    """Split a printf/hash file name into (prefix, suffix, width); None if it has neither."""
    printf = list(_PRINTF.finditer(name))
    hashes = list(_HASHES.finditer(name))
    if len(printf) + len(hashes) == 0:
        return None
    if len(printf) + len(hashes) > 1:
        raise ValueError("more than one frame-number field")
    if printf:
        match = printf[0]
        width = int(match.group(2)) if match.group(1) == "0" and match.group(2) else 0
    else:
        match = hashes[0]
        width = len(match.group(0))
    return name[: match.start()], name[match.end() :], width


def _list_numbered(folder: Path, prefix: str, suffix: str, width: int, shown: str) -> list[Path]:
    number = re.compile(re.escape(prefix) + r"(\d+)" + re.escape(suffix) + r"\Z")
    numbered = []
    for path in folder.iterdir():
        match = number.match(path.name)
        # Exact formatting: "%04d" must not pick up frame_00001 or frame_1 beside frame_0001.
        if match and f"{int(match.group(1)):0{width}d}" == match.group(1) and path.is_file():
            numbered.append((int(match.group(1)), path))
    if not numbered:
        raise InvalidArgument(_ARGUMENT, shown, "pattern matches no files")
    return [path for _, path in sorted(numbered)]


def list_frames(
    folder_or_pattern: str | os.PathLike[str], suffixes: Collection[str] = IMAGE_SUFFIXES
) -> list[Path]:
    """Frame files of a folder, printf/hash pattern or glob, in natural order.

    Parameters
    ----------
    folder_or_pattern
        A folder, ``frames/f_%04d.png``, ``frames/f.####.png``, ``frames/*.png``, or one
        existing file (returned alone).
    suffixes
        The file types a folder listing picks up (lower case, with the dot); e.g.
        :data:`HDR_SUFFIXES` takes a folder's EXR frames and leaves its preview PNG alone.

    Returns
    -------
    A non-empty list of existing files.

    Raises
    ------
    hdr_mcp.errors.InvalidArgument
        Naming ``folder_or_pattern``: nothing matches, the folder does not exist, a folder
        mixes image types, or a pattern has more than one number field.
    """
    if not isinstance(folder_or_pattern, (str, os.PathLike)) or str(folder_or_pattern) == "":
        raise InvalidArgument(
            _ARGUMENT, folder_or_pattern, "expected a folder, file pattern or glob"
        )
    shown = str(folder_or_pattern)
    path = Path(folder_or_pattern).expanduser()
    if path.is_dir():
        return _list_folder(path, shown, frozenset(suffixes))
    if path.is_file():
        return [path]
    folder = path.parent
    if _GLOB_CHARS.search(str(folder)) or _PRINTF.search(str(folder)):
        raise InvalidArgument(
            _ARGUMENT, shown, "patterns are only supported in the file name, not in folders"
        )
    if not folder.is_dir():
        raise InvalidArgument(_ARGUMENT, shown, f"folder {str(folder)!r} does not exist")
    try:
        numbered = _number_pattern(path.name)
    except ValueError as e:
        raise InvalidArgument(_ARGUMENT, shown, f"{e}; use one %d or # run") from e
    if numbered is not None:
        return _list_numbered(folder, *numbered, shown=shown)
    if _GLOB_CHARS.search(path.name):
        frames = _sorted_files([Path(p) for p in glob.glob(str(path))])
        if not frames:
            raise InvalidArgument(_ARGUMENT, shown, "glob matches no files")
        return frames
    raise InvalidArgument(
        _ARGUMENT, shown, "no such file or folder (and not a %d, # or glob pattern)"
    )
