"""Parsing actors and activities into typed values, and the origin rule."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from activitypub.errors import DocumentInvalid, OriginMismatch
from activitypub.objects import (
    _host_by_urlsplit,
    check_same_origin,
    host_of,
    id_of,
    parse_activity,
    parse_actor,
    render_context,
    types_of,
)
from tests.support.serve import fixture_path

MASTODON_ACTOR = "https://mastodon.madrid/users/felix"
MASTODON_CREATE = "https://mastodon.madrid/users/felix/statuses/107224289116410645/activity"
LEMMY_GROUP = "https://enterprise.lemmy.ml/c/tenforward"
LEMMY_ANNOUNCE = (
    "https://enterprise.lemmy.ml/activities/announce/8030b171-803a-4108-94b1-342688f375cf"
)
MITRA_ACTOR = "https://mitra.social/users/silverpill"


def recorded(url: str) -> dict:
    return orjson.loads(fixture_path(url).read_bytes())


def minimal_actor(**changes) -> dict:
    actor = {
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": "https://a.example/users/ana",
        "type": "Person",
        "preferredUsername": "ana",
        "inbox": "https://a.example/users/ana/inbox",
    }
    actor.update(changes)
    return {key: value for key, value in actor.items() if value is not ...}


def test_mastodon_person_parses():
    """A recorded Mastodon actor gives its inbox, shared inbox, key and profile fields."""
    actor = parse_actor(recorded(MASTODON_ACTOR))
    assert actor.id == MASTODON_ACTOR
    assert (actor.type, actor.preferred_username) == ("Person", "felix")
    assert actor.inbox == f"{MASTODON_ACTOR}/inbox"
    assert actor.shared_inbox == "https://mastodon.madrid/inbox"
    assert actor.followers == f"{MASTODON_ACTOR}/followers"
    assert [key.id for key in actor.public_keys] == [f"{MASTODON_ACTOR}#main-key"]
    assert actor.public_keys[0].pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert actor.url == "https://mastodon.madrid/@felix"
    assert actor.icon_url is not None and actor.icon_url.endswith(".jpg?1598972149")
    assert actor.manually_approves_followers is False
    assert actor.raw["featured"].endswith("/collections/featured")


def test_mitra_actor_with_fep_521a_keys_parses():
    """Mitra's assertionMethod Multikeys are read beside its publicKey."""
    actor = parse_actor(recorded(MITRA_ACTOR))
    assert [key.id for key in actor.public_keys] == [f"{MITRA_ACTOR}#main-key"]
    assert [key.id for key in actor.assertion_methods] == [
        f"{MITRA_ACTOR}#main-key",
        f"{MITRA_ACTOR}#ed25519-key",
    ]
    ed25519 = actor.assertion_methods[1]
    assert ed25519.controller == MITRA_ACTOR
    assert ed25519.public_key_multibase.startswith("z6Mk")
    assert actor.discoverable is True
    assert actor.published == datetime(2021, 11, 6, 21, 8, 57, 441927, tzinfo=UTC)


def test_lemmy_group_parses():
    """A Lemmy community is a Group actor with a shared inbox."""
    group = parse_actor(recorded(LEMMY_GROUP))
    assert group.type == "Group"
    assert group.shared_inbox == "https://enterprise.lemmy.ml/inbox"
    assert group.following is None


def test_mastodon_create_note_parses_and_keeps_origin():
    """A recorded Create(Note) gives its actor, embedded Note and addressing."""
    activity = parse_activity(recorded(MASTODON_CREATE))
    assert (activity.type, activity.actor) == ("Create", MASTODON_ACTOR)
    assert isinstance(activity.object, dict)
    assert types_of(activity.object) == ("Note",)
    assert "https://www.w3.org/ns/activitystreams#Public" in activity.cc
    assert activity.published == datetime(2021, 11, 5, 11, 46, 50, tzinfo=UTC)
    check_same_origin(activity, activity.actor)


