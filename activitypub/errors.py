"""Errors of the protocol library: expected failures with a stable ``code`` and a safe ``message``.

Every error here derives from `ActivityPubError` (an `Exception`). The ``code`` is a
stable string the application maps to an HTTP status in one place; the ``message`` is
written for the remote server or the member who caused it, so it never carries
secrets, private keys or stack traces.

    ActivityPubError                    activitypub_error (Exception)
    ├── InvalidKey                      invalid_key: a key that cannot be parsed or used
    ├── DocumentInvalid                 document_invalid: not JSON, not an object, or a
    │                                   required field missing or of the wrong type
    ├── OriginMismatch                  origin_mismatch: an id on another host than its
    │                                   actor's (forged or misattributed content)
    ├── InvalidHandle                   invalid_handle: not acct:name@domain
    ├── WebFingerMismatch               webfinger_mismatch: the subject or the self link
    │                                   does not loop back to what was asked
    ├── FetchError                      (abstract) getting a remote document
    │   ├── FetchRefused                fetch_refused: the URL or the address it resolves
    │   │                               to is not allowed (scheme, userinfo, private IP)
    │   ├── FetchFailed                 fetch_failed: network error, timeout or an
    │   │   │                           unexpected status (``status``, None if no answer)
    │   │   ├── Gone                    gone: 410, the document was deleted for good
    │   │   └── ConnectionClosed        connection_closed: the server closed the
    │   │                               connection before any byte of an answer
    │   └── ResponseTooLarge            response_too_large: the body passed the size cap
    └── SignatureError                  signature_error: the request's signature is not
        │                               acceptable (every one of these means 401)
        ├── SignatureMissing            signature_missing: no Signature, Signature-Input
        │                               or Authorization: Signature header
        ├── SignatureMalformed          signature_malformed: a header that cannot be parsed,
        │                               or a signed header the request does not carry
        ├── UnsupportedAlgorithm        unsupported_algorithm: not rsa-sha256/hs2019
        │                               (cavage) nor rsa-v1_5-sha256, rsa-pss-sha512,
        │                               ed25519 (RFC 9421)
        ├── HeadersNotSigned            headers_not_signed: the signature does not cover
        │                               what the request needs covered
        ├── DateOutOfWindow             date_out_of_window: signed too far in the past or
        │                               future, or past its expiry
        ├── DigestError                 (abstract) the body digest
        │   ├── DigestMalformed         digest_malformed: no digest we can check
        │   └── DigestMismatch          digest_mismatch: the body is not the one signed
        ├── KeyUnavailable              key_unavailable: the signing key cannot be fetched
        ├── SignatureInvalid            signature_invalid: the cryptographic check failed,
        │                               also after refetching the key
        └── KeyOwnerMismatch            key_owner_mismatch: signed by someone other than
                                        the activity's actor

Other parts of the library add their own branches under `ActivityPubError`; keep this
drawing in step with the classes.
"""

from __future__ import annotations


class ActivityPubError(Exception):
    """Base of every expected failure of the protocol library."""

    code = "activitypub_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidKey(ActivityPubError):
    code = "invalid_key"


class SignatureError(ActivityPubError):
    """The request's HTTP signature is not acceptable."""

    code = "signature_error"


class SignatureMissing(SignatureError):
    code = "signature_missing"

    def __init__(self, message: str = "the request is not signed") -> None:
        super().__init__(message)


class SignatureMalformed(SignatureError):
    code = "signature_malformed"


class UnsupportedAlgorithm(SignatureError):
    code = "unsupported_algorithm"

    def __init__(self, algorithm: str) -> None:
        super().__init__(f"unsupported signature algorithm {algorithm!r}")
        self.algorithm = algorithm


class HeadersNotSigned(SignatureError):
    code = "headers_not_signed"

    def __init__(self, missing: list[str]) -> None:
        super().__init__(f"the signature must cover {', '.join(missing)}")
        self.missing = missing


class DateOutOfWindow(SignatureError):
    code = "date_out_of_window"

    def __init__(self, message: str = "signed request date outside acceptable time window") -> None:
        super().__init__(message)


class DigestError(SignatureError):
    """The body's digest is missing, unreadable or wrong."""


class DigestMalformed(DigestError):
    code = "digest_malformed"


class DigestMismatch(DigestError):
    code = "digest_mismatch"

    def __init__(self, algorithm: str) -> None:
        super().__init__(f"the {algorithm} digest does not match the body")
        self.algorithm = algorithm


class KeyUnavailable(SignatureError):
    code = "key_unavailable"

    def __init__(self, key_id: str) -> None:
        super().__init__(f"unable to fetch the key {key_id!r}")
        self.key_id = key_id


class SignatureInvalid(SignatureError):
    code = "signature_invalid"

    def __init__(self, key_id: str) -> None:
        super().__init__(f"the signature does not verify with the key {key_id!r}")
        self.key_id = key_id


class KeyOwnerMismatch(SignatureError):
    code = "key_owner_mismatch"

    def __init__(self, owner: str, actor_id: str) -> None:
        super().__init__(f"the request is signed by {owner!r}, not by the actor {actor_id!r}")
        self.owner = owner
        self.actor_id = actor_id


class DocumentInvalid(ActivityPubError):
    """A remote document that is not what the protocol requires."""

    code = "document_invalid"


class OriginMismatch(ActivityPubError):
    """An object or activity whose id host differs from its actor's host."""

    code = "origin_mismatch"

    def __init__(self, object_id: str, actor_id: str) -> None:
        super().__init__(f"{object_id!r} is not on the same host as its actor {actor_id!r}")
        self.object_id = object_id
        self.actor_id = actor_id


class InvalidHandle(ActivityPubError):
    """Text that is not an ``acct:name@domain`` handle."""

    code = "invalid_handle"


class WebFingerMismatch(ActivityPubError):
    """A WebFinger answer whose subject or self link does not loop back."""

    code = "webfinger_mismatch"


class FetchError(ActivityPubError):
    """Getting a remote document failed; see the subclasses."""

    code = "fetch_error"


class FetchRefused(FetchError):
    """The address policy forbids this URL (we never sent a request)."""

    code = "fetch_refused"


class FetchFailed(FetchError):
    """No usable answer: a network error, a timeout or an unexpected status."""

    code = "fetch_failed"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Gone(FetchFailed):
    """The server answered 410: the document was deleted for good."""

    code = "gone"

    def __init__(self, url: str) -> None:
        super().__init__(f"{url} is gone (410)", status=410)
        self.url = url


class ResponseTooLarge(FetchError):
    """The response body passed the configured size cap."""

    code = "response_too_large"

    def __init__(self, url: str, max_body_bytes: int) -> None:
        super().__init__(f"the response from {url} is larger than {max_body_bytes} bytes")
        self.url = url
        self.max_body_bytes = max_body_bytes


class ConnectionClosed(FetchFailed):
    """The server closed the connection before answering (on a kept-alive connection,
    usually because its idle timeout ran out just as we sent a request)."""

    code = "connection_closed"

    def __init__(self, origin: str) -> None:
        super().__init__(f"{origin} closed the connection without answering")
        self.origin = origin
