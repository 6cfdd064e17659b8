"""Request body parsing for HTML forms: urlencoded and multipart uploads.

The heart of this module is :class:`FormParser`, a sans-IO parser: it is fed the
body chunk by chunk with :meth:`FormParser.feed` and produces a :class:`FormData`
from :meth:`FormParser.finish`. It knows nothing about ASGI or WSGI; the two
drivers :func:`parse_form` (async) and :func:`parse_form_sync` run it over an
iterator of body chunks.

Every size and count is bounded by a :class:`FormLimits`. Exceeding a size limit
raises :class:`~kettle.exceptions.RequestEntityTooLarge` (413), a malformed body or
too many fields raises :class:`~kettle.exceptions.BadRequest` (400), and an
unsupported content type raises an :class:`~kettle.exceptions.HTTPException` with
status 415. Whenever parsing fails, the uploaded files already created are closed,
so no temporary file is left behind.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from .datastructures import Headers
from .datastructures import MultiDict
from .exceptions import BadRequest
from .exceptions import HTTPException
from .exceptions import RequestEntityTooLarge

if TYPE_CHECKING:
    from python_multipart import MultipartParser

__all__ = (
    "FormData",
    "FormLimits",
    "FormParser",
    "UploadFile",
    "parse_form",
    "parse_form_sync",
)

_KIB = 1024
_MIB = 1024 * 1024

#: Size of the blocks copied by :meth:`UploadFile.save`.
_COPY_CHUNK_SIZE = 64 * _KIB

#: Most headers one multipart part may have (their total size is also capped).
_MAX_PART_HEADERS = 32

#: Longest boundary accepted (RFC 2046 allows 70; some clients send longer ones).
_MAX_BOUNDARY_LENGTH = 200

_URLENCODED = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"


@dataclass(frozen=True, slots=True)
class FormLimits:
    """Caps applied while parsing a form body.

    Attributes:
        max_body_size: Largest ``application/x-www-form-urlencoded`` body, in bytes.
        max_upload_size: Largest whole ``multipart/form-data`` body, in bytes.
        max_fields: Most fields (multipart parts or urlencoded pairs), files
            included.
        max_files: Most uploaded files in one multipart body.
        max_part_size: Largest value of one non-file multipart field, in bytes.
        max_file_size: Largest single uploaded file, in bytes; ``None`` leaves
            files bounded only by ``max_upload_size``.
        max_part_header_size: Largest total size of one part's headers, in bytes.
        spool_max_size: Uploaded files larger than this many bytes are moved from
            memory to a temporary file on disk.
    """

    max_body_size: int = 1 * _MIB
    max_upload_size: int = 100 * _MIB
    max_fields: int = 1000
    max_files: int = 100
    max_part_size: int = 1 * _MIB
    max_file_size: int | None = None
    max_part_header_size: int = 16 * _KIB
    spool_max_size: int = 1 * _MIB

    def __post_init__(self) -> None:
        for name in (
            "max_body_size",
            "max_upload_size",
            "max_fields",
            "max_files",
            "max_part_size",
            "max_part_header_size",
            "spool_max_size",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(
                    f"FormLimits.{name} must be an int >= 0, not {value!r}"
                )
        if self.max_file_size is not None and (
            not isinstance(self.max_file_size, int) or self.max_file_size < 0
        ):
            raise ValueError(
                "FormLimits.max_file_size must be None or an int >= 0, "
                f"not {self.max_file_size!r}"
            )


class UploadFile:
    """A file uploaded in a ``multipart/form-data`` body.

    The data lives in :attr:`file`, a :class:`tempfile.SpooledTemporaryFile` kept in
    memory up to ``spool_max_size`` bytes and moved to disk beyond that. Sync code
    may use :attr:`file` directly; async code should prefer the async methods,
    which run blocking disk operations in a worker thread once the file is on disk.

    Attributes:
        filename: The file name sent by the client (untrusted: never use it as a
            path without sanitising it), or ``None``.
        content_type: The part's ``Content-Type``, ``application/octet-stream``
            when the client sent none.
        headers: All headers of the part.
        size: The number of bytes written so far.
        file: The underlying spooled temporary file.

    Args:
        filename: The client's file name.
        content_type: The media type of the file.
        headers: The part's headers.
        spool_max_size: Bytes kept in memory before rolling over to disk.
    """

    __slots__ = ("content_type", "file", "filename", "headers", "size")

    def __init__(
        self,
        filename: str | None = None,
        *,
        content_type: str = "application/octet-stream",
        headers: Headers | None = None,
        spool_max_size: int = 1 * _MIB,
    ) -> None:
        self.filename = filename
        self.content_type = content_type
        self.headers = headers if headers is not None else Headers()
        self.size = 0
        self.file: tempfile.SpooledTemporaryFile[bytes] = tempfile.SpooledTemporaryFile(
            max_size=spool_max_size
        )

    @property
    def in_memory(self) -> bool:
        """Whether the data is still held in memory (not rolled over to disk)."""
        return not bool(getattr(self.file, "_rolled", True))

    @property
    def closed(self) -> bool:
        """Whether :attr:`file` has been closed."""
        return bool(self.file.closed)

    def write(self, data: bytes) -> None:
        """Append ``data`` to the file (blocking) and update :attr:`size`.

        Args:
            data: The bytes to append.
        """
        self.file.write(data)
        self.size += len(data)

    async def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes from the current position (all when ``-1``).

        Args:
            size: The most bytes to read; ``-1`` reads to the end.

        Returns:
            The bytes read; empty at the end of the file.
        """
        if self.in_memory:
            return self.file.read(size)
        return await asyncio.to_thread(self.file.read, size)

    async def seek(self, offset: int) -> None:
        """Move the file position to ``offset`` bytes from the start.

        Args:
            offset: The new absolute position.
        """
        if self.in_memory:
            self.file.seek(offset)
        else:
            await asyncio.to_thread(self.file.seek, offset)

    async def close(self) -> None:
        """Close the file, deleting its temporary file if it was on disk."""
        if self.in_memory:
            self.file.close()
        else:
            await asyncio.to_thread(self.file.close)

    async def save(self, path: str | os.PathLike[str]) -> int:
        """Copy the whole file, from its start, to ``path``.

        The copy is made in blocks, so a large upload is never read into memory at
        once. The file position is restored afterwards.

        Args:
            path: Where to write the copy; an existing file is replaced.

        Returns:
            The number of bytes written.
        """
        if self.in_memory:
            return self._save(path)
        return await asyncio.to_thread(self._save, path)

    def _save(self, path: str | os.PathLike[str]) -> int:
        position = self.file.tell()
        self.file.seek(0)
        try:
            with open(path, "wb") as target:
                shutil.copyfileobj(self.file, target, _COPY_CHUNK_SIZE)
                written = target.tell()
        finally:
            self.file.seek(position)
        return written

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(filename={self.filename!r}, "
            f"content_type={self.content_type!r}, size={self.size!r})"
        )


