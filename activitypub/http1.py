"""One keep-alive HTTP/1.1 client connection: an asyncio protocol with its own buffer.

`Connection.request` writes a request rendered by `render_request` and reads its
answer, framed as RFC 9112 §6.3 says: no body for 1xx, 204 and 304 (interim 1xx
answers are skipped); ``Transfer-Encoding`` ending in ``chunked``; ``Content-Length``;
otherwise the body runs until the server closes. At most ``max_body_bytes`` of a body
are read. A connection is reusable only after an HTTP/1.1 answer that did not say
``Connection: close`` and whose body was read to its end.

Failures: `FetchFailed` for an answer that is not HTTP/1.1 or that breaks off,
`ConnectionClosed` (a `FetchFailed`) when the server closed the connection before any
byte of an answer, which on a reused connection is the race with the server's idle
timeout; the transport's own ``OSError`` (``ssl.SSLError`` included) for the rest.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from activitypub.errors import ConnectionClosed, FetchFailed, FetchRefused

#: The status line and headers of an answer, and each chunk-size or trailer line.
MAX_HEAD_BYTES = 64 * 1024
#: Past this many unread bytes, the connection stops reading until they are taken.
_MAX_BUFFERED_BYTES = 4 * MAX_HEAD_BYTES
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


class Connection(asyncio.Protocol):
    """A TCP (or TLS) connection that carries one request at a time.

    A plain `asyncio.Protocol` with its own buffer, not asyncio's streams: a new
    StreamReader, StreamReaderProtocol and StreamWriter per connection, and their
    readuntil, drain and wake-ups per request, cost ~30 µs more per delivery on a new
    connection, an eighth of a signature. The answer usually arrives in one piece and
    is read from the buffer without waiting again.
    """

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future[None] | None = None
        #: The server closed its side, or the connection is gone.
        self._ended = False
        #: The connection is gone (`connection_lost` was called).
        self._lost = False
        #: What broke the connection, if something did: reads raise it, as streams do.
        self._error: Exception | None = None
        self._paused = False
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
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(
            cls,
            address,
            port,
            ssl=ssl_context,
            server_hostname=server_hostname if ssl_context is not None else None,
        )
        return connection

    # The protocol's side: the event loop calls these.

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio.Transport, only alike.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) > _MAX_BUFFERED_BYTES and not self._paused:
            self._paused = True
            self._transport.pause_reading()  # type: ignore[union-attr]
        self._wake()

    def eof_received(self) -> bool:
        self._ended = True
        self._wake()
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self._ended = self._lost = True
        self._error = exc
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    # The client's side.

    @property
    def closed(self) -> bool:
        """Whether it can carry no further request: closed by the server or by us, or
        holding bytes the server sent unasked (they would be taken for the answer)."""
        transport = self._transport
        return self._ended or bool(self._buffer) or transport is None or transport.is_closing()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    async def wait_closed(self) -> None:
        self.close()
        while not self._lost:
            await self._more()

    async def request(self, request: bytes, *, origin: str, max_body_bytes: int) -> Answer:
        """Send ``request`` (from `render_request`) and read the answer to it."""
        if self._transport is None or self._ended:
            raise ConnectionClosed(origin)
        self._transport.write(request)
        try:
            head = await self._read_until(b"\r\n\r\n", MAX_HEAD_BYTES)
        except (ConnectionResetError, BrokenPipeError):
            raise ConnectionClosed(origin) from None
        except _Incomplete as error:
            if error.partial:
                raise FetchFailed(f"{origin} closed the connection in an answer") from None
            raise ConnectionClosed(origin) from None
        except _Malformed:
            raise FetchFailed(f"{origin} sent an overlong answer head") from None
        try:
            return await self._read_answer(head, max_body_bytes)
        except _Incomplete:
            raise FetchFailed(f"{origin} closed the connection in an answer") from None
        except _Malformed as error:
            raise FetchFailed(f"{origin} sent an answer that is not HTTP/1.1: {error}") from None

    async def _more(self) -> None:
        """Wait for more bytes, or for the end of the connection."""
        if self._paused:
            self._paused = False
            self._transport.resume_reading()  # type: ignore[union-attr]
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    async def _read_until(self, separator: bytes, limit: int) -> bytes:
        """The buffer up to and including ``separator``, found within ``limit`` bytes."""
        searched = 0
        while (end := self._buffer.find(separator, searched)) < 0:
            if len(self._buffer) > limit:
                raise _Malformed("a line is too long")
            if self._ended:
                raise self._end_of_input()
            searched = max(0, len(self._buffer) - len(separator) + 1)
            await self._more()
        end += len(separator)
        if end > limit:
            raise _Malformed("a line is too long")
        return self._take(end)

    async def _read_exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            if self._ended:
                raise self._end_of_input()
            await self._more()
        return self._take(size)

    async def _read_to_close(self, max_body_bytes: int) -> bytes:
        while len(self._buffer) < max_body_bytes and not self._ended:
            await self._more()
        if self._error is not None:
            raise self._error
        return self._take(min(len(self._buffer), max_body_bytes))

    def _end_of_input(self) -> Exception:
        """What a read that needs more than the connection will bring raises."""
        return self._error or _Incomplete(bool(self._buffer))

    def _take(self, size: int) -> bytes:
        taken = bytes(self._buffer[:size])
        del self._buffer[:size]
        return taken

    async def _read_answer(self, head: bytes, max_body_bytes: int) -> Answer:
        while True:
            status, minor_version, headers = _parse_head(head)
            if status >= 200:
                break
            if status == 101:
                raise _Malformed("the server switched protocols")
            head = await self._read_until(b"\r\n\r\n", MAX_HEAD_BYTES)  # after an interim one
        connection = _tokens(headers.get("connection", ""))
        keep_alive = minor_version == 1 and "close" not in connection
        if status in _NO_BODY:
            return Answer(status, headers, b"", keep_alive)
        if "transfer-encoding" in headers:
            if _tokens(headers["transfer-encoding"])[-1:] != ["chunked"]:
                return Answer(status, headers, await self._read_to_close(max_body_bytes), False)
            body, complete = await self._read_chunked(max_body_bytes)
            # A Content-Length beside chunked may have been meant to smuggle: do not reuse.
            reusable = keep_alive and complete and "content-length" not in headers
            return Answer(status, headers, body, reusable)
        if "content-length" not in headers:
            return Answer(status, headers, await self._read_to_close(max_body_bytes), False)
        length = _content_length(headers["content-length"])
        if length > max_body_bytes:
            return Answer(status, headers, b"", False)  # not worth reading: close instead
        body = await self._read_exactly(length) if length else b""
        return Answer(status, headers, body, keep_alive)

    async def _read_chunked(self, max_body_bytes: int) -> tuple[bytes, bool]:
        """The decoded body, and whether it was read to its end (within the cap)."""
        parts: list[bytes] = []
        size_read = 0
        while True:
            match = _CHUNK_SIZE_RE.fullmatch(await self._read_until(b"\r\n", MAX_HEAD_BYTES))
            if match is None:
                raise _Malformed("bad chunk size")
            size = int(match[1], 16)
            if size == 0:
                break
            if size_read + size > max_body_bytes:
                return b"".join(parts), False
            chunk = await self._read_exactly(size + 2)
            if not chunk.endswith(b"\r\n"):
                raise _Malformed("a chunk is longer than its size")
            parts.append(chunk[:-2])
            size_read += size
        trailers = 0
        while (line := await self._read_until(b"\r\n", MAX_HEAD_BYTES)) != b"\r\n":
            trailers += len(line)
            if trailers > MAX_HEAD_BYTES:
                raise _Malformed("too many trailers")
        return b"".join(parts), True


class _Malformed(Exception):
    """An answer we cannot read as HTTP/1.1 (the message says where)."""


class _Incomplete(Exception):
    """The connection ended before what was being read; ``partial`` if some of it came."""

    def __init__(self, partial: bool) -> None:
        super().__init__()
        self.partial = partial


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
