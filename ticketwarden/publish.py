"""`publish_report` effects: the indicators of a period written into the tracker."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connector.errors import TrackerError
from rules.model import Effect
from ticketwarden.clock import Clock
from ticketwarden.records import marker
from ticketwarden.report_html import render_html
from ticketwarden.reports import gather, render
from ticketwarden.review import Review, build_review, render_lessons, render_review
from ticketwarden.rulefiles import RulebookHolder
from ticketwarden.store import Store


class ReportPublisher:
    def __init__(self, store: Store, rules: RulebookHolder, clock: Clock):
        self.store = store
        self.rules = rules
        self.clock = clock

    def apply(self, effect: Effect, connector: Any) -> str:
        params = effect.params
        rulebook = self.rules.current
        if rulebook is None:
            raise TrackerError("no valid rulebook is loaded", transient=True)
        report = gather(self.store, rulebook, datetime.fromisoformat(params["from"]),
                        datetime.fromisoformat(params["to"]), params.get("by"), self.clock())
        locale = str(params.get("locale") or rulebook.locale)
        title = str(params["title"])
        months = int(params.get("review") or 0)
        review = build_review(self.store, rulebook, datetime.fromisoformat(params["to"]), months, self.clock()) \
            if months else None
        if params["tracker"] == "redmine":
            from connector.redmine import wiki_title

            html = render_html(report, locale, messages=rulebook.messages, review=review).encode()
            text = render(report, "textile", locale, rulebook.messages)
            if review is not None:
                text += self._redmine_review(connector, params["project"], title, review, locale)
            url = connector.publish_page(params["project"], title, text, (f"{wiki_title(title)}.html", html))
        else:
            project, issue_type = str(params["project"]), str(params.get("issue_type") or "Task")
            text = render(report, "jira", locale, rulebook.messages)
            related: list[str] = []
            if review is not None:
                section, related = self._jira_review(connector, project, issue_type, title, review, locale)
                text += section
            url = connector.publish_issue(marker("jira", "report", f"{project}\x1f{title}"),
                                          project, issue_type, title, text)
            if related:  # issue links too, so Jira shows them beside the report (url ends with its key)
                connector.link_issues(url.rsplit("/", 1)[-1], related)
        return f"report published: {url}"

    def _jira_review(self, connector: Any, project: str, issue_type: str, title: str, review: Review,
                     locale: str) -> tuple[str, list[str]]:
        """The review section of a report issue, and the keys of the issues it links to: the
        year's lessons-learned register as an issue of its own (one per project and year, found
        again by its marker label and written again each time: it is derived), and a decisions
        issue for this review, created once and then left to the meeting (never overwritten)."""
        rulebook = self.rules.current
        assert rulebook is not None
        messages = rulebook.messages
        lessons = messages.text(locale, "review.lessons", year=str(review.year))
        decisions = f"{messages.text(locale, 'review.decisions')} {title}"
        register = connector.publish_issue(marker("jira", "lessons", f"{project}\x1f{review.year}"), project,
                                           issue_type, lessons, render_lessons(review, "jira", locale, messages))
        hint = messages.text(locale, "review.decisions_hint")
        meeting = connector.create_issue(marker("jira", "decisions", f"{project}\x1f{title}"), project, issue_type,
                                         decisions, f"h2. {decisions}\n\n{hint}\n")
        links = (f"[{lessons}|{register}]", f"[{decisions}|{meeting.url}]")
        return (f"\nh2. {messages.text(locale, 'review.title')}\n\n"
                + render_review(review, "jira", locale, messages, links=links),
                [register.rsplit("/", 1)[-1], meeting.key])

    def _redmine_review(self, connector: Any, project: str, title: str, review: Review, locale: str) -> str:
        """The review section of a report page: the year's lessons-learned register on a page of
        its own (written again each time: it is derived), and a decisions page for this review,
        created once and then left to the meeting (never overwritten)."""
        rulebook = self.rules.current
        assert rulebook is not None
        messages = rulebook.messages
        lessons = messages.text(locale, "review.lessons", year=str(review.year))
        decisions = f"{messages.text(locale, 'review.decisions')} {title}"
        connector.publish_page(project, lessons, render_lessons(review, "textile", locale, messages))
        connector.create_page_once(project, decisions, f"h2. {decisions}\n\n"
                                   f"{messages.text(locale, 'review.decisions_hint')}\n")
        links = (f"[[{lessons}]]", f"[[{decisions}]]")
        return f"\nh2. {messages.text(locale, 'review.title')}\n\n" + \
            render_review(review, "textile", locale, messages, links=links)
