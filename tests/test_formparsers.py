"""Tests for kettle.formparsers: urlencoded and multipart form parsing."""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import AsyncIterator
from collections.abc import Iterable
from pathlib import Path

import pytest

from kettle.exceptions import BadRequest
from kettle.exceptions import BadRequestKeyError
from kettle.exceptions import HTTPException
from kettle.exceptions import RequestEntityTooLarge
from kettle.formparsers import FormData
from kettle.formparsers import FormLimits
from kettle.formparsers import FormParser
from kettle.formparsers import UploadFile
from kettle.formparsers import parse_form
from kettle.formparsers import parse_form_sync

URLENCODED = "application/x-www-form-urlencoded"
BOUNDARY = "----KettleBoundary7MA4YWxk"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"

Part = tuple[str, str | bytes, str | None, str | None]  # name, value, filename, type


def multipart_body(
    parts: Iterable[Part],
    boundary: str = BOUNDARY,
    extra_headers: Iterable[str] = (),
) -> bytes:
    """Build a multipart/form-data body from (name, value, filename, type) parts."""
    out = bytearray()
    for name, value, filename, content_type in parts:
        out += f"--{boundary}\r\n".encode()
        disposition = f'Content-Disposition: form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += disposition.encode() + b"\r\n"
        if content_type is not None:
            out += f"Content-Type: {content_type}\r\n".encode()
        for header in extra_headers:
            out += header.encode() + b"\r\n"
        out += b"\r\n"
        out += value.encode() if isinstance(value, str) else value
        out += b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out)


SAMPLE_PARTS: list[Part] = [
    ("title", "Hello, wörld", None, None),
    ("tag", "a", None, None),
    ("tag", "b", None, None),
    ("empty", "", None, None),
    ("doc", b"line one\r\nline two\r\n--not-a-boundary\r\n", "notes.txt", "text/plain"),
    ("blob", bytes(range(256)) * 4, "data.bin", None),
]
SAMPLE_BODY = multipart_body(SAMPLE_PARTS)


def snapshot(form: FormData) -> list[tuple[str, object]]:
    """A comparable view of a form: uploads become (filename, type, size, data)."""
    result: list[tuple[str, object]] = []
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            data = value.file.read()
            value.file.seek(0)
            result.append((key, (value.filename, value.content_type, value.size, data)))
        else:
            result.append((key, value))
    return result


def parse(
    body: bytes, content_type: str = MULTIPART, limits: FormLimits | None = None
) -> FormData:
    return parse_form_sync(content_type, [body], limits or FormLimits())


def assert_no_leaked_files(func: object) -> None:
    """Run ``func`` and check that no temporary file was left unclosed."""
    assert callable(func)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        func()
        gc.collect()
    leaks = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaks, [str(w.message) for w in leaks]


# -- FormLimits ----------------------------------------------------------------


def test_limits_defaults() -> None:
    limits = FormLimits()
    assert limits.max_body_size == 1024 * 1024
    assert limits.max_upload_size == 100 * 1024 * 1024
    assert limits.max_fields == 1000
    assert limits.max_files == 100
    assert limits.max_part_size == 1024 * 1024
    assert limits.max_file_size is None
    assert limits.max_part_header_size == 16 * 1024
    assert limits.spool_max_size == 1024 * 1024


def test_limits_are_frozen_and_validated() -> None:
    limits = FormLimits()
    with pytest.raises(AttributeError):
        limits.max_fields = 5  # type: ignore[misc]
    with pytest.raises(ValueError, match="max_fields"):
        FormLimits(max_fields=-1)
    with pytest.raises(ValueError, match="max_file_size"):
        FormLimits(max_file_size=-1)


# -- urlencoded ----------------------------------------------------------------


def test_urlencoded_repeated_keys_and_blank_values() -> None:
    form = parse(b"a=1&a=2&b=&c&msg=hello+world%21&u=%C3%A9t%C3%A9", URLENCODED)
    assert form.getlist("a") == ["1", "2"]
    assert form["a"] == "2"
    assert form["b"] == ""
    assert form["c"] == ""
    assert form["msg"] == "hello world!"
    assert form["u"] == "été"
    assert len(form) == 5


def test_urlencoded_empty_body() -> None:
    form = parse_form_sync(URLENCODED, [], FormLimits())
    assert len(form) == 0


def test_urlencoded_charset_parameter() -> None:
    form = parse(b"name=%E9t%E9", f"{URLENCODED}; charset=latin-1")
    assert form["name"] == "été"


def test_urlencoded_invalid_utf8_is_bad_request() -> None:
    with pytest.raises(BadRequest, match="utf-8") as info:
        parse(b"name=%FF%FE", URLENCODED)
    assert info.value.status_code == 400


