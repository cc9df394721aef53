"""Knowledge-base articles, pure: the keywords an article is found by, how well an incident
matches an article, the article and index texts as both trackers render them, and how the
article's generated part is put into a page people also write on.

Matching is deliberately simple and deterministic, so a suggestion can be explained: the
significant words (stop words of English and Spanish left out, accents and case folded) that
an incident and an article share, counted once each.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rules.messages import DEFAULT, Messages

MIN_LENGTH = 3  # shorter words ("no", "el", "ok") say nothing about a problem

STOP_WORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below
between both but by can cannot could did do does doing down during each few for from further had has have
having he her here hers herself him himself his how however i if in into is it its itself just let me more
most my myself no nor not now of off on once only or other our ours ourselves out over own same she should
so some such than that the their theirs them themselves then there these they this those through to too
under until up very was we were what when where which while who whom why will with would you your yours
yourself yourselves get got getting still since via per please thanks thank hello dear regards cannot cant
dont doesnt didnt wont isnt arent wasnt im ive its thats issue problem ticket error help need needs user
users customer customers work working works
al algo algun alguna algunas alguno algunos ante antes aqui asi aun aunque bien cada como con contra cual
cuales cuando de del desde donde dos el ella ellas ello ellos en entre era eran eres es esa esas ese eso
esos esta estaba estaban estamos estan estar estas este esto estos estoy fue fueron ha hace hacen hacer
hasta hay la las le les lo los mas me mi mis mismo mucho muy nada ni no nos nosotros o otra otras otro
otros para pero poco por porque puede pueden que quien se sea segun ser si sido sin sobre solo son su sus
tambien tanto te tiene tienen todo todos tu tus un una unas uno unos usted ustedes ya yo favor gracias hola
saludos buenas buenos dias problema error ayuda cliente clientes usuario usuarios funciona funcionan
""".split())