class FormData(MultiDict[str | UploadFile]):
    """The fields of a parsed form: text values and :class:`UploadFile` objects.

    A missing key raises :class:`~kettle.exceptions.BadRequestKeyError`, answered
    with 400 when left unhandled.
    """

    __slots__ = ()
    _where = "form"

    def uploads(self) -> list[UploadFile]:
        """Return every :class:`UploadFile` of the form, in order."""
        return [v for _, v in self._list if isinstance(v, UploadFile)]

    async def close(self) -> None:
        """Close every uploaded file of the form."""
        for upload in self.uploads():
            await upload.close()

    def close_sync(self) -> None:
        """Close every uploaded file of the form (blocking)."""
        for upload in self.uploads():
            upload.file.close()


def _parse_header_options(value: str) -> tuple[str, dict[str, str]]:
    """Split a header such as ``Content-Type`` into its value and parameters.

    Parameter names are lower-cased; quoted values are unquoted (only ``\\"`` and
    ``\\\\`` are unescaped, so Windows paths survive). RFC 2231 extended parameters
    (``name*=``) are ignored, as RFC 7578 forbids them in form data.
    """
    segments: list[str] = []
    current: list[str] = []
    in_quotes = False
    escaped = False
    for char in value:
        if escaped:
            escaped = False
        elif char == "\\" and in_quotes:
            escaped = True
        elif char == '"':
            in_quotes = not in_quotes
        elif char == ";" and not in_quotes:
            segments.append("".join(current))
            current = []
            continue
        current.append(char)
    segments.append("".join(current))

    main = segments[0].strip().lower()
    options: dict[str, str] = {}
    for segment in segments[1:]:
        key, sep, val = segment.partition("=")
        key = key.strip().lower()
        if not sep or not key or "*" in key:
            continue
        val = val.strip()
        if len(val) >= 2 and val[0] == val[-1] == '"':
            val = val[1:-1].replace("\\\\", "\\").replace('\\"', '"')
        options[key] = val
    return main, options


