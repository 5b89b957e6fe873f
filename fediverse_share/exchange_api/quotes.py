"""Payment quotes: what a payment will cost, held for a short while, kept nowhere.

A quote names the payer, the payee, the amount and its expiry. Its id carries all of
that, signed with the instance's secret key (HMAC-SHA256), so the server stores
nothing and a client cannot forge or alter one: ``<payload>.<signature>``, both
base64url. A payment that cites a quote must match it and be made before it expires.

For a member of this community the quote is trivial: the payee receives what the payer
sends, the path is ``["local"]``, there are no fees and no rates. Quotes for payees in
other communities are asked of the path and kept by clearing (DESIGN §5;
`fediverse_share.exchange_api.cross_payments`); their ids are that quote's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

from fediverse_share.exchange_api.errors import QuoteRefused

QUOTE_VALIDITY_US = 10 * 60 * 1_000_000
_CONTEXT = b"fediverse-share exchange quote v1\n"
_SIGNATURE_BYTES = 16


@dataclass(frozen=True, slots=True)
class Quote:
    payer: str
    payee: str
    amount_minor: int
    currency_code: str
    expires_at_us: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret_key: str, payload: bytes) -> bytes:
    mac = hmac.new(secret_key.encode(), _CONTEXT + payload, hashlib.sha256)
    return mac.digest()[:_SIGNATURE_BYTES]


def render_quote_id(quote: Quote, secret_key: str) -> str:
    fields = (quote.payer, quote.payee, str(quote.amount_minor), quote.currency_code)
    payload = "|".join((*fields, str(quote.expires_at_us))).encode()
    return f"{_b64(payload)}.{_b64(_sign(secret_key, payload))}"


def parse_quote_id(text: str, secret_key: str) -> Quote:
    """The quote an id stands for; raises `QuoteRefused` if it is not one of ours."""
    try:
        payload_part, signature_part = text.split(".")
        payload, signature = _unb64(payload_part), _unb64(signature_part)
        if not hmac.compare_digest(signature, _sign(secret_key, payload)):
            raise ValueError("bad signature")
        payer, payee, amount, code, expires = payload.decode().split("|")
        return Quote(payer, payee, int(amount), code, int(expires))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise QuoteRefused("not a quote issued here", code="quote_invalid") from None


def check_quote(quote: Quote, wanted: Quote) -> None:
    """Refuse a payment that does not match the quote it cites."""
    asked = (quote.payer, quote.payee, quote.amount_minor, quote.currency_code)
    if asked != (wanted.payer, wanted.payee, wanted.amount_minor, wanted.currency_code):
        raise QuoteRefused("the payment does not match its quote", code="quote_mismatch")


def check_quote_fresh(quote: Quote, now_us: int) -> None:
    if now_us >= quote.expires_at_us:
        raise QuoteRefused("the quote has expired; ask for a new one", code="quote_expired")