def fold(text: str) -> str:
    """Lower case without accents, so "Facturación" and "facturacion" are one word."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def keywords(*texts: str) -> list[str]:
    """The significant words of some texts: folded, stop words and short words left out, each
    once, in the order they first appear."""
    seen: dict[str, None] = {}
    for text in texts:
        for word in re.findall(r"[a-z0-9]+(?:[-_.][a-z0-9]+)*", fold(text or "")):
            if len(word) >= MIN_LENGTH and word not in STOP_WORDS and not word.isdigit():
                seen.setdefault(word, None)
    return list(seen)


def score(wanted: Iterable[str], article: Iterable[str]) -> int:
    """How many significant words an incident and an article share."""
    return len(set(wanted) & set(article))


@dataclass(frozen=True)
class Match:
    """An article suggested for an incident, with the words they share."""

    article_id: int
    title: str
    url: str
    score: int
    shared: tuple[str, ...]


def rank(wanted: Sequence[str], articles: Iterable[Mapping[str, Any]], limit: int, min_score: int) -> list[Match]:
    """The best `limit` articles (rows with `id`, `title`, `url`, `keywords`) sharing at least
    `min_score` words with `wanted`: most shared words first, then the older article."""
    found = []
    for row in articles:
        shared = tuple(word for word in wanted if word in set(row["keywords"]))
        if len(shared) >= max(1, min_score):
            found.append(Match(int(row["id"]), str(row["title"]), str(row["url"] or ""), len(shared), shared))
    found.sort(key=lambda match: (-match.score, match.article_id))
    return found[:max(0, limit)]


def _link(source: Mapping[str, Any]) -> str:
    return f"{source['key']} ({source['url']})" if source.get("url") else str(source["key"])


def article_text(parts: Mapping[str, Any], sources: Sequence[Mapping[str, Any]], locale: str = "en",
                 messages: Messages = DEFAULT) -> str:
    """The article as headings both trackers render (Redmine's Textile, Jira's wiki markup)."""
    def t(name: str) -> str:
        return messages.text(locale, f"kb.{name}")

    missing = t("to_fill")
    lines = [f"h2. {t('problem')}", "", str(parts.get("problem") or missing), "",
             f"h2. {t('cause')}", "", str(parts.get("cause") or missing), "",
             f"h2. {t('solution')}", "", str(parts.get("solution") or missing), "",
             f"h2. {t('affects')}", "",
             f"* {t('product')}: {parts.get('product') or missing}",
             f"* {t('version')}: {parts.get('version') or missing}", "",
             f"h2. {t('sources')}", ""]
    lines += [f"* {_link(source)}" for source in sources]
    return "\n".join(lines) + "\n"


def index_text(product: str, articles: Sequence[Mapping[str, Any]], locale: str = "en",
               messages: Messages = DEFAULT) -> str:
    """A product's index page (Redmine wiki): each article linked, with how many tickets it
    came from. `articles`: rows with `title`, `page` (the wiki page name) and `sources`."""
    lines = [f"h1. {messages.text(locale, 'kb.index_title', product=product)}", "",
             messages.text(locale, "kb.index_intro", product=product), ""]
    for row in sorted(articles, key=lambda row: str(row["title"]).casefold()):
        count = messages.text(locale, "kb.index_sources", count=len(row["sources"]))
        lines.append(f"* [[{row['page']}|{row['title']}]] ({count})")
    return "\n".join(lines) + "\n"


def suggestion_note(intro: str, matches: Sequence[Match]) -> str:
    """The private note that suggests articles: the intro, then one line per article."""
    return "\n".join([intro, "", *[f"* {m.title}: {m.url}" if m.url else f"* {m.title}" for m in matches]])


def product_slug(product: str) -> str:
    """A product as a Jira label (the article index there): `kb-` and the folded name."""
    slug = re.sub(r"[^a-z0-9]+", "-", fold(product)).strip("-")
    return f"kb-{slug or 'general'}"[:255]


# The generated part of an article's page (Redmine) or description (Jira) lies between a line
# holding BEGIN and one holding END; everything around it is people's and kept.
BEGIN, END = "ticketwarden:article-begin", "ticketwarden:article-end"
_TOKEN = re.compile(r"ticketwarden:article-(?=begin|end)")


def generated_block(text: str, tracker: str, hint: str) -> str:
    """The article's generated part between its two marker lines: HTML comments on Redmine
    (its Textile and Markdown wikis show neither), italic lines on Jira (its wiki markup has no
    hidden comment, so they say what they are). A marker word the text itself carries (a
    customer's description, say) is broken up, so that only the marker lines are markers."""
    body = _TOKEN.sub("ticketwarden: article-", text).strip("\n")
    if tracker == "jira":
        begin, end = f"_{BEGIN}: {hint}_", f"_{END}_"
    else:
        begin, end = f"<!-- {BEGIN}: {re.sub('-{2,}', '-', hint)} -->", f"<!-- {END} -->"
    return f"{begin}\n\n{body}\n\n{end}\n"


@dataclass(frozen=True)
class Merged:
    """A page's new text, and how the generated part got into it: `new` (no page yet),
    `replaced` (between its markers), `rewritten` (a page without markers that only
    ticketwarden has written: the whole page), `appended` (the markers are gone and people
    wrote on the page: the generated part goes below all they wrote)."""

    text: str
    how: str


def merge_generated(current: str | None, block: str, ours: bool) -> Merged:
    """Put the generated `block` into a page's `current` text, keeping everything outside its
    markers as people wrote it. The last BEGIN line before the last END line is the generated
    part (an END line a person deleted leaves an orphan BEGIN that is kept as text). `ours`:
    ticketwarden wrote the current version (no person edited it since)."""
    if current is None or not current.strip():
        return Merged(block, "new")
    lines = current.splitlines(keepends=True)
    end = next((n for n in range(len(lines) - 1, -1, -1) if END in lines[n]), None)
    begin = None if end is None else next((n for n in range(end - 1, -1, -1) if BEGIN in lines[n]), None)
    if end is not None and begin is not None:
        return Merged("".join(lines[:begin]) + block + "".join(lines[end + 1:]), "replaced")
    if ours:
        return Merged(block, "rewritten")
    return Merged(current.rstrip() + "\n\n" + block, "appended")


def article_link(tracker: str, project: str, page: str, title: str, url: str) -> str:
    """An article as a link in a note on one of its tickets: a wiki link to `page` of
    `project`'s wiki (Redmine), a link named by the issue key at the end of `url` (Jira)."""
    label = " ".join(re.sub(r"[\[\]|{}]", " ", title).split())
    if tracker == "jira":
        key = url.rstrip("/").rsplit("/", 1)[-1]
        return f"[{key}: {label}|{url}]"
    return f"[[{project}:{page}|{label}]]"