def test_urlencoded_unknown_charset_is_bad_request() -> None:
    with pytest.raises(BadRequest, match="charset"):
        parse(b"a=1", f"{URLENCODED}; charset=no-such-codec")


def test_urlencoded_over_max_body_size() -> None:
    limits = FormLimits(max_body_size=10)
    assert parse(b"a=12345678", URLENCODED, limits)["a"] == "12345678"
    with pytest.raises(RequestEntityTooLarge, match="max_body_size.*10 bytes") as info:
        parse_form_sync(URLENCODED, [b"a=12345", b"6789"], limits)
    assert info.value.status_code == 413


def test_urlencoded_too_many_fields() -> None:
    limits = FormLimits(max_fields=3)
    assert len(parse(b"a=1&b=2&c=3", URLENCODED, limits)) == 3
    with pytest.raises(BadRequest, match="max_fields limit of 3") as info:
        parse(b"a=1&b=2&c=3&d=4", URLENCODED, limits)
    assert info.value.status_code == 400


def test_urlencoded_byte_by_byte() -> None:
    body = b"a=1&a=2&b=&c&msg=hello+world%21&u=%C3%A9t%C3%A9"
    chunks = [body[i : i + 1] for i in range(len(body))]
    form = parse_form_sync(URLENCODED, chunks, FormLimits())
    assert form.multi_items() == parse(body, URLENCODED).multi_items()


# -- content types -------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", ""])
def test_unsupported_content_type(content_type: str) -> None:
    with pytest.raises(HTTPException, match="x-www-form-urlencoded") as info:
        parse(b"{}", content_type)
    assert info.value.status_code == 415
    assert "multipart/form-data" in str(info.value.detail)


def test_content_type_is_case_insensitive() -> None:
    form = parse(b"a=1", "Application/X-WWW-Form-URLEncoded")
    assert form["a"] == "1"
    form = parse(SAMPLE_BODY, f'Multipart/Form-Data; Boundary="{BOUNDARY}"')
    try:
        assert form["title"] == "Hello, wörld"
    finally:
        form.close_sync()


# -- multipart -----------------------------------------------------------------


def test_multipart_fields_and_files() -> None:
    form = parse(SAMPLE_BODY)
    try:
        assert form["title"] == "Hello, wörld"
        assert form.getlist("tag") == ["a", "b"]
        assert form["empty"] == ""

        doc = form["doc"]
        assert isinstance(doc, UploadFile)
        assert doc.filename == "notes.txt"
        assert doc.content_type == "text/plain"
        assert doc.size == len(SAMPLE_PARTS[4][1])
        assert doc.headers["content-type"] == "text/plain"
        assert "notes.txt" in doc.headers["Content-Disposition"]
        assert doc.in_memory
        assert repr(doc) == (
            "UploadFile(filename='notes.txt', content_type='text/plain', size=38)"
        )

        blob = form["blob"]
        assert isinstance(blob, UploadFile)
        assert blob.filename == "data.bin"
        assert blob.content_type == "application/octet-stream"
        assert blob.size == 1024
        assert blob.file.read() == bytes(range(256)) * 4
    finally:
        form.close_sync()
    assert doc.closed and blob.closed


def test_upload_file_async_methods(tmp_path: Path) -> None:
    async def main() -> None:
        form = parse(SAMPLE_BODY)
        try:
            doc = form["doc"]
            assert isinstance(doc, UploadFile)
            assert await doc.read(4) == b"line"
            assert await doc.read() == b" one\r\nline two\r\n--not-a-boundary\r\n"
            assert await doc.read() == b""
            await doc.seek(5)
            assert await doc.read(3) == b"one"

            target = tmp_path / "saved.txt"
            written = await doc.save(target)
            assert written == doc.size
            assert target.read_bytes() == SAMPLE_PARTS[4][1]
            # The position is restored after saving.
            assert await doc.read(2) == b"\r\n"
        finally:
            await form.close()
        assert doc.closed

    asyncio.run(main())


def test_filename_edge_cases() -> None:
    body = multipart_body(
        [
            ("f1", b"", "", None),
            ("f2", b"x", "r\u00e9sum\u00e9.pdf", "application/pdf"),
            ("f3", b"y", "C:\\Users\\me\\a.txt", None),
        ]
    )
    form = parse(body)
    try:
        f1, f2, f3 = form["f1"], form["f2"], form["f3"]
        assert isinstance(f1, UploadFile) and f1.filename == "" and f1.size == 0
        assert isinstance(f2, UploadFile) and f2.filename == "résumé.pdf"
        assert isinstance(f3, UploadFile) and f3.filename == "C:\\Users\\me\\a.txt"
    finally:
        form.close_sync()


