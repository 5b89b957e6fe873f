"""HTTP signatures, the front: sign outgoing requests, verify incoming ones.

We send draft-cavage (`sign_request`, what the whole fediverse accepts) and can sign
RFC 9421 (`sign_request_rfc9421`, for double-knocking). We accept both: a request with
``Signature-Input`` is RFC 9421 (`activitypub.rfc9421`), else ``Signature`` or
``Authorization: Signature`` is draft-cavage (`activitypub.cavage`). Either way:

1. the scheme's rules are checked and the body digest compared, before any key fetch;
2. the signed time must fall in Mastodon's window: at most an hour in the future, and
   no later than an hour after its expiry (``expires``, else five minutes after it was
   made, capped at twelve hours), so a ``Date`` is good for about 65 minutes;
3. the key comes from the caller's resolver; if the signature does not verify, the key
   is fetched once more with ``refresh=True`` (the sender may have rotated it).

The caller then checks that the key's owner is the activity's actor (`check_key_owner`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol
from urllib.parse import urlsplit

from activitypub import cavage, rfc9421
from activitypub.errors import (
    ActivityPubError,
    DateOutOfWindow,
    KeyOwnerMismatch,
    KeyUnavailable,
    SignatureInvalid,
    SignatureMissing,
)
from activitypub.keys import KeyResolver, PublicKey, PublicKeyInfo, verify_bytes

__all__ = [
    "CLOCK_SKEW_SECONDS",
    "DEFAULT_EXPIRY_SECONDS",
    "MAX_EXPIRY_SECONDS",
    "PreparedSignature",
    "Scheme",
    "VerifiedSignature",
    "check_key_owner",
    "check_time_window",
    "prepare_verification",
    "sign_request",
    "sign_request_rfc9421",
    "verify_request",
]

sign_request = cavage.sign_request
sign_request_rfc9421 = rfc9421.sign_request

Scheme = Literal["draft-cavage", "rfc9421"]
CLOCK_SKEW_SECONDS = 3600
DEFAULT_EXPIRY_SECONDS = 300
MAX_EXPIRY_SECONDS = 12 * 3600


@dataclass(frozen=True, slots=True)
class VerifiedSignature:
    """Who signed: the keyId, the key's owner (an actor id) and the scheme used."""

    key_id: str
    owner: str
    scheme: Scheme


class PreparedSignature(Protocol):
    """What `cavage` and `rfc9421` hand over once their rules pass."""

    @property
    def key_id(self) -> str: ...
    @property
    def signature(self) -> bytes: ...
    @property
    def bases(self) -> tuple[bytes, ...]: ...
    @property
    def created_seconds(self) -> int: ...
    @property
    def expires_seconds(self) -> int | None: ...
    @property
    def scheme(self) -> Scheme: ...
    def algorithms_for(self, key: PublicKey) -> tuple[str, ...]: ...


async def verify_request(
    *,
    method: str,
    target_uri: str,
    headers: Mapping[str, str],
    body: bytes,
    resolve_key: KeyResolver,
    now: datetime | None = None,
    path: str | None = None,
) -> VerifiedSignature:
    """Verify a request's signature or raise a `SignatureError`.

    ``target_uri`` is the full URL the sender used (our public URL, not the one behind
    the proxy); ``path`` is the path and query as received, for draft-cavage's
    ``(request-target)``, derived from ``target_uri`` if omitted;
    ``headers`` may be any mapping, names in any case; ``now`` defaults to the clock.
    """
    prepared = prepare_verification(
        method=method, target_uri=target_uri, headers=headers, body=body, path=path
    )
    check_time_window(
        prepared.created_seconds,
        prepared.expires_seconds,
        int((now or datetime.now(UTC)).timestamp()),
    )
    info = await _resolve(resolve_key, prepared.key_id, refresh=False)
    if not _verifies(prepared, info.key):
        info = await _resolve(resolve_key, prepared.key_id, refresh=True)
        if not _verifies(prepared, info.key):
            raise SignatureInvalid(prepared.key_id)
    return VerifiedSignature(prepared.key_id, info.owner, prepared.scheme)


def prepare_verification(
    *,
    method: str,
    target_uri: str,
    headers: Mapping[str, str],
    body: bytes,
    path: str | None = None,
) -> PreparedSignature:
    """Pick the scheme and apply its rules (pure: no clock, no key)."""
    lowered = _lowercase_names(headers)
    if "signature-input" in lowered:
        return rfc9421.prepare_verification(
            method=method, target_uri=target_uri, headers=lowered, body=body
        )
    value = lowered.get("signature")
    if not value:
        authorization = lowered.get("authorization", "")
        if authorization[:10].lower() != "signature ":
            raise SignatureMissing()
        value = authorization[10:]
    if path is None:
        path = cavage.render_request_target(urlsplit(target_uri))
    return cavage.prepare_verification(value, method=method, path=path, headers=lowered, body=body)


def check_time_window(created_seconds: int, expires_seconds: int | None, now_seconds: int) -> None:
    """Mastodon's window (``signed_request.rb``), with its hour of clock skew both ways."""
    if created_seconds > now_seconds + CLOCK_SKEW_SECONDS:
        raise DateOutOfWindow("the request is signed more than an hour in the future")
    if expires_seconds is None:
        expires_seconds = created_seconds + DEFAULT_EXPIRY_SECONDS
    expires_seconds = min(expires_seconds, created_seconds + MAX_EXPIRY_SECONDS)
    if now_seconds > expires_seconds + CLOCK_SKEW_SECONDS:
        raise DateOutOfWindow("the signature has expired")


def check_key_owner(verified: VerifiedSignature, actor_id: str) -> None:
    """Raise unless the request was signed with a key of ``actor_id``."""
    if verified.owner != actor_id:
        raise KeyOwnerMismatch(verified.owner, actor_id)


async def _resolve(resolve_key: KeyResolver, key_id: str, *, refresh: bool) -> PublicKeyInfo:
    try:
        return await resolve_key(key_id, refresh=refresh)
    except KeyUnavailable:
        raise
    except ActivityPubError as exc:
        # A fetch or parse failure of ours means the same to the sender: no usable key.
        raise KeyUnavailable(key_id) from exc


def _verifies(prepared: PreparedSignature, key: PublicKey) -> bool:
    algorithms = prepared.algorithms_for(key)
    for base in prepared.bases:
        for algorithm in algorithms:
            if verify_bytes(key, algorithm, prepared.signature, base):
                return True
    return False


def _lowercase_names(headers: Mapping[str, str]) -> dict[str, str]:
    # items() rather than keys(): Starlette's Headers yields every field line this way,
    # and repeated fields are combined with ", " as both specifications require.
    lowered: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        previous = lowered.get(key)
        lowered[key] = value if previous is None else f"{previous}, {value}"
    return lowered
