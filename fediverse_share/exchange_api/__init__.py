"""The exchange REST API under ``/api/exchange/v1/`` (DESIGN §2).

One module per resource (`accounts`, `payments` with `cross_payments` to other
communities, `trades`, `reviews`, `listings`, `peers`, `rates`, `admin`), wire shapes
in `render` and `render_clearing`, and one declarative table of operations in
`openapi` (clearing's in `clearing_operations`) from which both the router and the
OpenAPI document are built, so the two cannot drift.
Handlers are thin: they check the bearer token, parse the request into typed values,
and run one sync function against the ``exchange`` domain through ``runtime.db``.
"""