def test_field_charset_parameter() -> None:
    body = multipart_body(
        [("name", "été".encode("latin-1"), None, "text/plain; charset=latin-1")]
    )
    assert parse(body)["name"] == "été"


def test_field_invalid_utf8_is_bad_request() -> None:
    body = multipart_body([("name", b"\xff\xfe", None, None)])
    with pytest.raises(BadRequest, match="'name' is not valid utf-8"):
        parse(body)


def test_empty_multipart_body() -> None:
    form = parse(f"--{BOUNDARY}--\r\n".encode())
    assert len(form) == 0


def test_preamble_and_epilogue_are_ignored() -> None:
    body = b"\r\n" + SAMPLE_BODY + b"epilogue text"
    form = parse(body)
    try:
        assert form["title"] == "Hello, wörld"
    finally:
        form.close_sync()


def test_large_file_rolls_over_to_disk(tmp_path: Path) -> None:
    data = bytes(range(251)) * 400  # 100400 bytes, not a multiple of the spool size
    body = multipart_body([("big", data, "big.bin", None), ("after", "ok", None, None)])
    limits = FormLimits(spool_max_size=1024)

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 4096):
            yield body[i : i + 4096]

    async def main() -> None:
        form = await parse_form(MULTIPART, chunks(), limits)
        try:
            big = form["big"]
            assert isinstance(big, UploadFile)
            assert not big.in_memory
            assert big.size == len(data)
            assert form["after"] == "ok"
            assert await big.read(10) == data[:10]
            await big.seek(0)
            assert await big.read() == data
            target = tmp_path / "big.bin"
            assert await big.save(target) == len(data)
            assert target.read_bytes() == data
        finally:
            await form.close()
        assert big.closed

    asyncio.run(main())


def test_sync_driver_with_file_on_disk() -> None:
    data = b"z" * 5000
    body = multipart_body([("big", data, "z.txt", "text/plain")])
    form = parse(body, limits=FormLimits(spool_max_size=100))
    try:
        big = form["big"]
        assert isinstance(big, UploadFile)
        assert not big.in_memory
        assert big.file.read() == data
    finally:
        form.close_sync()


# -- chunk boundaries ----------------------------------------------------------


def test_byte_by_byte_gives_same_result() -> None:
    whole = parse(SAMPLE_BODY)
    one_by_one = parse_form_sync(
        MULTIPART, [SAMPLE_BODY[i : i + 1] for i in range(len(SAMPLE_BODY))]
    )
    try:
        assert snapshot(one_by_one) == snapshot(whole)
    finally:
        whole.close_sync()
        one_by_one.close_sync()


def test_every_two_way_split_gives_same_result() -> None:
    parts: list[Part] = [
        ("a", "first\r\n", None, None),
        # Near-misses of the delimiter exercise the parser's look-behind.
        ("f", b"--\r\n-\r\n--" + BOUNDARY[:-1].encode() + b"X", "f.txt", None),
        ("b", "last", None, None),
    ]
    body = multipart_body(parts)
    expected = parse(body)
    try:
        want = snapshot(expected)
    finally:
        expected.close_sync()
    for i in range(len(body) + 1):
        form = parse_form_sync(MULTIPART, [body[:i], body[i:]])
        try:
            assert snapshot(form) == want, i
        finally:
            form.close_sync()


def test_async_byte_by_byte() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(len(SAMPLE_BODY)):
            yield SAMPLE_BODY[i : i + 1]

    async def main() -> list[tuple[str, object]]:
        form = await parse_form(MULTIPART, chunks(), FormLimits())
        try:
            return snapshot(form)
        finally:
            await form.close()

    whole = parse(SAMPLE_BODY)
    try:
        assert asyncio.run(main()) == snapshot(whole)
    finally:
        whole.close_sync()


# -- malformed multipart -------------------------------------------------------


def test_missing_boundary() -> None:
    with pytest.raises(BadRequest, match="no boundary") as info:
        parse(SAMPLE_BODY, "multipart/form-data")
    assert info.value.status_code == 400


def test_invalid_boundary_parameter() -> None:
    with pytest.raises(BadRequest, match="boundary is invalid"):
        parse(SAMPLE_BODY, "multipart/form-data; boundary=" + "x" * 300)


def test_body_with_other_boundary() -> None:
    with pytest.raises(BadRequest, match="Malformed multipart body"):
        parse(SAMPLE_BODY, "multipart/form-data; boundary=something-else")


