"""The Mastodon client API's view of this instance: what it loads and how it renders.

`entities` renders Mastodon entities (Account, CredentialAccount, Application,
Token, Instance) from typed facts; `accounts` and `instance` load those facts.
The routes live in `fediverse_share.web.mastodon_api`.
"""