def _decode_text(data: bytes, charset: str, what: str) -> str:
    try:
        return data.decode(charset)
    except LookupError:
        raise BadRequest(f"Unknown charset {charset!r} in {what}.") from None
    except UnicodeDecodeError:
        raise BadRequest(f"{what} is not valid {charset} text.") from None


def _decode_header_text(data: bytes) -> str:
    # Browsers send non-ASCII names and file names as raw UTF-8.
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


class FormParser:
    """A sans-IO parser for ``urlencoded`` and ``multipart/form-data`` bodies.

    Feed the body with :meth:`feed`, in chunks of any size, then call
    :meth:`finish` to get the :class:`FormData`. On any error the files created so
    far are closed; call :meth:`close` when abandoning the parser for another
    reason (for example a client disconnect).

    Args:
        content_type_header: The request's ``Content-Type`` header.
        limits: The caps on sizes and counts.

    Raises:
        HTTPException: 415 when the content type is not a form type.
        BadRequest: When a multipart content type has a missing or invalid
            boundary or an unknown charset is named.
    """

    def __init__(self, content_type_header: str, limits: FormLimits) -> None:
        self.limits = limits
        media_type, options = _parse_header_options(content_type_header)
        self._charset = options.get("charset", "utf-8")
        self._received = 0
        self._finished = False
        self._items: list[tuple[str, str | UploadFile]] = []
        self._uploads: list[UploadFile] = []
        self._multipart: MultipartParser | None = None
        self._body = bytearray()
        # State of the multipart part being parsed.
        self._ended = False
        self._parts = 0
        self._files = 0
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._header_size = 0
        self._part_headers: list[tuple[bytes, bytes]] = []
        self._part_name = ""
        self._part_charset = "utf-8"
        self._part_value = bytearray()
        self._part_file: UploadFile | None = None

        if media_type == _URLENCODED:
            self._check_charset(self._charset)
        elif media_type == _MULTIPART:
            self._multipart = self._make_multipart_parser(options.get("boundary"))
        else:
            shown = media_type or "none"
            raise HTTPException(
                415,
                f"Unsupported form content type {shown!r}; "
                f"expected {_URLENCODED!r} or {_MULTIPART!r}.",
            )

    @staticmethod
    def _check_charset(charset: str) -> None:
        _decode_text(b"", charset, "the form")

    @property
    def writes_to_disk(self) -> bool:
        """Whether the next :meth:`feed` may block on disk I/O.

        True while an uploaded file that has rolled over to disk is being written;
        async callers may then run :meth:`feed` in a worker thread.
        """
        return self._part_file is not None and not self._part_file.in_memory

    # -- public API --------------------------------------------------------------

    def feed(self, chunk: bytes) -> None:
        """Parse the next chunk of the body.

        Args:
            chunk: The next bytes of the body; may be empty.

        Raises:
            RequestEntityTooLarge: When a size limit is exceeded.
            BadRequest: When the body is malformed or has too many fields.
        """
        if self._finished:
            raise RuntimeError("FormParser.feed() called after finish() or close().")
        try:
            self._feed(chunk)
        except BaseException:
            self.close()
            raise

    def finish(self) -> FormData:
        """Finish parsing once the whole body was fed and return the form.

        Returns:
            The parsed fields and files; files are positioned at their start.

        Raises:
            BadRequest: When the body is malformed or truncated.
        """
        if self._finished:
            raise RuntimeError("FormParser.finish() called twice or after close().")
        try:
            form = self._finish()
        except BaseException:
            self.close()
            raise
        self._finished = True
        return form

    def close(self) -> None:
        """Abandon parsing and close every file created so far."""
        self._finished = True
        self._body.clear()
        for upload in self._uploads:
            upload.file.close()

    # -- internals ---------------------------------------------------------------

    def _feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        self._received += len(chunk)
        if self._multipart is None:
            if self._received > self.limits.max_body_size:
                raise RequestEntityTooLarge(
                    "The form body exceeds the max_body_size limit of "
                    f"{self.limits.max_body_size} bytes."
                )
            self._body += chunk
            return
        if self._received > self.limits.max_upload_size:
            raise RequestEntityTooLarge(
                "The multipart body exceeds the max_upload_size limit of "
                f"{self.limits.max_upload_size} bytes."
            )
        try:
            self._multipart.write(chunk)
        except ValueError as exc:  # python_multipart's parse errors
            if "header size" in str(exc).lower():
                self._raise_header_too_large()
            raise BadRequest(f"Malformed multipart body: {exc}") from None

    def _finish(self) -> FormData:
        if self._multipart is None:
            return self._finish_urlencoded()
        self._multipart.finalize()
        if not self._ended:
            raise BadRequest(
                "Malformed multipart body: it ended before the closing boundary "
                "(the body is truncated or the boundary does not match)."
            )
        return FormData(self._items)

    def _finish_urlencoded(self) -> FormData:
        text = _decode_text(bytes(self._body), self._charset, "The form body")
        self._body.clear()
        try:
            pairs = parse_qsl(
                text,
                keep_blank_values=True,
                encoding=self._charset,
                errors="strict",
                max_num_fields=self.limits.max_fields,
            )
        except UnicodeDecodeError:
            raise BadRequest(
                f"The form body is not valid {self._charset} text once decoded."
            ) from None
        except ValueError:
            raise BadRequest(
                "The form has more fields than the max_fields limit of "
                f"{self.limits.max_fields}."
            ) from None
        return FormData(pairs)

    def _make_multipart_parser(self, boundary: str | None) -> MultipartParser:
        if not boundary:
            raise BadRequest("The multipart/form-data Content-Type has no boundary.")
        if len(boundary) > _MAX_BOUNDARY_LENGTH or not boundary.isascii():
            raise BadRequest(
                "The multipart/form-data boundary is invalid (it must be 1 to "
                f"{_MAX_BOUNDARY_LENGTH} ASCII characters)."
            )
        try:
            from python_multipart import MultipartParser
        except ImportError:  # pragma: no cover - python-multipart < 0.0.13
            from multipart import MultipartParser  # type: ignore[no-redef]

        return MultipartParser(
            boundary.encode("ascii"),
            {
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
                "on_end": self._on_end,
            },
            max_header_count=_MAX_PART_HEADERS,
            max_header_size=max(self.limits.max_part_header_size, 1),
        )

    def _raise_header_too_large(self) -> None:
        raise RequestEntityTooLarge(
            "The headers of a multipart part exceed the max_part_header_size limit "
            f"of {self.limits.max_part_header_size} bytes."
        )

    def _on_part_begin(self) -> None:
        self._parts += 1
        if self._parts > self.limits.max_fields:
            raise BadRequest(
                "The form has more fields than the max_fields limit of "
                f"{self.limits.max_fields}."
            )
        self._header_field.clear()
        self._header_value.clear()
        self._header_size = 0
        self._part_headers = []
        self._part_value = bytearray()
        self._part_file = None

    def _add_header_bytes(self, count: int) -> None:
        self._header_size += count
        if self._header_size > self.limits.max_part_header_size:
            self._raise_header_too_large()

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._add_header_bytes(end - start)
        self._header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._add_header_bytes(end - start)
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        self._add_header_bytes(4)  # ": " and CRLF
        self._part_headers.append(
            (bytes(self._header_field).lower(), bytes(self._header_value))
        )
        self._header_field.clear()
        self._header_value.clear()

    def _on_headers_finished(self) -> None:
        headers = Headers(raw=self._part_headers)
        disposition = headers.get("content-disposition")
        if disposition is None:
            raise BadRequest("A multipart part has no Content-Disposition header.")
        _, options = _parse_header_options(
            _decode_header_text(disposition.encode("latin-1"))
        )
        name = options.get("name")
        if name is None:
            raise BadRequest(
                "A multipart part's Content-Disposition header has no name."
            )
        self._part_name = name
        content_type = headers.get("content-type")
        if "filename" not in options:
            ct_options = _parse_header_options(content_type or "")[1]
            self._part_charset = ct_options.get("charset", self._charset)
            self._check_charset(self._part_charset)
            return
        self._files += 1
        if self._files > self.limits.max_files:
            raise BadRequest(
                "The form has more files than the max_files limit of "
                f"{self.limits.max_files}."
            )
        upload = UploadFile(
            _decode_header_text(options["filename"].encode("latin-1")),
            content_type=content_type or "application/octet-stream",
            headers=headers,
            spool_max_size=self.limits.spool_max_size,
        )
        self._uploads.append(upload)
        self._part_file = upload

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        upload = self._part_file
        if upload is None:
            if len(self._part_value) + (end - start) > self.limits.max_part_size:
                raise RequestEntityTooLarge(
                    f"The form field {self._part_name!r} exceeds the max_part_size "
                    f"limit of {self.limits.max_part_size} bytes."
                )
            self._part_value += data[start:end]
            return
        max_file_size = self.limits.max_file_size
        if max_file_size is not None and upload.size + (end - start) > max_file_size:
            raise RequestEntityTooLarge(
                f"The uploaded file {upload.filename!r} exceeds the max_file_size "
                f"limit of {max_file_size} bytes."
            )
        upload.write(data[start:end])

    def _on_part_end(self) -> None:
        upload = self._part_file
        if upload is None:
            value = _decode_text(
                bytes(self._part_value),
                self._part_charset,
                f"The form field {self._part_name!r}",
            )
            self._items.append((self._part_name, value))
        else:
            upload.file.seek(0)
            self._items.append((self._part_name, upload))
        self._part_value = bytearray()
        self._part_file = None

    def _on_end(self) -> None:
        self._ended = True


