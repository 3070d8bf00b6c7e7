"""What C libraries print while they read a file, captured instead of leaking.

The OpenEXR 3.5 bindings report decode failures with a Python-level print on stdout, the
OpenEXR C core and libpng (inside OpenCV) write diagnostics to file descriptor 2. On an MCP stdio
server stdout is the protocol channel, and the CLI promises one error line, so both are captured
while a file is read: on failure the text goes into our exception message; on success it is
written back to fd 2 (output of other threads meanwhile is delayed, never lost), except lines a
reader ``swallows`` (libpng's warnings about ancillary chunks: the image is fine).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator

__all__ = ["LibraryOutput", "library_output"]

#: fd 2 is process-wide; readers take turns redirecting it.
_FD2_LOCK = threading.Lock()


class LibraryOutput:
    """Text printed while reading: Python-level stdout and C-level stderr."""

    def __init__(self) -> None:
        self.stdout = io.StringIO()
        self.stderr = b""

    def getvalue(self) -> str:
        text = self.stdout.getvalue().strip()
        errors = self.stderr.decode("utf-8", "replace").strip()
        return " ".join(part for part in (text, errors) if part)

    def lines(self) -> list[str]:
        return [line for line in self.getvalue().splitlines() if line.strip()]


@contextlib.contextmanager
def library_output(swallow: Callable[[bytes], bool] | None = None) -> Iterator[LibraryOutput]:
    """Capture stdout and fd 2 for the block (see the module doc)."""
    captured = LibraryOutput()
    failed = False
    with _FD2_LOCK, tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            with contextlib.redirect_stdout(captured.stdout):
                yield captured
        except BaseException:
            failed = True
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            captured.stderr = sink.read()
            if captured.stderr and not failed:
                kept = [line for line in captured.stderr.splitlines(keepends=True)
                        if swallow is None or not swallow(line)]
                if kept:
                    os.write(2, b"".join(kept))
