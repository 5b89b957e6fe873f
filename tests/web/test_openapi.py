"""The exchange API's OpenAPI document: it matches the routes, and the live API matches it.

Schemathesis reads the document served by a running instance, generates requests for
every operation (valid ones and, separately, ones that break the schema) and checks
each answer: never a 5xx, a documented status, the documented content type and headers,
and a body that validates against the response schema. Its calls are synchronous
(``requests``), so they run in a thread while the instance keeps serving in the test's
event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.routing import Route

from fediverse_share.clearing import peering
from fediverse_share.exchange_api.spec import PREFIX
from tests.support.tokens import Community, SignedIn, community

DOCUMENT = f"{PREFIX}/openapi.json"
CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
#: Fuzzing also checks that requests breaking the schema are refused (4xx).
CHECKS = [*CONFORMANCE, negative_data_rejection]
#: Examples per operation, per generation mode, per caller: small, so the whole fuzzing
#: run stays within a couple of minutes on a 2-core machine.
MAX_EXAMPLES = 20
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Community]:
    async with community(tmp_path) as site:
        yield site


async def document(site: Community) -> dict[str, Any]:
    response = await site.http.get(DOCUMENT)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    doc: dict[str, Any] = response.json()
    return doc


async def test_every_route_is_documented_and_every_operation_routed(site: Community) -> None:
    """The (method, path) pairs under /api/exchange/v1 equal those of the served document."""
    doc = await document(site)
    documented = {
        (method.upper(), path)
        for path, item in doc["paths"].items()
        for method in item
        if method in METHODS
    }
    routed = {
        (method, route.path)
        for route in site.instance.app.routes
        if isinstance(route, Route) and route.path.startswith(PREFIX)
        for method in (route.methods or ()) - {"HEAD"}
    }
    assert documented == routed
    assert len(routed) >= 13


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


async def test_document_shape_security_and_errors(site: Community) -> None:
    """OpenAPI 3.1, a bearer scheme, scopes per operation, {error, code} errors, no loose refs."""
    doc = await document(site)
    assert doc["openapi"] == "3.1.0"
    assert doc["servers"] == [{"url": site.instance.base_url}]
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    error = doc["components"]["schemas"]["Error"]
    assert error["required"] == ["error", "code"]
    for ref in _refs(doc):
        assert ref.startswith("#/components/schemas/")
        assert ref.rsplit("/", 1)[1] in doc["components"]["schemas"], ref
    for path, item in doc["paths"].items():
        for method, op in item.items():
            public = path in PUBLIC_PATHS and method == "get"
            assert (op["security"] == []) is public, (method, path)
            for scopes in op["security"]:
                assert list(scopes) == ["bearer"]
            if not public:
                assert {"401", "403"} <= set(op["responses"]), (method, path)
            for status, answer in op["responses"].items():
                if status.startswith(("4", "5")):
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}
            if method in ("post", "patch"):
                names = {p["name"] for p in op.get("parameters", ())}
                assert "Idempotency-Key" in names, path
    assert "clearing" in doc["info"]["description"]
    assert "peers and posted rates" in doc["info"]["description"]


#: Reads anyone may make (listings are public, as on the fediverse).
PUBLIC_PATHS = (
    f"{PREFIX}/currency",
    DOCUMENT,
    f"{PREFIX}/listings",
    f"{PREFIX}/listings/{{listing_id}}",
)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(8)) + b"\x08\x02\x00\x00\x00"


def _validator(schema: Any, base_url: str, headers: dict[str, str]) -> Callable[[Any], None]:
    def call_and_check(case: Any) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        case.validate_response(response, checks=CHECKS, headers=headers)

    return call_and_check


def _fuzz(doc: dict[str, Any], base_url: str, headers: dict[str, str]) -> list[str]:
    """Run schemathesis over every operation; return the failures, one line each."""
    schema = schemathesis.openapi.from_dict(doc)
    check = _validator(schema, base_url, headers)
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @hypothesis.settings(
                max_examples=MAX_EXAMPLES,
                derandomize=True,
                database=None,
                deadline=None,
                phases=[Phase.generate],  # no shrinking: the report names the case
                suppress_health_check=list(HealthCheck),
            )
            @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
            def run(case: Any) -> None:
                check(case)

            try:
                run()
            except hypothesis.errors.Unsatisfiable:
                continue  # no parameters and no body: nothing to break in negative mode
            except Exception as exc:  # collected, so that one run reports every operation
                failures.append(f"{operation.label} [{mode.value}]: {exc}"[:2000])
    return failures


LADDER = {"ref": "https://example.org/listings/ladder", "title": "A ladder", "kind": "offer"}


def _good_requests(
    currency: str, listings: tuple[str, str], peer: Community
) -> dict[str, dict[str, Any]]:
    """A request that should succeed for each operation, by operationId, in document order.

    ``as`` names the member who calls (default: the operator ``root``); the trades
    ``root:declined``, ``root:cancelled`` and ``root:loan`` are prepared by `_populate`,
    root's two ``listings`` by `_prepare_listings` (the second is withdrawn), and the
    ``peer`` community has asked to peer (`_prepare_peer`).
    """
    kept, withdrawn = ({"listing_id": listing} for listing in listings)
    pay = {"to": "alice", "amount": "1.50", "currency": currency, "memo": "tea"}
    trade = {"trade_id": "root:good"}
    return {
        "getOpenApi": {},
        "getCurrency": {},
        "getMyAccount": {},
        "getMyStatement": {"query": {"limit": 2}},
        "exportMyStatement": {},
        "quotePayment": {"body": {"to": "alice", "amount": "1.50", "currency": currency}},
        "createPayment": {"body": pay, "headers": {"Idempotency-Key": "tea"}},
        "getPayment": {"path_parameters": {"payment_id": "pay:root:tea"}},
        "searchListings": {"query": {"q": "ladder", "kind": "lend", "limit": 5}},
        "createListing": {
            "body": {"title": "Step ladder", "kind": "sell", "price": "4.00",
                     "currency": currency, "expires_at": "2099-01-01T00:00:00Z"},
            "headers": {"Idempotency-Key": "step-ladder"},
        },
        "getMyMatches": {"query": {"limit": 5}, "as": "alice"},
        "lookupListings": {"query": {"from": _handle(peer)}, "as": "alice"},
        "getListing": {"path_parameters": kept},
        "updateListing": {"path_parameters": kept, "body": {"location": "Neukölln"}},
        "withdrawListing": {"path_parameters": withdrawn},
        "addListingPhoto": {
            "path_parameters": kept, "body": {"file": PNG, "description": "folded"},
            "media_type": "multipart/form-data",
        },
        "proposeTrade": {
            "body": {"listing": LADDER, "option": "fixed", "role": "receiver", "with": "alice",
                     "price": "2.00", "currency": currency},
            "headers": {"Idempotency-Key": "good"},
        },
        "getTrade": {"path_parameters": trade},
        "tradeAccept": {"path_parameters": trade, "body": {}, "as": "alice"},
        "tradeDecline": {
            "path_parameters": {"trade_id": "root:declined"}, "body": {"reason": "no"},
            "as": "alice",
        },
        "tradeDeliver": {"path_parameters": trade, "body": {}, "as": "alice"},
        "tradeConfirm": {"path_parameters": trade, "body": {"id": "seen"}},
        "tradePay": {"path_parameters": trade, "body": {"currency": currency}},
        "tradeCancel": {"path_parameters": {"trade_id": "root:cancelled"}, "body": {}},
        "tradeReturned": {"path_parameters": {"trade_id": "root:loan"}, "body": {}, "as": "alice"},
        "reviewTrade": {"path_parameters": trade, "body": {"rating": 4, "text": "Good ladder"}},
        "getReputation": {"path_parameters": {"handle": "alice"}},
        "getLedgerSettings": {},
        "updateLedgerSettings": {"body": {"demurrage_rate_bps": 50, "demurrage_period": "day"}},
        "updateMemberLimits": {
            "path_parameters": {"username": "bob"},
            "body": {"credit_limit": "50.00", "soft_limit": "10.00", "upper_limit": None},
        },
        "getLedgerAudit": {},
        "exportLedger": {},
        "listPeers": {"as": "alice"},
        "getPeerLinks": {},
        "addPeer": {"body": {"handle": _handle(peer), "credit_limit": "100.00"},
                    "headers": {"Idempotency-Key": "peer"}},
        "updatePeer": {"path_parameters": {"domain": peer.instance.domain},
                       "body": {"status": "suspended"}},
        "reconcilePeer": {"path_parameters": {"domain": peer.instance.domain}},
        "getPostedRates": {},
        "postRate": {"body": {"peer_currency": peer.currency, "rate": "3/2", "fee_bps": 25,
                              "valid_hours": 24, "max_amount": "500.00"}},
        "getLegsInDoubt": {},
        # No leg is in doubt here (booking one is tested in tests/clearing/test_faults.py):
        # an unknown transfer is the documented 404.
        "bookLegLate": {"body": {"transfer": "https://elsewhere.example/clearing/t/1"}},
    }  # fmt: skip


def _handle(community: Community) -> str:
    return f"@{community.instance.runtime.instance.community_username}@{community.instance.domain}"


async def _prepare_peer(site: Community, peer: Community) -> None:
    """The peer's operator peers with the site (the site's answer is `addPeer`)."""
    await peering.add_peer(peer.instance.runtime, _handle(site), "100")


def _call_good(
    doc: dict[str, Any],
    base_url: str,
    tokens: dict[str, dict[str, str]],
    currency: str,
    listings: tuple[str, str],
    peer: Community,
) -> dict[str, int]:
    schema = schemathesis.openapi.from_dict(doc)
    good = _good_requests(currency, listings, peer)
    statuses = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        operation_id = operation.definition.raw["operationId"]
        request = good.pop(operation_id)  # every operation needs a good request here
        headers = {**tokens[request.pop("as", "root")], **request.pop("headers", {})}
        case = operation.Case(**request)
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        case.validate_response(response, checks=CONFORMANCE, headers=headers)
        statuses[operation_id] = response.status_code
    assert not good, f"operations gone from the document: {sorted(good)}"
    return statuses


async def test_a_good_request_to_every_operation_succeeds_as_documented(
    site: Community, tmp_path: Path
) -> None:
    """Each operation, called well, answers 2xx with the documented body and headers."""
    alice, _ = await _populate(site)
    admin = await site.sign_up("root", admin=True)
    await _prepare_trades(site, admin, alice)
    listings = await _prepare_listings(site, admin, alice)
    doc = await document(site)
    tokens = {"root": admin.headers, "alice": alice.headers}
    async with community(tmp_path, "peer") as peer:
        await _prepare_peer(site, peer)
        args = (doc, site.instance.base_url, tokens, site.currency, listings, peer)
        statuses = await asyncio.to_thread(_call_good, *args)
    assert statuses.pop("bookLegLate") == 404
    assert all(200 <= status < 300 for status in statuses.values()), statuses
    assert statuses["createPayment"] == statuses["proposeTrade"] == 201
    assert statuses["createListing"] == statuses["addListingPhoto"] == 201


async def _prepare_listings(site: Community, root: SignedIn, alice: SignedIn) -> tuple[str, str]:
    """Root's offer of a ladder (matched by alice's need) and one more to withdraw."""
    ids = []
    for who, body in (
        (root, {"title": "Ladder to lend", "kind": "lend", "category": "tools"}),
        (root, {"title": "Old chair", "kind": "give"}),
        (alice, {"title": "Ladder wanted", "kind": "lend", "purpose": "request"}),
    ):
        response = await site.http.post(f"{PREFIX}/listings", json=body, headers=who.headers)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids[0], ids[1]


async def _prepare_trades(site: Community, root: SignedIn, alice: SignedIn) -> None:
    """Trades waiting for a decline, a cancel and a return (see `_good_requests`)."""
    due = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    for key, terms in (
        ("declined", {"option": "gift"}),
        ("cancelled", {"option": "gift"}),
        ("loan", {"option": "loan", "return_due_at": due}),
    ):
        body = {"listing": LADDER, "role": "receiver", "with": "alice", **terms}
        headers = {**root.headers, "Idempotency-Key": key}
        response = await site.http.post(f"{PREFIX}/trades", json=body, headers=headers)
        assert response.status_code == 201, response.text
    loan = f"{PREFIX}/trades/root:loan"
    for who, action in ((alice, "accept"), (alice, "deliver"), (root, "confirm")):
        response = await site.http.post(f"{loan}/{action}", json={}, headers=who.headers)
        assert response.status_code == 200, response.text


async def _populate(site: Community) -> tuple[SignedIn, SignedIn]:
    alice, bob = await site.sign_up("alice"), await site.sign_up("bob")
    need = {"title": "Ladder wanted", "kind": "lend", "purpose": "request"}
    response = await site.http.post(f"{PREFIX}/listings", json=need, headers=bob.headers)
    assert response.status_code == 201, response.text
    body = {"to": "bob", "amount": "3.00", "currency": site.currency}
    for key in ("a", "b", "c"):
        await site.http.post(
            f"{PREFIX}/payments", json=body, headers={**alice.headers, "Idempotency-Key": key}
        )
    return alice, bob


async def test_schemathesis_finds_no_server_error_and_no_schema_breach(site: Community) -> None:
    """Fuzzed requests, anonymous, as a member and as an operator: no 5xx, answers as documented."""
    alice, _ = await _populate(site)
    admin = await site.sign_up("root", admin=True)
    doc = await document(site)
    failures: list[str] = []
    for headers in ({}, alice.headers, admin.headers):
        failures += await asyncio.to_thread(_fuzz, doc, site.instance.base_url, headers)
    assert not failures, "\n\n".join(failures)
    problems = await site.http.get(f"{PREFIX}/admin/audit", headers=admin.headers)
    assert problems.json()["ok"], problems.text
