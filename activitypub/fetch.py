"""Fetching remote documents: signed, size-capped, checked hop by hop.

Every ActivityPub GET is signed (draft-cavage, ``(request-target) host date``) by our
instance actor, so peers in "authorized fetch" mode answer. The rules, after
Mastodon's ``FetchResourceService`` and ``JsonLdHelper#fetch_resource``:

- each URL, the first and every redirect target, passes the `AddressPolicy`
  (scheme, userinfo, every resolved address) before any byte is sent; redirects are
  followed by hand, at most ``max_redirects`` of them;
- one deadline of ``timeout_seconds`` covers the whole fetch, redirects included;
- the body is capped at ``max_body_bytes`` while it streams in, and compressed bodies
  are inflated with the same cap (a small gzip bomb cannot grow past it);
- the answer must be ``application/activity+json`` or ``application/ld+json``;
- the document's ``id`` must equal the URL we asked for, whatever redirects happened
  on the way (``compare_id``); with ``id_is_known=False`` a document whose ``id``
  differs is fetched once more from that ``id``, and must be served there.

Failures are typed: `FetchRefused` (policy), `FetchFailed` with the status (network,
timeout, unexpected status), `Gone` (410), `ResponseTooLarge`, `DocumentInvalid`.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Collection
from typing import Any
from urllib.parse import urljoin

import httpx
import orjson

from activitypub.addresses import AddressPolicy
from activitypub.errors import (
    DocumentInvalid,
    FetchFailed,
    FetchRefused,
    Gone,
    ResponseTooLarge,
)
from activitypub.keys import PrivateKey
from activitypub.signatures import sign_request
from activitypub.vocabulary import (
    ACCEPT_ACTIVITY,
    ACTIVITY_MEDIA_TYPES,
    media_type_of,
)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_INFLATABLE = frozenset({"gzip", "x-gzip", "deflate"})
# zlib detects a gzip or a zlib header by itself with this window size.
_AUTO_WBITS = 32 + zlib.MAX_WBITS


class Fetcher:
    """Gets JSON documents for the instance actor; one per configuration, reusable."""

    __slots__ = (
        "_client",
        "_key_id",
        "_max_body_bytes",
        "_max_redirects",
        "_private_key",
        "_timeout_seconds",
        "policy",
    )

    def __init__(
        self,
        client: httpx.AsyncClient,
        policy: AddressPolicy,
        *,
        key_id: str | None,
        private_key: PrivateKey | None,
        max_body_bytes: int,
        timeout_seconds: float,
        max_redirects: int = 3,
    ) -> None:
        self._client = client
        self.policy = policy
        self._key_id = key_id
        self._private_key = private_key
        self._max_body_bytes = max_body_bytes
        self._timeout_seconds = timeout_seconds
        self._max_redirects = max_redirects

    async def fetch_json(self, url: str, *, id_is_known: bool = True) -> dict[str, Any]:
        """The ActivityStreams document at ``url``, whose ``id`` must be ``url``."""
        document = await self.get_json(
            url, accept=ACCEPT_ACTIVITY, media_types=ACTIVITY_MEDIA_TYPES
        )
        found = document.get("id")
        if found == url:
            return document
        if id_is_known or not isinstance(found, str):
            raise DocumentInvalid(f"the document at {url} has the id {found!r}")
        document = await self.get_json(
            found, accept=ACCEPT_ACTIVITY, media_types=ACTIVITY_MEDIA_TYPES
        )
        if document.get("id") != found:
            raise DocumentInvalid(f"the document at {found} is not served at its id")
        return document

    async def get_json(
        self, url: str, *, accept: str, media_types: Collection[str], signed: bool = True
    ) -> dict[str, Any]:
        """A JSON object from ``url`` (any ``id``), of one of ``media_types``."""
        try:
            async with asyncio.timeout(self._timeout_seconds):
                body = await self._get(url, accept, media_types, signed)
        except TimeoutError:
            raise FetchFailed(f"fetching {url} timed out") from None
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise DocumentInvalid(f"the response from {url} is not JSON") from None
        if not isinstance(document, dict):
            raise DocumentInvalid(f"the response from {url} is not a JSON object")
        return document

    async def _get(
        self, url: str, accept: str, media_types: Collection[str], signed: bool
    ) -> bytes:
        hop = url
        for _ in range(self._max_redirects + 1):
            await self.policy.check_url(hop)
            try:
                async with self._client.stream(
                    "GET",
                    hop,
                    headers=self._headers(hop, accept, signed),
                    follow_redirects=False,
                    timeout=httpx.Timeout(self._timeout_seconds),
                ) as response:
                    if response.status_code not in REDIRECT_STATUSES:
                        _check_response(hop, response, media_types)
                        return await self._read(hop, response)
                    hop = _redirect_target(hop, response)
            except httpx.InvalidURL:
                raise FetchRefused(f"{hop!r} is not a URL we can request") from None
            except httpx.HTTPError as error:
                raise FetchFailed(f"could not fetch {hop}: {type(error).__name__}") from None
        raise FetchFailed(f"{url} redirected more than {self._max_redirects} times")

    def _headers(self, url: str, accept: str, signed: bool) -> dict[str, str]:
        headers = {"Accept": accept, "Accept-Encoding": "gzip, deflate"}
        if signed and self._key_id is not None and self._private_key is not None:
            headers.update(
                sign_request("GET", url, {}, key_id=self._key_id, private_key=self._private_key)
            )
        return headers

    async def _read(self, url: str, response: httpx.Response) -> bytes:
        limit = self._max_body_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise ResponseTooLarge(url, limit)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_raw():
            size += len(chunk)
            if size > limit:
                raise ResponseTooLarge(url, limit)
            chunks.append(chunk)
        return _inflate(url, b"".join(chunks), response.headers.get("content-encoding"), limit)


def _check_response(url: str, response: httpx.Response, media_types: Collection[str]) -> None:
    status = response.status_code
    if status == 410:
        raise Gone(url)
    if not 200 <= status < 300:
        raise FetchFailed(f"{url} answered {status}", status=status)
    media_type = media_type_of(response.headers.get("content-type"))
    if media_type not in media_types:
        raise DocumentInvalid(f"{url} answered with {media_type or 'no media type'}")


def _redirect_target(url: str, response: httpx.Response) -> str:
    location: str | None = response.headers.get("location")
    if not location:
        raise FetchFailed(f"{url} redirected without a location", status=response.status_code)
    return urljoin(url, location)


def _inflate(url: str, body: bytes, encoding: str | None, limit: int) -> bytes:
    encoding = (encoding or "identity").strip().lower()
    if encoding == "identity":
        return body
    if encoding not in _INFLATABLE:
        raise DocumentInvalid(f"{url} answered with an unsupported encoding {encoding!r}")
    inflater = zlib.decompressobj(_AUTO_WBITS)
    try:
        inflated = inflater.decompress(body, limit + 1)
    except zlib.error:
        raise DocumentInvalid(f"the {encoding} body from {url} is corrupt") from None
    if len(inflated) > limit:
        raise ResponseTooLarge(url, limit)
    return inflated
