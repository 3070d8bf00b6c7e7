"""Output folders: where results go by default, and the rule that nothing is overwritten unasked.

Every tool and command that writes files takes ``output_dir`` (``--output-dir``) and
``overwrite``. Without ``output_dir`` a fresh folder ``<kind>-<UTC time>-<4 hex>`` is made in the
output directory (``$HDR_MCP_OUTPUT``, else ``<home>/outputs``; see docs/vocabulary.md). A
given ``output_dir`` that already holds files is refused unless ``overwrite`` is true; then the
files the tool itself writes there (its frame pattern, previews, reports) are removed first, so
frames of an earlier, longer run do not linger beside the new ones. A retry of a resumable job
finds its own claim in its working directory and keeps what it wrote.

A folder this code created is removed again when the work fails before writing anything in it.
"""

from __future__ import annotations

import fnmatch
import json
import os
import secrets
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from hdr_mcp.errors import InvalidArgument

__all__ = [
    "OUTPUT_ENV",
    "claim_output_dir",
    "created_folder",
    "default_output_root",
    "output_name",
    "refuse_nonempty",
    "remove_if_empty",
    "remove_owned",
]

OUTPUT_ENV = "HDR_MCP_OUTPUT"
_CLAIM = "output_dir.json"


def output_name(kind: str) -> str:
    """A fresh folder name for a job's outputs: ``<kind>-<UTC time>-<4 hex>``."""
    return f"{kind}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(2)}"


def default_output_root(home: Path | None = None) -> Path:
    """``$HDR_MCP_OUTPUT``, else ``<home>/outputs`` (home: ``$HDR_MCP_HOME`` or the user data
    directory). Not created here."""
    configured = os.environ.get(OUTPUT_ENV)
    if configured:
        return Path(configured).expanduser().absolute()
    if home is None:
        from hdr_mcp.jobs.store import default_home

        home = default_home()
    return Path(home) / "outputs"


def refuse_nonempty(argument: str, folder: Path) -> None:
    """:class:`InvalidArgument` naming ``argument`` when ``folder`` exists and holds anything."""
    if folder.is_dir():
        count = sum(1 for _ in folder.iterdir())
        if count:
            raise InvalidArgument(
                argument, str(folder),
                f"already holds {count} file(s); pass overwrite=true (--overwrite) to replace "
                "what this tool writes there, or choose another folder",
            )


def claim_output_dir(
    argument: str,
    folder: Path,
    *,
    overwrite: bool,
    owned: Sequence[str],
    workdir: Path | None = None,
) -> bool:
    """Make ``folder`` this work's output folder; returns True when it resumes an earlier attempt.

    ``owned`` are the glob patterns of the files this tool writes (``frame_*.exr``,
    ``preview.*``); with ``overwrite`` those are removed first, nothing else is. ``workdir`` (a
    job's working directory, kept across retries) records the claim, so a retried job keeps the
    frames its earlier attempt wrote.
    """
    folder = Path(folder)
    claim = Path(workdir) / _CLAIM if workdir is not None else None
    if claim is not None and claim.is_file() and (
        json.loads(claim.read_text()).get("output_dir") == str(folder)
    ):
        return True
    if folder.exists() and not folder.is_dir():
        raise InvalidArgument(argument, str(folder), "exists and is not a folder")
    if overwrite and folder.is_dir():
        for path in folder.iterdir():
            if path.is_file() and any(fnmatch.fnmatch(path.name, p) for p in owned):
                path.unlink()
    elif not overwrite:
        refuse_nonempty(argument, folder)
    if claim is not None:
        claim.write_text(json.dumps({"output_dir": str(folder)}))
    return False


def remove_owned(folder: Path, names: Sequence[str]) -> None:
    """Remove the files and folders called ``names`` in ``folder`` (what a tool wrote there
    earlier); nothing else is touched."""
    import shutil

    for name in names:
        target = Path(folder) / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


def remove_if_empty(folder: Path) -> None:
    """Remove ``folder`` if it exists and is empty (a failed run leaves no empty folder)."""
    try:
        Path(folder).rmdir()
    except OSError:
        pass


@contextmanager
def created_folder(folder: Path) -> Iterator[Path]:
    """Create ``folder`` (and parents); if the block fails, remove what was created and is
    still empty."""
    folder = Path(folder)
    missing = []
    probe = folder
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    folder.mkdir(parents=True, exist_ok=True)
    try:
        yield folder
    except BaseException:
        for path in missing:  # deepest first
            remove_if_empty(path)
        raise
