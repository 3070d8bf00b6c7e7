"""File resources: results the tools link to, served with their real MIME type.

Two URI forms, both readable with ``resources/read``:

- ``hdr://files/{+path}``: a file in the server's output directory (``path`` relative to it);
- ``file:///{+path}``: any other file inside the allowed roots (outputs written elsewhere with
  ``output_dir``); clients on the same machine may open these directly too.

Anything outside the roots, or a folder, is a resource error naming the path.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.server.mcpserver.resources import FunctionResource, ResourceTemplate

__all__ = ["FileTemplate", "mime_type"]

_MIME = {
    ".exr": "image/x-exr",
    ".hdr": "image/vnd.radiance",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".json": "application/json",
    ".mp4": "video/mp4",
    ".safetensors": "application/octet-stream",
    ".txt": "text/plain",
    ".md": "text/markdown",
}


def mime_type(path: Path | str) -> str:
    """MIME type of a file from its name (``application/octet-stream`` when unknown)."""
    suffix = Path(path).suffix.lower()
    return _MIME.get(suffix) or mimetypes.guess_type(str(path))[0] or "application/octet-stream"


class FileTemplate(ResourceTemplate):
    """A template whose resources are files, each read with its own MIME type.

    ``locate(path) -> Path`` maps the template's ``path`` parameter to a file, raising
    :class:`ResourceError` when it is not allowed.
    """

    locate: Any = None

    @classmethod
    def for_files(
        cls, uri_template: str, name: str, description: str, locate: Callable[[str], Path]
    ) -> FileTemplate:
        def read(path: str) -> bytes:  # the signature gives the template's parameter schema
            return locate(path).read_bytes()

        base = ResourceTemplate.from_function(
            read, uri_template, name=name, description=description,
            mime_type="application/octet-stream",
        )
        return cls(**{**base.__dict__, "locate": locate})

    async def create_resource(self, uri: str, params: dict[str, Any], context: Any) -> Any:
        path = self.locate(str(params["path"]))
        if not path.is_file():
            raise ResourceNotFoundError(f"path={params['path']!r}: no such file")
        try:
            data = path.read_bytes()
        except OSError as e:
            raise ResourceError(f"path={params['path']!r}: cannot be read: {e.strerror}") from e
        return FunctionResource(
            uri=uri, name=path.name, description=str(path), mime_type=mime_type(path),
            fn=lambda: data,
        )
