"""`knowledge_article` and `suggest_articles` effects: the knowledge base kept in the store and
written into the tracker.

An article is one per (tracker, project, key) in the store, so a second incident with the same
key adds itself to the article instead of drafting another; the tracker's page or issue is
written from the stored article every time (Redmine: a wiki page named by the title, and its
product's index page; Jira: an issue found by its marker label, labelled for its product).
Suggestions are looked up here, at write time, because rules plan without reading the store.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from connector.errors import TrackerError
from rules.knowledge import Match, article_text, index_text, product_slug, rank, suggestion_note
from rules.messages import DEFAULT, Messages
from rules.model import Effect
from ticketwarden.clock import Clock
from ticketwarden.records import marker
from ticketwarden.rulefiles import RulebookHolder
from ticketwarden.store import ArticleRow, Store

SUGGESTED = "kb-suggested:"  # + effect key: the articles a suggestion named, so a retry names the same
WIKI_COMMENT = "ticketwarden knowledge base"


class KnowledgeBase:
    def __init__(self, store: Store, rules: RulebookHolder, clock: Clock):
        self.store = store
        self.rules = rules
        self.clock = clock

    def apply(self, effect: Effect, connector: Any, first_attempt: bool) -> str:
        if effect.action == "suggest_articles":
            return self._suggest(effect, connector, first_attempt)
        return self._article(effect, connector)

    def _messages(self) -> Messages:
        rulebook = self.rules.current
        return rulebook.messages if rulebook is not None else DEFAULT

    # -- articles --------------------------------------------------------------------------------

    def _article(self, effect: Effect, connector: Any) -> str:
        params = effect.params
        tracker, project, key = effect.tracker_kind, str(params["project"]), str(params["key"])
        parts = {name: str(value) for name, value in dict(params["parts"]).items()}
        article, drafted = self.store.save_article(
            tracker=tracker, project=project, key=key, title=self._title(tracker, project, key, parts["title"]),
            product=parts["product"], parts=parts, sources=list(params["sources"]),
            keywords=list(params["keywords"]), now=self.clock())
        for _ in range(3):  # another incident may join the article while it is written: write it again
            url = self._write(article, connector, params)
            self.store.article_written(article.id, url, self.clock())
            latest = next(a for a in self.store.articles(tracker, project) if a.id == article.id)
            if latest.sources == article.sources:
                break
            article = latest
        state = "drafted" if drafted else "updated"
        return f"knowledge article {state}: {url} ({len(article.sources)} source ticket(s))"

    def _title(self, tracker: str, project: str, key: str, title: str) -> str:
        """A new article's title, told apart from another key's article of the same title (a
        Redmine wiki page is named by its title)."""
        from connector.redmine import wiki_title

        others = [a for a in self.store.articles(tracker, project) if a.key != key]
        if any(wiki_title(a.title) == wiki_title(title) for a in others):
            return f"{title} ({key})"
        return title

    def _write(self, article: ArticleRow, connector: Any, params: Mapping[str, Any]) -> str:
        locale, messages = str(params.get("locale") or "en"), self._messages()
        text = article_text(article.parts, article.sources, locale, messages)
        if article.tracker == "redmine":
            from connector.redmine import wiki_title

            url = str(connector.publish_page(article.project, article.title, text, comments=WIKI_COMMENT))
            listed = [{"title": a.title, "page": wiki_title(a.title), "sources": a.sources}
                      for a in self.store.articles(article.tracker, article.project, article.product)]
            connector.publish_page(article.project, messages.text(locale, "kb.index_title", product=article.product),
                                   index_text(article.product, listed, locale, messages), comments=WIKI_COMMENT)
            return url
        if article.tracker == "jira":
            return str(connector.publish_issue(
                marker("jira", "article", f"{article.project}\x1f{article.key}"), article.project,
                str(params.get("issue_type") or "Article"), article.title, text,
                labels=[product_slug(article.product)]))
        raise TrackerError(f"knowledge articles cannot be written to {article.tracker}", transient=False)

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
