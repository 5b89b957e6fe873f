"""Reading request bodies with a size cap, and parsing them without surprises."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.datastructures import FormData
from starlette.requests import Request

from fediverse_share.errors import BadRequest, PayloadTooLarge


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The whole body, refused with 413 as soon as it passes ``max_bytes``."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest("Content-Length is not a number")
        if int(declared) > max_bytes:
            raise PayloadTooLarge(f"body larger than {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"body larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json_object(body: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"malformed JSON: {exc}", code="malformed_json") from exc
    if not isinstance(value, dict):
        raise BadRequest("expected a JSON object", code="malformed_json")
    return value


async def read_params(request: Request, max_bytes: int) -> dict[str, Any]:
    """Parameters from a JSON, form or multipart body, merged over the query string.

    Rails-style list keys (``scopes[]``) become lists under the bare name, as
    Mastodon clients send them.
    """
    params: dict[str, Any] = {}
    _merge_pairs(params, request.query_params.multi_items())
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.method in ("GET", "HEAD", "DELETE") and not content_type:
        return params
    if content_type == "application/json":
        body = await read_body(request, max_bytes)
        if body.strip():
            params.update(parse_json_object(body))
    elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form: FormData = await request.form(max_part_size=max_bytes)
        _merge_pairs(params, form.multi_items())
    return params


def _merge_pairs(params: dict[str, Any], pairs: list[tuple[str, Any]]) -> None:
    for key, value in pairs:
        if key.endswith("[]"):
            params.setdefault(key[:-2], []).append(value)
        else:
            params[key] = value
