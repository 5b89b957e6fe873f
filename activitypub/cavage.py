"""draft-cavage HTTP Signatures: what Mastodon and most of the fediverse send and check.

We sign as Mastodon does (``app/lib/request.rb``): ``rsa-sha256``, ``(request-target)``
with the query string, ``host``, ``date``, and on POST ``digest`` and ``content-type``;
never ``accept`` nor ``user-agent``, which proxies rewrite. We check as Mastodon does
(``app/lib/signed_request.rb``): ``rsa-sha256`` or ``hs2019``; ``date`` or ``(created)``,
``(request-target)`` or ``digest``, ``host`` on GET and ``digest`` on POST must be signed,
and a signed ``(request-target)`` is tried with the query string, then without it.

`prepare_verification` is pure: it parses, applies those rules, checks the digest and
builds the signing strings; `activitypub.signatures` fetches the key and verifies.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import SplitResult, urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from activitypub.digest import render_digest, verify_digest
from activitypub.errors import HeadersNotSigned, SignatureMalformed, UnsupportedAlgorithm
from activitypub.keys import ED25519, RSA_V1_5_SHA256, PrivateKey, PublicKey, sign_bytes

ALGORITHMS = ("rsa-sha256", "hs2019")
#: Methods without a body: they need ``host`` signed instead of ``digest``.
BODYLESS_METHODS = frozenset({"GET", "HEAD"})
_PARAM = re.compile(r'([A-Za-z]+)=(?:"([^"]*)"|([^",\s]*))')
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DEFAULT_PORTS = (("http", 80), ("https", 443))


@dataclass(frozen=True, slots=True)
class CavageSignature:
    """The parameters of a ``Signature`` header (names lowercase, algorithm lowercase)."""

    key_id: str
    algorithm: str
    headers: tuple[str, ...]
    signature: bytes
    created: int | None = None
    expires: int | None = None


@dataclass(frozen=True, slots=True)
class PreparedCavage:
    """A draft-cavage signature that passed the rules, ready for the key check."""

    key_id: str
    algorithm: str
    signature: bytes
    bases: tuple[bytes, ...]
    created_seconds: int
    expires_seconds: int | None
    scheme: Literal["draft-cavage"] = "draft-cavage"

    def algorithms_for(self, key: PublicKey) -> tuple[str, ...]:
        # Mastodon verifies both names as RSA-SHA256; hs2019 also lets Ed25519 keys in.
        if isinstance(key, Ed25519PublicKey):
            return (ED25519,) if self.algorithm == "hs2019" else ()
        return (RSA_V1_5_SHA256,)


def sign_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None = None,
    *,
    key_id: str,
    private_key: PrivateKey,
    now: datetime | None = None,
    signed_headers: Sequence[str] | None = None,
) -> dict[str, str]:
    """The headers to add to sign a request: ``Signature``, and Host, Date, Digest if missing.

    ``now`` defaults to the current time; ``signed_headers`` overrides Mastodon's list.
    """
    method = method.upper()
    parts = urlsplit(url)
    present = {name.lower(): value for name, value in headers.items()}
    added: dict[str, str] = {}
    if "host" not in present:
        added["Host"] = render_authority(parts)
    if "date" not in present:
        added["Date"] = render_http_date(now or datetime.now(UTC))
    if method not in BODYLESS_METHODS and "digest" not in present:
        added["Digest"] = render_digest(body or b"")
    present.update((name.lower(), value) for name, value in added.items())
    names = tuple(signed_headers or _default_names(method, present))
    base = render_signing_string(names, method, render_request_target(parts), present)
    ed25519 = isinstance(private_key, Ed25519PrivateKey)
    signature = sign_bytes(private_key, ED25519 if ed25519 else RSA_V1_5_SHA256, base)
    algorithm = "hs2019" if ed25519 else "rsa-sha256"
    added["Signature"] = render_signature_header(
        CavageSignature(key_id, algorithm, names, signature)
    )
    return added


def prepare_verification(
    value: str, *, method: str, path: str, headers: Mapping[str, str], body: bytes
) -> PreparedCavage:
    """Apply Mastodon's rules to a ``Signature`` value; ``headers`` has lowercase names."""
    signature = parse_signature_header(value)
    if signature.algorithm not in ALGORITHMS:
        raise UnsupportedAlgorithm(signature.algorithm)
    names = signature.headers
    _check_coverage(names, method.upper())
    if "digest" in names:
        verify_digest(_get_header(headers, "digest"), body)
    paths = [path]
    if "?" in path and "(request-target)" in names:
        paths.append(path.split("?", 1)[0])
    return PreparedCavage(
        key_id=signature.key_id,
        algorithm=signature.algorithm,
        signature=signature.signature,
        bases=tuple(render_signing_string(names, method, p, headers, signature) for p in paths),
        created_seconds=_created_seconds(signature, headers),
        # An expiry the signature does not cover could be forged, so it is ignored.
        expires_seconds=signature.expires if "(expires)" in names else None,
    )


