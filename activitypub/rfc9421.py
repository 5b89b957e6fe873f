"""RFC 9421 HTTP Message Signatures, the successor Mastodon verifies since 4.5.

We check as Mastodon does: the signature carries ``created``, covers ``@method`` and
``@target-uri`` (or ``@authority``, ``@path`` and ``@query``), and on POST covers a
``Content-Digest`` (RFC 9530) that matches the body. Of several signatures, the first
that meets those rules is the one verified. Algorithms: ``rsa-v1_5-sha256``,
``rsa-pss-sha512`` and ``ed25519``; without ``alg`` the key's type decides.

Signature-Input and Signature are Structured Fields (RFC 8941) dictionaries: the small
reader here handles the whole grammar, and the ``@signature-params`` line is rebuilt
from what it read, so the signed bytes do not depend on the sender's spacing.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import SplitResult, quote, unquote_plus, urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from activitypub.cavage import BODYLESS_METHODS, render_authority, render_request_target
from activitypub.digest import render_content_digest, verify_content_digest
from activitypub.errors import (
    HeadersNotSigned,
    SignatureError,
    SignatureMalformed,
    UnsupportedAlgorithm,
)
from activitypub.keys import (
    ED25519,
    RSA_PSS_SHA512,
    RSA_V1_5_SHA256,
    PrivateKey,
    PublicKey,
    default_algorithms,
    sign_bytes,
)

ALGORITHMS = (RSA_V1_5_SHA256, RSA_PSS_SHA512, ED25519)
_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
# The unrolled form: no alternation per character, which is slow on long keyIds.
_STRING = re.compile(r'"([^"\\]*(?:\\["\\][^"\\]*)*)"')
_ESCAPE = re.compile(r"\\(.)")
_TOKEN = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
_NUMBER = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,3})?")
_BYTES = re.compile(r":([A-Za-z0-9+/=]*):")
_BOOLEAN = re.compile("[01]")


class Token(str):
    """A Structured Fields token, kept apart from strings because it renders bare."""

    __slots__ = ()


Bare = bool | int | float | str | bytes
Params = tuple[tuple[str, Bare], ...]


@dataclass(frozen=True, slots=True)
class Item:
    value: Bare
    params: Params = ()


@dataclass(frozen=True, slots=True)
class InnerList:
    items: tuple[Item, ...]
    params: Params = ()


@dataclass(frozen=True, slots=True)
class PreparedRfc9421:
    """An RFC 9421 signature that passed the rules, ready for the key check."""

    key_id: str
    algorithm: str | None
    signature: bytes
    bases: tuple[bytes, ...]
    created_seconds: int
    expires_seconds: int | None
    scheme: Literal["rfc9421"] = "rfc9421"

    def algorithms_for(self, key: PublicKey) -> tuple[str, ...]:
        return default_algorithms(key) if self.algorithm is None else (self.algorithm,)


def sign_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None = None,
    *,
    key_id: str,
    private_key: PrivateKey,
    now: datetime | None = None,
    label: str = "sig1",
    components: Sequence[str] | None = None,
    algorithm: str | None = None,
    include_alg: bool = True,
    expires: datetime | None = None,
) -> dict[str, str]:
    """The headers to add: ``Signature-Input``, ``Signature``, and Content-Digest if needed.

    By default covers ``@method @target-uri`` and, with a body, ``content-digest`` and
    ``content-type``; the algorithm follows the key (``rsa-v1_5-sha256`` for RSA).
    """
    method = method.upper()
    present = {name.lower(): value for name, value in headers.items()}
    names = tuple(components) if components is not None else _default_components(method, present)
    added: dict[str, str] = {}
    if "content-digest" in names and "content-digest" not in present:
        added["Content-Digest"] = present["content-digest"] = render_content_digest(body or b"")
    if algorithm is None:
        algorithm = ED25519 if isinstance(private_key, Ed25519PrivateKey) else RSA_V1_5_SHA256
    params: list[tuple[str, Bare]] = [
        ("created", int((now or datetime.now(UTC)).timestamp())),
        ("keyid", key_id),
    ]
    if include_alg:
        params.append(("alg", algorithm))
    if expires is not None:
        params.append(("expires", int(expires.timestamp())))
    covered = InnerList(tuple(Item(name) for name in names), tuple(params))
    base = render_signature_base(covered, method, url, present)
    signature = sign_bytes(private_key, algorithm, base)
    added["Signature-Input"] = f"{label}={render_inner_list(covered)}"
    added["Signature"] = f"{label}=:{base64.b64encode(signature).decode('ascii')}:"
    return added


def prepare_verification(
    *, method: str, target_uri: str, headers: Mapping[str, str], body: bytes
) -> PreparedRfc9421:
    """Pick the first signature that meets the rules; ``headers`` has lowercase names."""
    inputs = parse_dictionary(headers.get("signature-input", ""))
    signatures = parse_dictionary(headers.get("signature", ""))
    first_error: SignatureError | None = None
    for label, covered in inputs.items():
        try:
            return _prepare_one(label, covered, signatures, method, target_uri, headers, body)
        except SignatureError as exc:
            first_error = first_error or exc
    raise first_error or SignatureMalformed("Signature-Input names no signature")


def render_signature_base(
    covered: InnerList, method: str, target_uri: str, headers: Mapping[str, str]
) -> bytes:
    """The signature base of RFC 9421 §2.5; ``headers`` has lowercase names."""
    parts = urlsplit(target_uri)
    lines = []
    for component in covered.items:
        value = _component_value(component, method, target_uri, parts, headers)
        lines.append(f"{render_item(component)}: {value}")
    if len(set(lines)) != len(lines):
        raise SignatureMalformed("a component is covered twice")
    lines.append(f'"@signature-params": {render_inner_list(covered)}')
    return "\n".join(lines).encode("utf-8")


def _prepare_one(
    label: str,
    covered: Item | InnerList,
    signatures: Mapping[str, Item | InnerList],
    method: str,
    target_uri: str,
    headers: Mapping[str, str],
    body: bytes,
) -> PreparedRfc9421:
    signature = signatures.get(label)
    if not isinstance(covered, InnerList) or signature is None:
        raise SignatureMalformed(f"no signature labelled {label!r}")
    if not isinstance(signature, Item) or not isinstance(signature.value, bytes):
        raise SignatureMalformed(f"the signature {label!r} is not a byte sequence")
    params = dict(covered.params)
    created, expires = params.get("created"), params.get("expires")
    key_id, algorithm = params.get("keyid"), params.get("alg")
    if type(created) is not int:
        raise HeadersNotSigned(["the created parameter"])
    if not isinstance(key_id, str) or (expires is not None and type(expires) is not int):
        raise SignatureMalformed("keyid must be a string and expires an integer")
    if algorithm is not None and algorithm not in ALGORITHMS:
        raise UnsupportedAlgorithm(str(algorithm))
    names = {item.value for item in covered.items if not item.params}
    _check_coverage(names, method.upper())
    if "content-digest" in names:
        verify_content_digest(headers.get("content-digest", ""), body)
    return PreparedRfc9421(
        key_id=key_id,
        algorithm=str(algorithm) if algorithm is not None else None,
        signature=signature.value,
        bases=(render_signature_base(covered, method, target_uri, headers),),
        created_seconds=created,
        expires_seconds=expires,
    )


def _check_coverage(names: set[Bare], method: str) -> None:
    missing = [] if "@method" in names else ["@method"]
    if "@target-uri" not in names and not {"@authority", "@path", "@query"} <= names:
        missing.append("@target-uri (or @authority, @path and @query)")
    if method not in BODYLESS_METHODS and "content-digest" not in names:
        missing.append("content-digest")
    if missing:
        raise HeadersNotSigned(missing)


def _component_value(
    component: Item, method: str, target_uri: str, parts: SplitResult, headers: Mapping[str, str]
) -> str:
    name, params = component.value, dict(component.params)
    if not isinstance(name, str) or isinstance(name, Token):
        raise SignatureMalformed("component names must be strings")
    if name == "@query-param" and list(params) == ["name"] and isinstance(params["name"], str):
        return _query_param(parts.query, params["name"])
    if params:
        raise SignatureMalformed(f"unsupported parameters on the component {name!r}")
    if name.startswith("@"):
        return _derived_value(name, method, target_uri, parts)
    value = headers.get(name)
    if value is None:
        raise SignatureMalformed(f"the covered component {name!r} is not in the request")
    return value.strip()


def _derived_value(name: str, method: str, target_uri: str, parts: SplitResult) -> str:
    match name:
        case "@method":
            return method
        case "@target-uri":
            return target_uri
        case "@authority":
            return render_authority(parts)
        case "@scheme":
            return parts.scheme.lower()
        case "@request-target":
            return render_request_target(parts)
        case "@path":
            return parts.path or "/"
        case "@query":
            return f"?{parts.query}"
    raise SignatureMalformed(f"unsupported derived component {name!r}")


def _query_param(query: str, wanted: str) -> str:
    # RFC 9421 §2.2.8: names and values are decoded as a form, then percent-encoded.
    found = [
        quote(unquote_plus(value), safe="")
        for name, _, value in (pair.partition("=") for pair in query.split("&") if pair)
        if quote(unquote_plus(name), safe="") == wanted
    ]
    if len(found) != 1:
        raise SignatureMalformed(f"the query parameter {wanted!r} must occur exactly once")
    return found[0]


def _default_components(method: str, present: Mapping[str, str]) -> tuple[str, ...]:
    if method in BODYLESS_METHODS:
        return ("@method", "@target-uri")
    names = ("@method", "@target-uri", "content-digest")
    return (*names, "content-type") if "content-type" in present else names


# Structured Fields (RFC 8941): the dictionary reader and the renderers.


def parse_dictionary(text: str) -> dict[str, Item | InnerList]:
    """Parse a Structured Fields dictionary, or raise SignatureMalformed."""
    reader = _Reader(text.strip(" "))
    members: dict[str, Item | InnerList] = {}
    while not reader.at_end():
        key = reader.match(_KEY).group()
        if reader.take("="):
            members[key] = reader.inner_list() if reader.char() == "(" else reader.item()
        else:
            members[key] = Item(True, reader.params())
        reader.skip(" \t")
        if reader.at_end():
            break
        if not reader.take(","):
            raise SignatureMalformed("expected a comma between dictionary members")
        reader.skip(" \t")
        if reader.at_end():
            raise SignatureMalformed("a dictionary cannot end with a comma")
    return members


def render_item(item: Item) -> str:
    return _render_bare(item.value) + _render_params(item.params)


def render_inner_list(inner: InnerList) -> str:
    items = " ".join(render_item(item) for item in inner.items)
    return f"({items}){_render_params(inner.params)}"


def _render_params(params: Params) -> str:
    return "".join(f";{k}" if v is True else f";{k}={_render_bare(v)}" for k, v in params)


def _render_bare(value: Bare) -> str:
    if isinstance(value, bool):
        return "?1" if value else "?0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = f"{value:.3f}".rstrip("0")
        return text + "0" if text.endswith(".") else text
    if isinstance(value, bytes):
        return f":{base64.b64encode(value).decode('ascii')}:"
    if isinstance(value, Token):
        return str(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Reader:
    """A cursor over one header value; every mistake is a SignatureMalformed."""

    __slots__ = ("position", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0

    def at_end(self) -> bool:
        return self.position >= len(self.text)

    def char(self) -> str:
        return self.text[self.position : self.position + 1]

    def take(self, char: str) -> bool:
        if self.text[self.position : self.position + 1] == char:
            self.position += 1
            return True
        return False

    def skip(self, chars: str) -> None:
        text, position = self.text, self.position
        while position < len(text) and text[position] in chars:
            position += 1
        self.position = position

    def match(self, pattern: re.Pattern[str]) -> re.Match[str]:
        found = pattern.match(self.text, self.position)
        if found is None:
            raise SignatureMalformed(f"unreadable structured field at {self.position}")
        self.position = found.end()
        return found

    def inner_list(self) -> InnerList:
        self.position += 1  # the "(" the caller saw
        items: list[Item] = []
        while True:
            self.skip(" ")
            if self.take(")"):
                return InnerList(tuple(items), self.params())
            items.append(self.item())
            if self.char() not in (" ", ")"):
                raise SignatureMalformed("expected a space or ')' in an inner list")

    def item(self) -> Item:
        return Item(self.bare(), self.params())

    def params(self) -> Params:
        if self.char() != ";":
            return ()
        params: dict[str, Bare] = {}
        while self.take(";"):
            self.skip(" ")
            key = self.match(_KEY).group()
            params[key] = self.bare() if self.take("=") else True
        return tuple(params.items())

    def bare(self) -> Bare:
        char = self.char()
        if char == '"':
            text = self.match(_STRING).group(1)
            if not (text.isascii() and text.isprintable()):
                raise SignatureMalformed("strings hold printable ASCII only")
            return _ESCAPE.sub(r"\1", text) if "\\" in text else text
        if char == ":":
            try:
                return base64.b64decode(self.match(_BYTES).group(1), validate=True)
            except binascii.Error as exc:
                raise SignatureMalformed("a byte sequence is not base64") from exc
        if char == "?":
            self.position += 1
            return self.match(_BOOLEAN).group() == "1"
        if char == "-" or char.isdigit():
            number = self.match(_NUMBER)
            return float(number.group()) if number.group(1) else int(number.group())
        return Token(self.match(_TOKEN).group())