_DEFAULT_LIMITS = FormLimits()


async def parse_form(
    content_type: str,
    chunks: AsyncIterator[bytes],
    limits: FormLimits = _DEFAULT_LIMITS,
) -> FormData:
    """Parse a form body read from an async iterator of chunks.

    Chunks written to an upload that has rolled over to disk are parsed in a worker
    thread, so the event loop is not blocked on disk I/O.

    Args:
        content_type: The request's ``Content-Type`` header.
        chunks: The body, chunk by chunk.
        limits: The caps on sizes and counts.

    Returns:
        The parsed form. Close it (:meth:`FormData.close`) when done with it.

    Raises:
        HTTPException: 415 for a content type that is not a form type.
        BadRequest: For a malformed body or too many fields or files.
        RequestEntityTooLarge: When a size limit is exceeded.
    """
    parser = FormParser(content_type, limits)
    try:
        async for chunk in chunks:
            if parser.writes_to_disk:
                await asyncio.to_thread(parser.feed, chunk)
            else:
                parser.feed(chunk)
        return parser.finish()
    except BaseException:
        parser.close()
        raise


def parse_form_sync(
    content_type: str,
    chunks: Iterable[bytes],
    limits: FormLimits = _DEFAULT_LIMITS,
) -> FormData:
    """Parse a form body read from an iterable of chunks (blocking).

    Args:
        content_type: The request's ``Content-Type`` header.
        chunks: The body, chunk by chunk (a single ``bytes`` object in a list works).
        limits: The caps on sizes and counts.

    Returns:
        The parsed form. Close it (:meth:`FormData.close_sync`) when done with it.

    Raises:
        HTTPException: 415 for a content type that is not a form type.
        BadRequest: For a malformed body or too many fields or files.
        RequestEntityTooLarge: When a size limit is exceeded.
    """
    parser = FormParser(content_type, limits)
    try:
        for chunk in chunks:
            parser.feed(chunk)
        return parser.finish()
    except BaseException:
        parser.close()
        raise
