"""The OAuth 2 authorization server that Mastodon clients use.

One module per concept: `scopes` (the Mastodon scope hierarchy), `apps` (client
registration), `codes` (authorization codes with optional PKCE), `tokens` (bearer
tokens and the grants they carry), `credentials` (random secrets and their digests)
and `errors` (RFC 6749 error codes). The web routes live in
`fediverse_share.web.oauth` and `fediverse_share.web.oauth_authorize`; the bearer
check every API handler uses is `fediverse_share.web.auth`.
"""