def test_lemmy_announce_of_create_page_parses_and_keeps_origin():
    """Lemmy's Announce(Create(Page)) parses at both levels and passes the origin rule."""
    announce = parse_activity(recorded(LEMMY_ANNOUNCE))
    assert (announce.type, announce.actor) == ("Announce", "https://enterprise.lemmy.ml/c/main")
    create = parse_activity(announce.object)
    assert create.type == "Create"
    assert create.actor == "https://enterprise.lemmy.ml/u/lemmy_beta"
    assert types_of(create.object) == ("Page",)
    assert id_of(create.object) == "https://enterprise.lemmy.ml/post/7"
    check_same_origin(announce, announce.actor)


def test_actor_type_may_be_an_array_and_embedded_actor_is_an_id():
    """Type arrays pick the actor type; an activity's embedded actor reduces to its id."""
    actor = parse_actor(minimal_actor(type=["Person", "vf:Agent"]))
    assert (actor.type, actor.types) == ("Person", ("Person", "vf:Agent"))
    activity = parse_activity(
        {
            "id": "https://a.example/follows/1",
            "type": "Follow",
            "actor": {"id": "https://a.example/users/ana", "type": "Person"},
            "object": "https://b.example/users/bo",
        }
    )
    assert activity.actor == "https://a.example/users/ana"
    assert activity.object == "https://b.example/users/bo"


def test_keys_of_other_owners_are_ignored_and_at_most_ten_kept():
    """Keys owned by, or hosted on, someone else are dropped; the list stops at ten."""
    own = [
        {
            "id": f"https://a.example/users/ana#key-{n}",
            "owner": "https://a.example/users/ana",
            "publicKeyPem": "PEM",
        }
        for n in range(12)
    ]
    foreign = {
        "id": "https://b.example/users/bo#main-key",
        "owner": "https://a.example/users/ana",
        "publicKeyPem": "PEM",
    }
    actor = parse_actor(minimal_actor(publicKey=[foreign, *own]))
    assert len(actor.public_keys) == 9  # ten read, the foreign one dropped
    assert all(key.id.startswith("https://a.example/") for key in actor.public_keys)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"@context": "https://w3id.org/security/v1"}, "@context"),
        ({"@context": ...}, "@context"),
        ({"inbox": ...}, "inbox"),
        ({"inbox": 42}, "inbox"),
        ({"inbox": "javascript:alert(1)"}, "inbox"),
        ({"preferredUsername": ...}, "preferredUsername"),
        ({"preferredUsername": ["ana"]}, "preferredUsername"),
        ({"type": "Note"}, "type"),
        ({"id": ...}, "id"),
        ({"publicKey": {"id": "https://a.example/users/ana#k"}}, "publicKey"),
        ({"endpoints": {"sharedInbox": 7}}, "sharedInbox"),
        ({"manuallyApprovesFollowers": "yes"}, "manuallyApprovesFollowers"),
        ({"published": "yesterday"}, "published"),
        ({"name": {"en": "Ana"}}, "name"),
    ],
)
def test_malformed_actors_raise_document_invalid(changes, reason):
    """Every malformed actor raises DocumentInvalid naming the problem, never KeyError."""
    with pytest.raises(DocumentInvalid, match=reason):
        parse_actor(minimal_actor(**changes))


@pytest.mark.parametrize(
    "document",
    [
        [],
        "Create",
        None,
        {"type": "Create", "actor": "https://a.example/u"},
        {"id": "https://a.example/1", "type": ["Create"], "actor": "https://a.example/u"},
        {"id": "https://a.example/1", "type": "Create"},
        {"id": "https://a.example/1", "type": "Create", "actor": ["https://a.example/u"]},
        {
            "id": "https://a.example/1",
            "type": "Create",
            "actor": "https://a.example/u",
            "object": 5,
        },
        {"id": "https://a.example/1", "type": "Create", "actor": "https://a.example/u", "to": 5},
        {"id": 1, "type": "Create", "actor": "https://a.example/u"},
    ],
)
def test_malformed_activities_raise_document_invalid(document):
    """Non-objects, missing ids or actors, type arrays and wrong field types are refused."""
    with pytest.raises(DocumentInvalid):
        parse_activity(document)


