"""The exchange API's operations of clearing between communities, for the one table in
`fediverse_share.exchange_api.openapi`: the members' directory of linked communities
and the operators' peers, statuses, reconciliation, posted rates and legs in doubt. (Payments to
members of other communities are the payments operations, with ``to`` elsewhere.)
"""

from __future__ import annotations

from fediverse_share.exchange_api import legs, peers, rates
from fediverse_share.exchange_api.spec import IDEMPOTENCY_KEY, Access, Operation, Param
from fediverse_share.exchange_api.spec import operation as _op

DOMAIN = Param(
    "domain", "path", {"type": "string", "minLength": 1, "maxLength": 253},
    "the linked community's domain (host and port, as in peer:<domain>)",
)  # fmt: skip

DIRECTORY: tuple[Operation, ...] = (
    _op("GET", "/peers", peers.show_directory, "listPeers",
        "The communities this one is linked with: status, currency and posted rates",
        Access.READ, response="PeerDirectory",
        description="`our_rate` is what this community gives, in its currency, for one "
        "unit of theirs (pay its members at it); `their_rate`, when they have pushed one, "
        "what they give for one of ours."),
)  # fmt: skip

ADMIN: tuple[Operation, ...] = (
    _op("GET", "/admin/peers", peers.show_links, "getPeerLinks",
        "Every link: status and note, consents, the peer:<domain> account and its limits",
        Access.ADMIN_READ, response="PeerLinks"),
    _op("POST", "/admin/peers", peers.add_link, "addPeer",
        "Peer with a community (or change the credit limit of the link)",
        Access.ADMIN_WRITE, response="PeerLink", body="PeerRequest",
        params=(IDEMPOTENCY_KEY,), errors=(422,),
        description="Reads the community's clearing document, opens peer:<domain> with "
        "the credit limit in both directions and sends a signed Offer(ClearingLink). The "
        "link is active once the other operator peers back. A community that cannot be "
        "read is a 422 `peer_unreachable`."),
    _op("PATCH", "/admin/peers/{domain}", peers.change_link, "updatePeer",
        "Suspend, resume (active) or end a link, and tell the peer", Access.ADMIN_WRITE,
        response="PeerLink", body="PeerPatch", params=(DOMAIN, IDEMPOTENCY_KEY),
        description="A suspended link refuses new payments and completes those already "
        "prepared; resuming a frozen link is the operator's call once the statements are "
        "understood. A status it cannot go to from its present one is a 400."),
    _op("POST", "/admin/peers/{domain}/reconcile", peers.reconcile_link, "reconcilePeer",
        "Send the peer our statement of the link and compare", Access.ADMIN_WRITE,
        response="Reconciliation", params=(DOMAIN, IDEMPOTENCY_KEY),
        description="`matched` is null when it could not be compared now (payments in "
        "flight, or the peer unreachable); a mismatch freezes the link on both sides."),
    _op("GET", "/admin/rates", rates.show_rates, "getPostedRates",
        "The rates this community posts now, one per peer currency", Access.ADMIN_READ,
        response="PostedRates"),
    _op("POST", "/admin/rates", rates.post_rate, "postRate",
        "Post a new version of the rate for a peer currency (pushed to the peers)",
        Access.ADMIN_WRITE, response="PostedRate", status=201, body="RateRequest",
        params=(IDEMPOTENCY_KEY,),
        description="Defaults: no fee, valid 24 hours, no maximum but the ledger's. The "
        "same terms as the current version again within five minutes return that version."),
    _op("GET", "/admin/clearing/in-doubt", legs.show_in_doubt, "getLegsInDoubt",
        "Legs a downstream community committed after our holds had expired",
        Access.ADMIN_READ, response="LegsInDoubt",
        description="Never decided automatically: the link's statements disagree and it "
        "is frozen until an operator books the leg late and resumes it."),
    _op("POST", "/admin/clearing/in-doubt", legs.book_late, "bookLegLate",
        "Book a leg in doubt late: the transfers its commit would have posted",
        Access.ADMIN_WRITE, response="LegInDoubt", body="BookLate",
        params=(IDEMPOTENCY_KEY,), errors=(404, 409, 422),
        description="Checked against today's limits (a refusal is the ledger's 422). A "
        "leg that is not in doubt is a 409 `leg_not_prepared`; one already committed is "
        "answered again, unchanged. Resume the frozen links afterwards."),
)  # fmt: skip
