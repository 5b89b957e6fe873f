"""Errors of listings: remote listings we refuse, with a stable ``code`` and a safe message.

A Proposal refused for one of these is never stored (neither the post nor the listing);
the inbox records the error on the activity's inbox item.

    DocumentInvalid                 document_invalid (activitypub.errors)
    └── ListingInvalid              listing_invalid: a Proposal we cannot store as it is
                                    (no id or author, unknown purpose or kind, no primary
                                    intent, a negative price, a quantity that is not above
                                    zero, a unit we do not know)

A Proposal whose id is on another host than its author is refused with the protocol
library's `activitypub.errors.OriginMismatch` (``origin_mismatch``).
"""

from __future__ import annotations

from activitypub.errors import DocumentInvalid


class ListingInvalid(DocumentInvalid):
    """A remote Proposal that breaks FEP-0837 or our rules for listings."""

    code = "listing_invalid"
