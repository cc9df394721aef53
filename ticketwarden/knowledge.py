"""`knowledge_article` and `suggest_articles` effects: the knowledge base kept in the store and
written into the tracker.

An article is one per (tracker, project, key) in the store, so a second incident with the same
key adds itself to the article instead of drafting another. The article's generated part is
written from the stored article every time, between markers, into its page or issue as it
stands: what people wrote around it stays (Redmine: a wiki page named by the title, written
only if nobody changed it since it was read, and its product's index page; Jira: an issue found
by its marker label, labelled for its product). Each source ticket gets one private note
linking it to the article. Suggestions are looked up here, at write time, because rules plan
without reading the store.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from connector.errors import TrackerError
from rules.knowledge import (
    Match,
    Merged,
    article_link,
    article_text,
    generated_block,
    index_text,
    merge_generated,
    product_slug,
    rank,
    suggestion_note,
)
from rules.messages import DEFAULT, Messages
from rules.model import Effect
from ticketwarden.clock import Clock
from ticketwarden.records import marker
from ticketwarden.rulefiles import RulebookHolder
from ticketwarden.store import ArticleRow, Store

log = logging.getLogger(__name__)
SUGGESTED = "kb-suggested:"  # + effect key: the articles a suggestion named, so a retry names the same
NOTED = "kb-noted:"  # + article id, tracker, ticket id: the source ticket has its note linking to the article
WIKI_COMMENT = "ticketwarden knowledge base"


class KnowledgeBase:
    def __init__(self, store: Store, rules: RulebookHolder, clock: Clock):
        self.store = store
        self.rules = rules
        self.clock = clock

    def apply(self, effect: Effect, connector: Any, first_attempt: bool) -> str:
        if effect.action == "suggest_articles":
            return self._suggest(effect, connector, first_attempt)
        return self._article(effect, connector, first_attempt)

    def _messages(self) -> Messages:
        rulebook = self.rules.current
        return rulebook.messages if rulebook is not None else DEFAULT

    # -- articles --------------------------------------------------------------------------------

    def _article(self, effect: Effect, connector: Any, first_attempt: bool) -> str:
        params = effect.params
        tracker, project, key = effect.tracker_kind, str(params["project"]), str(params["key"])
        parts = {name: str(value) for name, value in dict(params["parts"]).items()}
        article, drafted = self.store.save_article(
            tracker=tracker, project=project, key=key, title=self._title(tracker, project, key, parts["title"]),
            product=parts["product"], parts=parts, sources=list(params["sources"]),
            keywords=list(params["keywords"]), now=self.clock())
        appended = False
        for _ in range(3):  # another incident may join the article while it is written: write it again
            url, how = self._write(article, connector, params)
            appended = appended or how == "appended"
            self.store.article_written(article.id, url, self.clock())
            latest = next(a for a in self.store.articles(tracker, project) if a.id == article.id)
            if latest.sources == article.sources:
                break
            article = latest
        state = "drafted" if drafted else "updated"
        outcome = f"knowledge article {state}: {url} ({len(article.sources)} source ticket(s))"
        if appended:
            outcome += "; its markers were gone from the page, so the generated part went below what people wrote"
        return outcome + self._note_sources(effect, article, url, connector, first_attempt)

    def _title(self, tracker: str, project: str, key: str, title: str) -> str:
        """A new article's title, told apart from another key's article of the same title (a
        Redmine wiki page is named by its title)."""
        from connector.redmine import wiki_title

        others = [a for a in self.store.articles(tracker, project) if a.key != key]
        if any(wiki_title(a.title) == wiki_title(title) for a in others):
            return f"{title} ({key})"
        return title

    def _write(self, article: ArticleRow, connector: Any, params: Mapping[str, Any]) -> tuple[str, str]:
        """Write the article's generated part into its page or issue; returns its address and
        how the part went in (`rules.knowledge.Merged`)."""
        locale, messages = str(params.get("locale") or "en"), self._messages()
        block = generated_block(article_text(article.parts, article.sources, locale, messages), article.tracker,
                                messages.text(locale, "kb.generated"))
        if article.tracker == "redmine":
            from connector.redmine import wiki_title

            url, how = self._write_page(article, connector, block)
            listed = [{"title": a.title, "page": wiki_title(a.title), "sources": a.sources}
                      for a in self.store.articles(article.tracker, article.project, article.product)]
            connector.publish_page(article.project, messages.text(locale, "kb.index_title", product=article.product),
                                   index_text(article.product, listed, locale, messages), comments=WIKI_COMMENT)
            return url, how
        if article.tracker == "jira":
            found = marker("jira", "article", f"{article.project}\x1f{article.key}")
            current = connector.read_published(found, article.project)
            merged = merge_generated(current.text if current else None, block, current.ours if current else True)
            self._log_merge(article, merged)
            url = str(connector.publish_issue(found, article.project, str(params.get("issue_type") or "Article"),
                                              article.title, merged.text, labels=[product_slug(article.product)]))
            return url, merged.how
        raise TrackerError(f"knowledge articles cannot be written to {article.tracker}", transient=False)

    def _write_page(self, article: ArticleRow, connector: Any, block: str) -> tuple[str, str]:
        """The article's wiki page: read, the generated part put in, written only if the page
        is still the version read (a person saving in between is read again)."""
        for _ in range(3):
            current = connector.read_page(article.project, article.title)
            merged = merge_generated(current.text if current else None, block, current.ours if current else True)
            if current is not None and merged.text == current.text:
                return str(current.url), merged.how  # nothing new: no new version of the page
            try:
                url = str(connector.publish_page(article.project, article.title, merged.text, comments=WIKI_COMMENT,
                                                 version=current.version if current else None))
            except TrackerError as exc:
                if exc.status != 409:
                    raise
                continue
            self._log_merge(article, merged)
            return url, merged.how
        raise TrackerError(f"the wiki page of article {article.title!r} kept changing while it was written",
                           transient=True)

    @staticmethod
    def _log_merge(article: ArticleRow, merged: Merged) -> None:
        if merged.how == "appended":
            log.warning("knowledge article %r: its page lacks the generated part's markers (a person removed "
                        "them); the generated part is added below the page, nothing people wrote is replaced",
                        article.title)
        elif merged.how == "rewritten":
            log.info("knowledge article %r: page without markers written only by ticketwarden, "
                     "written again with them", article.title)

    def _note_sources(self, effect: Effect, article: ArticleRow, url: str, connector: Any,
                      first_attempt: bool) -> str:
        """One private note on each of the effect's source tickets linking it to the article,
        once per ticket and article: the store remembers the notes written, and a retry finds
        a note an earlier attempt wrote (the connector reads the ticket's notes then). A ticket
        that refuses the note (deleted, say) does not undo the article; it is said in the
        outcome."""
        from connector.redmine import wiki_title

        locale, messages = str(effect.params.get("locale") or "en"), self._messages()
        link = article_link(article.tracker, article.project, wiki_title(article.title), article.title, url)
        body = messages.text(locale, "kb.source_note", link=link)
        noted, refused = [], []
        for source in effect.params["sources"]:
            ticket_id = str(source["id"])
            name = f"{NOTED}{article.id}:{article.tracker}:{ticket_id}"
            if self.store.get_value(name) is not None:
                continue
            note = Effect(f"{effect.key}:kb-note:{ticket_id}", "comment", effect.tracker_kind, ticket_id,
                          effect.rule, {"body": body, "private": True})
            try:
                connector.apply(note, first_attempt)
            except TrackerError as exc:
                if exc.transient:
                    raise
                log.warning("knowledge article %r: no note on source ticket %s: %s", article.title,
                            source.get("key") or ticket_id, exc)
                refused.append(f"{source.get('key') or ticket_id} ({exc})")
                continue
            self.store.set_value(name, url, self.clock())
            noted.append(str(source.get("key") or ticket_id))
        said = f"; noted on {', '.join(noted)}" if noted else ""
        return said + (f"; no note on {', '.join(refused)}" if refused else "")

    # -- suggestions -----------------------------------------------------------------------------

    def _suggest(self, effect: Effect, connector: Any, first_attempt: bool) -> str:
        matches = self._matches(effect)
        if not matches:
            return "no knowledge article matches"
        params = effect.params
        note = suggestion_note(str(params["intro"]), matches)
        connector.apply(Effect(f"{effect.key}:comment", "comment", effect.tracker_kind, effect.ticket_id,
                               effect.rule, {"body": note, "private": bool(params.get("private", True))}),
                        first_attempt)
        self.store.article_suggested(effect.tracker_kind, effect.ticket_id, [m.article_id for m in matches],
                                     self.clock())
        return f"suggested {len(matches)} knowledge article(s): " + ", ".join(m.title for m in matches)

    def _matches(self, effect: Effect) -> list[Match]:
        """The articles to suggest: chosen once per effect (a retry names the same ones)."""
        remembered = self.store.get_value(SUGGESTED + effect.key)
        if remembered is not None:
            return [Match(**{**item, "shared": tuple(item["shared"])}) for item in json.loads(remembered)]
        params = effect.params
        candidates = [{"id": a.id, "title": a.title, "url": a.url, "keywords": a.keywords}
                      for a in self.store.articles(effect.tracker_kind, params.get("project"))
                      if a.url and not _is_source(a.sources, effect.ticket_id)]
        matches = rank(list(params["keywords"]), candidates, int(params["limit"]), int(params["min_shared"]))
        self.store.set_value(SUGGESTED + effect.key, json.dumps([asdict(m) for m in matches]), self.clock())
        return matches


def _is_source(sources: Sequence[Mapping[str, str]], ticket_id: str) -> bool:
    return any(str(source["id"]) == ticket_id for source in sources)
