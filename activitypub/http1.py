"""One keep-alive HTTP/1.1 client connection over asyncio streams.

`Connection.request` writes a request rendered by `render_request` and reads its
answer, framed as RFC 9112 §6.3 says: no body for 1xx, 204 and 304 (interim 1xx
answers are skipped); ``Transfer-Encoding`` ending in ``chunked``; ``Content-Length``;
otherwise the body runs until the server closes. At most ``max_body_bytes`` of a body
are read. A connection is reusable only after an HTTP/1.1 answer that did not say
``Connection: close`` and whose body was read to its end.

Failures: `FetchFailed` for an answer that is not HTTP/1.1 or that breaks off,
`ConnectionClosed` (a `FetchFailed`) when the server closed the connection before any
byte of an answer, which on a reused connection is the race with the server's idle
timeout; the stream's own ``OSError`` (``ssl.SSLError`` included) for the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass

from activitypub.errors import ConnectionClosed, FetchFailed, FetchRefused

#: The status line and headers of an answer, and each chunk-size or trailer line.
MAX_HEAD_BYTES = 64 * 1024
_NO_BODY = frozenset({204, 304})
_STATUS_LINE_RE = re.compile(r"HTTP/1\.([01]) ([1-9][0-9][0-9])(?: [^\r\n]*)?")
_CHUNK_SIZE_RE = re.compile(rb"([0-9A-Fa-f]{1,15})[ \t]*(?:;[^\r\n]*)?\r\n")
_TOKEN_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_TARGET_RE = re.compile(r"/[\x21-\x7e]*")


@dataclass(frozen=True, slots=True)
class Answer:
    """A server's answer: status, headers (lowercase names, repeats joined with ", ")
    and as much of the body as was read."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    #: Whether the connection may carry another request.
    reusable: bool


def render_request(
    method: str, target: str, headers: Mapping[str, str], body: bytes = b""
) -> bytes:
    """The request's head (``Content-Length`` added) and body, ready to write.

    Raises `FetchRefused` for a target or a header that would not be one line of
    ASCII: it must not be able to smuggle another header or request in.
    """
    if not _TARGET_RE.fullmatch(target):
        raise FetchRefused(f"{target!r} cannot be sent as a request target")
    lines = [f"{method} {target} HTTP/1.1"]
    for name, value in headers.items():
        # isprintable() refuses CR, LF and every other control character.
        if not (_TOKEN_RE.fullmatch(name) and value.isprintable() and value.isascii()):
            raise FetchRefused(f"the header {name!r} cannot be sent")
        lines.append(f"{name}: {value}")
    lines.append(f"Content-Length: {len(body)}\r\n\r\n")
    return "\r\n".join(lines).encode("ascii") + body


