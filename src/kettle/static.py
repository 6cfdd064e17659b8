"""The app's static files: its ``static`` folder and each blueprint's, served
under ``STATIC_URL`` (``/static``), with fingerprinted URLs.

``static("app.css")`` gives ``/static/app.<hash>.css``, where the hash is taken
from the file's content: the URL changes whenever the file does, so it is served
with a year-long, immutable cache. The plain URL (``/static/app.css``) is served
too, with ``Cache-Control: no-cache`` (browsers revalidate it with its ``ETag``).
Both answer conditional requests (``If-None-Match``, ``If-Modified-Since``) and
ranges. Paths that could leave a folder (``..``, encoded or not, absolute paths,
backslashes, NUL) are answered with 404.

Folders are searched in order: the app's (``STATIC_FOLDER``, relative to the
app's folder), then each blueprint's (``Blueprint(static_folder=...)``), in
registration order: the first holding a path serves it, so a blueprint's files
are best kept in a sub-folder named after it (``static/blog/blog.css``).
"""

from __future__ import annotations

import hashlib
import os
import re
import stat as stat_module
from typing import TYPE_CHECKING
from typing import Any
from urllib.parse import quote

from ._fileplan import resolve_static_path
from .exceptions import HTTPException
from .helpers import app_folders
from .helpers import extension

if TYPE_CHECKING:
    from .app import Kettle
    from .responses import Response

__all__ = ("StaticFolders", "get_static", "static")

#: ``Cache-Control`` of a fingerprinted URL (its content never changes).
IMMUTABLE = "public, max-age=31536000, immutable"
#: ``Cache-Control`` of a plain URL (revalidated with its ETag).
REVALIDATE = "no-cache"
_HASH_LENGTH = 12
_HASHED = re.compile(r"^(.+)\.([0-9a-f]{12})(\.[^./]*)?$")


def _hashed_name(path: str, digest: str) -> str:
    """``css/app.css`` and a digest -> ``css/app.<digest>.css``."""
    folder, _, name = path.rpartition("/")
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:  # "LICENSE", ".htaccess": the hash goes last
        hashed = f"{name}.{digest}"
    else:
        hashed = f"{stem}.{digest}.{ext}"
    return f"{folder}/{hashed}" if folder else hashed


class StaticFolders:
    """An app's static folders (see the module's description).

    Fingerprints are computed once per file (again when the file's size or
    modification time changes), on the first :meth:`url` or request for it.
    """

    def __init__(self, app: Kettle) -> None:
        self.app = app
        url = app.config.get("STATIC_URL")
        self.url_path: str | None = "/" + url.strip("/") if url else None
        self.folders = static_folders(app)
        # {file path: (mtime_ns, size, digest)}
        self._digests: dict[str, tuple[int, int, str]] = {}

    def find(self, path: str) -> tuple[str, os.stat_result] | None:
        """The first file for ``path`` (relative to a static folder), or None."""
        for folder in self.folders:
            full = resolve_static_path(folder, path)
            if full is None:
                return None  # refused in one folder: refused in all
            try:
                found = os.stat(full)
            except (OSError, ValueError):
                continue
            if stat_module.S_ISREG(found.st_mode):
                return full, found
        return None

    def digest(self, full: str, found: os.stat_result) -> str:
        """The content hash of the file ``full`` (12 hex digits of SHA-256)."""
        known = self._digests.get(full)
        if known is not None and known[:2] == (found.st_mtime_ns, found.st_size):
            return known[2]
        sha = hashlib.sha256()
        with open(full, "rb") as file:
            for chunk in iter(lambda: file.read(1 << 16), b""):
                sha.update(chunk)
        digest = sha.hexdigest()[:_HASH_LENGTH]
        self._digests[full] = (found.st_mtime_ns, found.st_size, digest)
        return digest

    def url(self, path: str, root_path: str = "") -> str:
        """The fingerprinted URL of the static file ``path``.

        Raises:
            LookupError: No static folder holds ``path`` (or static files are
                off: ``STATIC_URL`` is empty).
        """
        if self.url_path is None:
            raise LookupError("static files are off: STATIC_URL is not set")
        clean = path.lstrip("/")
        found = self.find(clean)
        if found is None:
            raise LookupError(
                f"no static file {path!r} in "
                f"{', '.join(self.folders) or 'any static folder (none exists)'}"
            )
        hashed = _hashed_name(clean, self.digest(*found))
        return f"{root_path}{self.url_path}/{quote(hashed)}"

    def serve(self, filename: str) -> Response:
        """The answer to ``GET STATIC_URL/filename``: the file (a fingerprinted
        name with its immutable cache), or 404."""
        from .files import FileResponse

        if filename.endswith("/"):  # "app.css/" names no folder
            raise HTTPException(404)
        found = self.find(filename)
        if found is not None:
            return FileResponse(
                found[0], stat_result=found[1], headers={"cache-control": REVALIDATE}
            )
        folder, _, name = filename.rpartition("/")
        match = _HASHED.match(name)
        if match is not None:
            stem, digest, ext = match.groups()
            plain = f"{stem}{ext or ''}"
            original = self.find(f"{folder}/{plain}" if folder else plain)
            if original is not None and self.digest(*original) == digest:
                return FileResponse(
                    original[0],
                    stat_result=original[1],
                    headers={"cache-control": IMMUTABLE},
                )
        raise HTTPException(404)


def static_folders(app: Kettle) -> list[str]:
    """The static folders that exist, in the order they are searched."""
    return app_folders(app, "STATIC_FOLDER", "static_folder")


def get_static(app: Kettle | None = None) -> StaticFolders:
    """The app's :class:`StaticFolders` (default: the current app's)."""
    return extension(app, "static", StaticFolders)


def static(path: str) -> str:
    """The fingerprinted URL of a static file of the current app:
    ``static("css/app.css")`` -> ``/static/css/app.3f2a1b9c0d12.css``. Also a
    template global: ``<link rel="stylesheet" href="{{ static('app.css') }}">``.

    Raises:
        LookupError: No static folder holds ``path``.
    """
    from .context import request_var

    current = request_var.get(None)
    root_path = current.root_path if current is not None else ""
    return get_static().url(path, root_path)


def install(app: Kettle) -> None:
    """Add the route serving the app's static files (named ``"static"``:
    ``url_for("static", filename="app.css")`` is the plain URL), when
    ``STATIC_URL`` is set and a static folder exists (at start-up), unless the
    app serves that URL itself (a mount there, or a route named ``"static"``)."""
    folders = get_static(app)
    url = folders.url_path
    if (
        url is None
        or not folders.folders
        or app.router.has_name("static")
        or any(mount.path == url for mount in app.router.mounts)
    ):
        return

    def static_file(filename: str) -> Any:
        return folders.serve(filename)

    app.add_route(
        url + "/{filename:path}",
        static_file,
        name="static",
        include_in_schema=False,
    )
