"""The Mastodon client API's service layer: what it loads, changes and renders.

Loading (typed facts): `accounts`, `instance`, `statuses` (a page of statuses in a
fixed number of queries; `status_counts` for their counts and the viewer's flags),
`timelines` (which ids a timeline holds, and who may see what), `feeds` (home
timelines filled on write), `notifications`, `relationships`, `markers`, `search`,
`streaming`. Changing: `compose` (posting), `interactions` (favourites, reblogs,
bookmarks), `profile`, `media`, `stats` (counts kept on write).
`events` is the seam federation calls when something is stored. Rendering (typed →
wire): `entities`, `status_entities`, `social_entities`. Tables: `tables`
(migration ``0004_mastodon``); errors: `errors`. The routes live in
`fediverse_share.web.mastodon_*`, gathered by `fediverse_share.web.mastodon_api`.
"""