class Connection:
    """A TCP (or TLS) connection that carries one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        #: ``time.monotonic()`` when it last became idle (set by the pool that keeps it).
        self.idle_since = 0.0

    @classmethod
    async def open(
        cls,
        address: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
    ) -> Connection:
        """Connect to ``address`` (a literal); with TLS, verify ``server_hostname``."""
        reader, writer = await asyncio.open_connection(
            address,
            port,
            ssl=ssl_context,
            server_hostname=server_hostname if ssl_context is not None else None,
            limit=MAX_HEAD_BYTES,
        )
        return cls(reader, writer)

    @property
    def closed(self) -> bool:
        """Whether the server closed it, or we did."""
        return self._reader.at_eof() or self._writer.is_closing()

    def close(self) -> None:
        self._writer.close()

    async def wait_closed(self) -> None:
        self._writer.close()
        # A peer that reset the connection (ssl.SSLError is an OSError) has closed it too.
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()

    async def request(self, request: bytes, *, origin: str, max_body_bytes: int) -> Answer:
        """Send ``request`` (from `render_request`) and read the answer to it."""
        try:
            self._writer.write(request)
            await self._writer.drain()
            head = await self._reader.readuntil(b"\r\n\r\n")
        except (ConnectionResetError, BrokenPipeError):
            raise ConnectionClosed(origin) from None
        except asyncio.IncompleteReadError as error:
            if error.partial:
                raise FetchFailed(f"{origin} closed the connection in an answer") from None
            raise ConnectionClosed(origin) from None
        except asyncio.LimitOverrunError:
            raise FetchFailed(f"{origin} sent an overlong answer head") from None
        try:
            return await _read_answer(self._reader, head, max_body_bytes)
        except asyncio.IncompleteReadError:
            raise FetchFailed(f"{origin} closed the connection in an answer") from None
        except (asyncio.LimitOverrunError, _Malformed) as error:
            raise FetchFailed(f"{origin} sent an answer that is not HTTP/1.1: {error}") from None


class _Malformed(Exception):
    """An answer we cannot read as HTTP/1.1 (the message says where)."""


async def _read_answer(reader: asyncio.StreamReader, head: bytes, max_body_bytes: int) -> Answer:
    while True:
        status, minor_version, headers = _parse_head(head)
        if status >= 200:
            break
        if status == 101:
            raise _Malformed("the server switched protocols")
        head = await reader.readuntil(b"\r\n\r\n")  # the answer after an interim one
    connection = _tokens(headers.get("connection", ""))
    keep_alive = minor_version == 1 and "close" not in connection
    if status in _NO_BODY:
        return Answer(status, headers, b"", keep_alive)
    if "transfer-encoding" in headers:
        if _tokens(headers["transfer-encoding"])[-1:] != ["chunked"]:
            return Answer(status, headers, await _read_to_close(reader, max_body_bytes), False)
        body, complete = await _read_chunked(reader, max_body_bytes)
        # A Content-Length beside chunked may have been meant to smuggle: do not reuse.
        reusable = keep_alive and complete and "content-length" not in headers
        return Answer(status, headers, body, reusable)
    if "content-length" not in headers:
        return Answer(status, headers, await _read_to_close(reader, max_body_bytes), False)
    length = _content_length(headers["content-length"])
    if length > max_body_bytes:
        return Answer(status, headers, b"", False)  # not worth reading: close instead
    body = await reader.readexactly(length) if length else b""
    return Answer(status, headers, body, keep_alive)


def _parse_head(head: bytes) -> tuple[int, int, dict[str, str]]:
    """Status, HTTP/1.x minor version and headers of a head ending in an empty line."""
    status_line, *lines = head[:-4].decode("latin-1").split("\r\n")
    match = _STATUS_LINE_RE.fullmatch(status_line)
    if match is None:
        raise _Malformed(f"bad status line {status_line[:80]!r}")
    headers: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN_RE.fullmatch(name):
            raise _Malformed(f"bad header line {line[:80]!r}")
        name, value = name.lower(), value.strip(" \t")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return int(match[2]), int(match[1]), headers


def _tokens(value: str) -> list[str]:
    return [token.strip().lower() for token in value.split(",") if token.strip()]


def _content_length(value: str) -> int:
    # Repeated headers were joined; identical repeats are allowed (RFC 9110 §8.6).
    lengths = {length.strip() for length in value.split(",")}
    if len(lengths) != 1 or not (length := lengths.pop()).isdigit() or not length.isascii():
        raise _Malformed(f"bad Content-Length {value[:40]!r}")
    return int(length)


async def _read_chunked(reader: asyncio.StreamReader, max_body_bytes: int) -> tuple[bytes, bool]:
    """The decoded body, and whether it was read to its end (within the cap)."""
    parts: list[bytes] = []
    size_read = 0
    while True:
        match = _CHUNK_SIZE_RE.fullmatch(await reader.readuntil(b"\r\n"))
        if match is None:
            raise _Malformed("bad chunk size")
        size = int(match[1], 16)
        if size == 0:
            break
        if size_read + size > max_body_bytes:
            return b"".join(parts), False
        chunk = await reader.readexactly(size + 2)
        if not chunk.endswith(b"\r\n"):
            raise _Malformed("a chunk is longer than its size")
        parts.append(chunk[:-2])
        size_read += size
    trailers = 0
    while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
        trailers += len(line)
        if trailers > MAX_HEAD_BYTES:
            raise _Malformed("too many trailers")
    return b"".join(parts), True


async def _read_to_close(reader: asyncio.StreamReader, max_body_bytes: int) -> bytes:
    parts: list[bytes] = []
    size_read = 0
    while size_read < max_body_bytes and (part := await reader.read(max_body_bytes - size_read)):
        parts.append(part)
        size_read += len(part)
    return b"".join(parts)