def parse_signature_header(value: str) -> CavageSignature:
    """Parse ``keyId="…",algorithm="…",headers="…",signature="…"`` (any order)."""
    params = _parse_params(value)
    key_id, encoded = params.get("keyid"), params.get("signature")
    if not key_id or not encoded:
        raise SignatureMalformed("the Signature header needs keyId and signature")
    try:
        signature = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureMalformed("the signature is not base64") from exc
    algorithm = params.get("algorithm", "hs2019").lower()
    # Mastodon's defaults: the spec changed from "date" to "(created)" along with hs2019.
    default_names = "(created)" if algorithm == "hs2019" else "date"
    names = tuple(params.get("headers", default_names).lower().split())
    return CavageSignature(
        key_id,
        algorithm,
        names,
        signature,
        _parse_seconds(params.get("created")),
        _parse_seconds(params.get("expires")),
    )


def render_signature_header(signature: CavageSignature) -> str:
    """Mastodon's layout: ``keyId="…",algorithm="…",headers="…",signature="…"``."""
    parts = [f'keyId="{signature.key_id}"', f'algorithm="{signature.algorithm}"']
    if signature.created is not None:
        parts.append(f"created={signature.created}")
    if signature.expires is not None:
        parts.append(f"expires={signature.expires}")
    parts.append(f'headers="{" ".join(signature.headers)}"')
    parts.append(f'signature="{base64.b64encode(signature.signature).decode("ascii")}"')
    return ",".join(parts)


def render_signing_string(
    names: Sequence[str],
    method: str,
    path: str,
    headers: Mapping[str, str],
    signature: CavageSignature | None = None,
) -> bytes:
    """The string that is signed; ``headers`` has lowercase names."""
    lines = []
    for name in names:
        if name == "(request-target)":
            lines.append(f"(request-target): {method.lower()} {path}")
        elif name in ("(created)", "(expires)"):
            seconds = getattr(signature, name[1:-1], None)
            if seconds is None:
                raise SignatureMalformed(f"{name} is signed but its parameter is missing")
            lines.append(f"{name}: {seconds}")
        else:
            lines.append(f"{name}: {_get_header(headers, name).strip()}")
    return "\n".join(lines).encode("utf-8")


def render_request_target(parts: SplitResult) -> str:
    """The path and query as sent, for ``(request-target)``."""
    path = parts.path or "/"
    return f"{path}?{parts.query}" if parts.query else path


def render_authority(parts: SplitResult) -> str:
    """``host[:port]`` in lowercase, without the scheme's default port (Host, @authority)."""
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    return host if port is None or (parts.scheme, port) in _DEFAULT_PORTS else f"{host}:{port}"


def render_http_date(moment: datetime) -> str:
    """RFC 7231 IMF-fixdate, independent of the locale (unlike strftime's %a and %b)."""
    t = moment.utctimetuple()
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


def parse_http_date(value: str) -> int:
    """Seconds since the epoch of an HTTP date; SignatureMalformed if it is not one."""
    # IMF-fixdate is what everyone sends; slicing it is much faster than email.utils.
    if len(value) == 29 and value[3:5] == ", " and value.endswith(" GMT"):
        try:
            fields = (value[12:16], value[5:7], value[17:19], value[20:22], value[23:25])
            year, day, hour, minute, second = map(int, fields)
            month = _MONTHS.index(value[8:11]) + 1
            moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
            return int(moment.timestamp())
        except ValueError:
            pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError) as exc:
        raise SignatureMalformed(f"the Date header is not an HTTP date: {value[:40]!r}") from exc
    return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp())


def _default_names(method: str, present: Mapping[str, str]) -> tuple[str, ...]:
    if method in BODYLESS_METHODS:
        return ("(request-target)", "host", "date")
    names = ("(request-target)", "host", "date", "digest")
    return (*names, "content-type") if "content-type" in present else names


def _check_coverage(names: tuple[str, ...], method: str) -> None:
    missing = []
    if "date" not in names and "(created)" not in names:
        missing.append("date or (created)")
    if "(request-target)" not in names and "digest" not in names:
        missing.append("(request-target) or digest")
    if method in BODYLESS_METHODS:
        if "host" not in names:
            missing.append("host")
    elif "digest" not in names:
        missing.append("digest")
    if missing:
        raise HeadersNotSigned(missing)


def _created_seconds(signature: CavageSignature, headers: Mapping[str, str]) -> int:
    # Only a signed time counts: prefer (created), else the signed Date header.
    if "(created)" in signature.headers and signature.created is not None:
        return signature.created
    return parse_http_date(_get_header(headers, "date"))


def _get_header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        raise SignatureMalformed(f"the signed header {name!r} is not in the request")
    return value


def _parse_params(value: str) -> dict[str, str]:
    # One findall is several times faster than a strict grammar, and as safe: every value
    # it yields is either checked here or covered by the signature it claims to be.
    params = {name.lower(): quoted or bare for name, quoted, bare in _PARAM.findall(value)}
    if not params:
        raise SignatureMalformed('the Signature header is not a list of key="value"')
    return params


def _parse_seconds(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value))
    except ValueError as exc:
        raise SignatureMalformed("created and expires must be numbers") from exc