def test_activity_id_on_another_host_is_refused():
    """An activity whose id is not on its actor's host fails the origin rule."""
    activity = parse_activity(recorded(MASTODON_CREATE))
    with pytest.raises(OriginMismatch):
        check_same_origin(activity, "https://evil.example/users/felix")


def test_embedded_object_from_another_host_is_refused():
    """A Create that embeds a Note claiming another server's id is refused."""
    document = recorded(MASTODON_CREATE)
    document["object"]["id"] = "https://mamot.fr/users/retiolus/statuses/1"
    with pytest.raises(OriginMismatch):
        check_same_origin(parse_activity(document), MASTODON_ACTOR)


def test_embedded_object_attributed_to_someone_elsewhere_is_refused():
    """A Create may not carry an object that lives on, and is attributed to, another host."""
    document = recorded(MASTODON_CREATE)
    document["object"]["id"] = "https://mamot.fr/users/retiolus/statuses/1"
    document["object"]["attributedTo"] = "https://mamot.fr/users/retiolus"
    with pytest.raises(OriginMismatch):
        check_same_origin(parse_activity(document), MASTODON_ACTOR)


def test_announce_may_carry_others_objects_but_only_consistent_ones():
    """A boost embeds someone else's activity, but that activity must match its own actor."""
    document = recorded(LEMMY_ANNOUNCE)
    document["object"]["actor"] = "https://lemmy.world/u/someone"
    document["object"]["id"] = "https://lemmy.world/activities/create/1"
    document["object"]["object"]["attributedTo"] = "https://lemmy.world/u/someone"
    document["object"]["object"]["id"] = "https://lemmy.world/post/1"
    check_same_origin(document, document["actor"])
    forged = copy.deepcopy(document)
    forged["object"]["object"]["id"] = "https://enterprise.lemmy.ml/post/7"
    with pytest.raises(OriginMismatch):
        check_same_origin(forged, forged["actor"])


def test_delete_of_a_tombstone_must_be_on_the_actors_host():
    """An embedded object with no attribution is checked against the activity's actor."""
    delete = {
        "id": "https://a.example/users/ana#delete-1",
        "type": "Delete",
        "actor": "https://a.example/users/ana",
        "object": {"id": "https://b.example/notes/1", "type": "Tombstone"},
    }
    with pytest.raises(OriginMismatch):
        check_same_origin(delete, "https://a.example/users/ana")


def test_render_context_lists_the_contexts_we_use():
    """Our @context: ActivityStreams, security v1, then the extension context if any."""
    assert render_context() == [
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/v1",
    ]
    assert render_context({"vf": "https://w3id.org/valueflows/ont/vf#"})[2] == {
        "vf": "https://w3id.org/valueflows/ont/vf#"
    }


_URLS = st.builds(
    "".join,
    st.tuples(
        st.sampled_from(["http", "https", "HTTPS", "ftp", " http", "\thttps", "http\n"]),
        st.sampled_from(["://", ":/", "///", "://user@"]),
        st.text(alphabet="aZ09.-_[]:%@\t\n é", max_size=12),
        st.sampled_from(["", ":", ":0", ":08", ":80", ":443", ":9999", ":65535", ":65536"]),
        st.sampled_from(["", "/", "/users/x", "?q=1", "#f", " ", "\n", "\\", ":1/x"]),
    ),
)


@given(_URLS)
def test_host_of_reads_urls_as_urlsplit_does(url):
    """The plain-URL shortcut of host_of gives urlsplit's reading of every URL."""
    assert host_of(url) == _host_by_urlsplit(url)


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://a.example/users/ana", "a.example"),
        ("http://127.0.0.1:8000/inbox", "127.0.0.1:8000"),
        ("https://A.Example:443", "a.example:443"),
        ("https://a.example:0080/x", "a.example:80"),
        ("https://a.example:65536/x", None),
        ("ftp://a.example/x", None),
        ("https:///x", None),
    ],
)
def test_host_of(url, host):
    """host_of gives the lowercased host and port as written, None for no http(s) URL."""
    assert host_of(url) == host
