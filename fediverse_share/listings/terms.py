"""The words of a listing's text that search and matching look for.

`terms_of` splits text into lower-case words, as a member typed them; search uses
them all. `meaningful_terms` keeps only the words that say what a listing is about,
for matching: a match is an unrequested notification, so "Tent for two" must not
match "A drill for an afternoon" through "for". It drops words of two characters or
fewer, `STOP_WORDS` and `LISTING_WORDS`.

`STOP_WORDS` are function words (articles, pronouns, possessives, prepositions,
conjunctions, the commonest forms of "to be" and "to have", a few adverbs) of
English, German, French, Spanish and Dutch. They come from the Snowball project's
stop word lists (https://snowballstem.org/algorithms/, BSD licence; PostgreSQL ships
the same lists as ``tsearch_data/*.stop``): the words of three characters or more,
without the rarer verb forms, plus a few common function words those lists lack
(English "also", "would"; German "schon", "neben"; French "les", "sans", "très",
"tout"; Spanish "ser", "menos"; Dutch "den", "waar"). Communities write in many
languages and a title mixes them, so one set serves every listing. A stop word of
one language that names something people share in another is kept as a term
(`_SHARED_THINGS`: "car", "door", "van", "hat", "hoe", …).

`LISTING_WORDS` say only that a listing is an offer or a need ("Need a drill",
"Biete Fahrrad"); every need could match every offer that mentions them.
"""

from __future__ import annotations

import re
import unicodedata

MAX_TERMS = 8
MIN_MEANINGFUL_CHARS = 3
_WORD = re.compile(r"\w{2,}", re.UNICODE)

_ENGLISH = """
    the and but nor for with from into onto about above below after before under over
    between through during until while than then this that these those there here
    what which who whom whose when where why how all any both each few more most other
    some such not only own same too very can will just should would could also
    are was were been being have has had having does did doing
    you your yours yourself him his himself she her hers herself its itself
    our ours ourselves they them their theirs themselves myself
"""
_GERMAN = """
    der die das den dem des ein eine einem einen einer eines und oder aber doch sondern
    denn weil wenn als wie auch nur noch schon sehr mit ohne für von vom zum zur bei
    aus auf nach vor über unter zwischen durch gegen bis hinter neben
    ich mich mir du dich dir sie ihn ihm ihr ihre ihrem ihren ihrer ihres uns euch euer
    mein meine meinem meinen meiner meines dein deine sein seine seinem seinen seiner
    sich man dies diese diesem diesen dieser dieses jede jeder jedes kein keine keinen
    ist sind bin bist war waren wird werden wurde hat haben hatte habe kann will soll
    nicht nichts etwas alle alles hier dort dann
"""
_FRENCH = """
    les des une aux avec dans pour par sur sous sans chez entre vers que qui quoi dont
    mais car donc puis elle elles eux lui leur leurs nous vous moi toi mon ton son
    mes tes ses nos vos notre votre ces cette cet est sont suis sommes êtes était étaient
    ont avons avez avait pas plus très aussi tout tous toute toutes
"""
_SPANISH = """
    los las una uno unos unas del con para por sin sobre entre hasta desde hacia que
    quien cual como cuando donde pero porque también muy más menos ese esa esos esas
    este esta estos estas eso esto mis tus sus nuestro nuestra nuestros nuestras
    vuestro vuestra ellos ellas nosotros nosotras les nos está están estoy hay son
    soy era fue ser estar tiene tengo todo toda todos todas otro otra otros otras
"""
_DUTCH = """
    een het van dat die deze dit der den met voor naar aan bij uit tot door over
    onder tegen zonder als maar omdat want dus toch ook nog niet geen iets niets
    hij zij wij jij mij hem haar ons hun zijn mijn jouw onze uw was waren ben heeft
    hebben heb wordt worden werd zal kan moet wil wat wie hoe waar hier daar dan veel meer
"""
#: English nouns (and Spanish "mes", month) that are stop words elsewhere: French "car",
#: Dutch "door", "van", "hoe", "hem", German "hat", "bin", Spanish "hay", "sea", …
_SHARED_THINGS = frozenset(
    {"car", "door", "van", "hoe", "hem", "hat", "bin", "hay", "sea", "ton", "mes"}
)

STOP_WORDS = (
    frozenset(
        word
        for words in (_ENGLISH, _GERMAN, _FRENCH, _SPANISH, _DUTCH)
        for word in words.split()
        if len(word) >= MIN_MEANINGFUL_CHARS
    )
    - _SHARED_THINGS
)

LISTING_WORDS = frozenset(
    {
        *("offer", "offering", "offers", "need", "needs", "needed", "wanted", "looking"),
        *("biete", "suche", "gesucht", "offre", "cherche", "ofrezco", "busco", "zoek"),
        *("gezocht", "bied", "aangeboden"),
    }
)


def _words(text: str) -> list[str]:
    """Distinct lower-case words of two characters or more, in order (composed first, so
    a "ü" typed as "u" and a combining mark stays one letter)."""
    return list(dict.fromkeys(_WORD.findall(unicodedata.normalize("NFC", text).lower())))


def terms_of(text: str) -> list[str]:
    """The words of ``text`` a search looks for (at most `MAX_TERMS`)."""
    return _words(text)[:MAX_TERMS]


def meaningful_terms(text: str) -> list[str]:
    """The words of ``text`` that say what it is about, for matching: no stop words, no
    listing words, none shorter than three characters (at most `MAX_TERMS`)."""
    return [
        word
        for word in _words(text)
        if len(word) >= MIN_MEANINGFUL_CHARS
        and word not in STOP_WORDS
        and word not in LISTING_WORDS
    ][:MAX_TERMS]