def test_truncated_body() -> None:
    body = SAMPLE_BODY[: -len(f"--{BOUNDARY}--\r\n")]
    with pytest.raises(BadRequest, match="closing boundary") as info:
        parse(body)
    assert info.value.status_code == 400


def test_truncated_body_closes_files_on_disk() -> None:
    body = multipart_body([("big", b"q" * 10_000, "q.bin", None)])
    limits = FormLimits(spool_max_size=100)

    def run() -> None:
        with pytest.raises(BadRequest, match="closing boundary"):
            parse(body[:5000], limits=limits)

    assert_no_leaked_files(run)


def test_empty_body_is_truncated() -> None:
    with pytest.raises(BadRequest, match="closing boundary"):
        parse(b"")


def test_garbage_after_boundary() -> None:
    with pytest.raises(BadRequest, match="Malformed multipart body"):
        parse(f"--{BOUNDARY}XX\r\n".encode())


def test_part_without_content_disposition() -> None:
    body = f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nx\r\n--{BOUNDARY}--\r\n"
    with pytest.raises(BadRequest, match="no Content-Disposition"):
        parse(body.encode())


def test_part_without_name() -> None:
    body = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; filename="a.txt"\r\n'
        f"\r\nx\r\n--{BOUNDARY}--\r\n"
    )
    with pytest.raises(BadRequest, match="has no name") as info:
        parse(body.encode())
    assert info.value.status_code == 400


def test_feed_after_error_is_refused() -> None:
    parser = FormParser(MULTIPART, FormLimits())
    with pytest.raises(BadRequest):
        parser.feed(b"nonsense\r\n")
    with pytest.raises(RuntimeError):
        parser.feed(b"more")


# -- limits --------------------------------------------------------------------


def test_max_upload_size() -> None:
    limits = FormLimits(max_upload_size=len(SAMPLE_BODY))
    parse(SAMPLE_BODY, limits=limits).close_sync()
    limits = FormLimits(max_upload_size=len(SAMPLE_BODY) - 1)
    with pytest.raises(
        RequestEntityTooLarge, match=f"max_upload_size limit of {len(SAMPLE_BODY) - 1}"
    ) as info:
        parse_form_sync(MULTIPART, [SAMPLE_BODY[:100], SAMPLE_BODY[100:]], limits)
    assert info.value.status_code == 413


def test_max_upload_size_closes_files_on_disk() -> None:
    body = multipart_body([("big", b"q" * 10_000, "q.bin", None)])
    limits = FormLimits(spool_max_size=100, max_upload_size=8000)

    def run() -> None:
        chunks = [body[i : i + 1000] for i in range(0, len(body), 1000)]
        with pytest.raises(RequestEntityTooLarge, match="max_upload_size"):
            parse_form_sync(MULTIPART, chunks, limits)

    assert_no_leaked_files(run)


def test_max_part_size() -> None:
    body = multipart_body([("text", "x" * 11, None, None)])
    assert parse(body, limits=FormLimits(max_part_size=11))["text"] == "x" * 11
    with pytest.raises(
        RequestEntityTooLarge, match="'text' exceeds the max_part_size limit of 10"
    ) as info:
        parse(body, limits=FormLimits(max_part_size=10))
    assert info.value.status_code == 413


def test_max_part_size_does_not_apply_to_files() -> None:
    body = multipart_body([("f", b"x" * 100, "f.txt", None)])
    form = parse(body, limits=FormLimits(max_part_size=10))
    try:
        upload = form["f"]
        assert isinstance(upload, UploadFile) and upload.size == 100
    finally:
        form.close_sync()


def test_max_file_size() -> None:
    body = multipart_body(
        [("f", b"x" * 100, "f.txt", None), ("g", "y" * 200, None, None)]
    )
    form = parse(body, limits=FormLimits(max_file_size=100))
    form.close_sync()
    with pytest.raises(
        RequestEntityTooLarge, match="'f.txt' exceeds the max_file_size limit of 99"
    ) as info:
        parse(body, limits=FormLimits(max_file_size=99))
    assert info.value.status_code == 413


def test_max_file_size_closes_files_on_disk() -> None:
    body = multipart_body(
        [("a", b"a" * 1000, "a.bin", None), ("b", b"b" * 3000, "b.bin", None)]
    )
    limits = FormLimits(spool_max_size=100, max_file_size=2000)

    def run() -> None:
        with pytest.raises(RequestEntityTooLarge, match="'b.bin'"):
            parse_form_sync(
                MULTIPART, [body[i : i + 7] for i in range(0, len(body), 7)], limits
            )

    assert_no_leaked_files(run)


def test_leak_check_detects_unclosed_files() -> None:
    # Guard for the tests above: an unclosed on-disk upload is noticed.
    def run() -> None:
        upload = UploadFile("x", spool_max_size=1)
        upload.write(b"data")
        assert not upload.in_memory

    with pytest.raises(AssertionError, match="(?i)unclosed"):
        assert_no_leaked_files(run)


def test_max_part_header_size_single_header() -> None:
    body = multipart_body(
        [("a", "1", None, None)], extra_headers=["X-Long: " + "v" * 300]
    )
    parse(body, limits=FormLimits(max_part_header_size=1000))
    with pytest.raises(
        RequestEntityTooLarge, match="max_part_header_size limit of 200 bytes"
    ) as info:
        parse(body, limits=FormLimits(max_part_header_size=200))
    assert info.value.status_code == 413


def test_max_part_header_size_many_headers() -> None:
    headers = [f"X-H{i}: " + "v" * 50 for i in range(6)]
    body = multipart_body([("a", "1", None, None)], extra_headers=headers)
    parse(body, limits=FormLimits(max_part_header_size=1000))
    with pytest.raises(
        RequestEntityTooLarge, match="max_part_header_size limit of 200"
    ):
        parse(body, limits=FormLimits(max_part_header_size=200))
    # The same result when the headers arrive byte by byte.
    with pytest.raises(RequestEntityTooLarge, match="max_part_header_size"):
        parse_form_sync(
            MULTIPART,
            [body[i : i + 1] for i in range(len(body))],
            FormLimits(max_part_header_size=200),
        )


def test_max_fields_multipart() -> None:
    body = multipart_body([(f"f{i}", str(i), None, None) for i in range(4)])
    assert len(parse(body, limits=FormLimits(max_fields=4))) == 4
    with pytest.raises(BadRequest, match="max_fields limit of 3") as info:
        parse(body, limits=FormLimits(max_fields=3))
    assert info.value.status_code == 400


def test_max_fields_counts_files() -> None:
    body = multipart_body([("a", "1", None, None), ("f", b"x", "f.txt", None)])
    with pytest.raises(BadRequest, match="max_fields limit of 1"):
        parse(body, limits=FormLimits(max_fields=1))


def test_max_files() -> None:
    body = multipart_body([(f"f{i}", b"x", f"{i}.txt", None) for i in range(3)])
    parse(body, limits=FormLimits(max_files=3)).close_sync()
    with pytest.raises(BadRequest, match="max_files limit of 2") as info:
        parse(body, limits=FormLimits(max_files=2))
    assert info.value.status_code == 400


def test_max_files_closes_files_on_disk() -> None:
    body = multipart_body([(f"f{i}", b"x" * 500, f"{i}.txt", None) for i in range(3)])
    limits = FormLimits(max_files=2, spool_max_size=100)

    def run() -> None:
        with pytest.raises(BadRequest, match="max_files"):
            parse(body, limits=limits)

    assert_no_leaked_files(run)


# -- FormData ------------------------------------------------------------------


def test_missing_key_is_bad_request_key_error() -> None:
    form = parse(b"a=1", URLENCODED)
    with pytest.raises(BadRequestKeyError) as info:
        form["missing"]
    assert isinstance(info.value, KeyError)
    assert isinstance(info.value, BadRequest)
    assert info.value.status_code == 400
    assert "'missing'" in str(info.value) and "form" in str(info.value)
    with pytest.raises(KeyError):
        form["missing"]
    assert form.get("missing") is None


def test_form_data_close_closes_every_upload() -> None:
    async def main() -> None:
        form = parse(SAMPLE_BODY, limits=FormLimits(spool_max_size=10))
        uploads = form.uploads()
        assert len(uploads) == 2
        assert not any(u.in_memory for u in uploads)
        await form.close()
        assert all(u.closed for u in uploads)

    asyncio.run(main())


def test_parser_used_directly() -> None:
    parser = FormParser(MULTIPART, FormLimits())
    for i in range(0, len(SAMPLE_BODY), 10):
        parser.feed(SAMPLE_BODY[i : i + 10])
    parser.feed(b"")
    form = parser.finish()
    try:
        assert form["title"] == "Hello, wörld"
    finally:
        form.close_sync()
    with pytest.raises(RuntimeError):
        parser.finish()


def test_close_abandons_parser() -> None:
    def run() -> None:
        parser = FormParser(MULTIPART, FormLimits(spool_max_size=10))
        parser.feed(SAMPLE_BODY[: len(SAMPLE_BODY) // 2])
        assert parser.writes_to_disk
        parser.close()

    assert_no_leaked_files(run)
