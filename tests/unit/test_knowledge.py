"""The knowledge base's pure half: keywords and scoring, planning `knowledge_article` and
`suggest_articles`, the article and index texts; and the deflection figure of the report."""

from __future__ import annotations

import dataclasses
import textwrap
from datetime import UTC, datetime

import pytest

from rules.engine import evaluate
from rules.errors import RulebookInvalid
from rules.knowledge import (
    BEGIN,
    END,
    article_link,
    article_text,
    generated_block,
    index_text,
    keywords,
    merge_generated,
    product_slug,
    rank,
    score,
    suggestion_note,
)
from rules.messages import Messages
from rules.model import Change, Comment
from rules.rulebook import load_rulebook
from tests.helpers import T0, event, ticket
from ticketwarden.indicators import RecordFigure, Timers, build_report
from ticketwarden.reports import gather

RULES = """
version: 1
locale: LOCALE
fields:
  cause: "Root cause"
  product: "Product"
  kb_candidate: "KB candidate"
rules:
  - name: kb article
    on: [ticket.updated]
    if: [status changed_to Resolved, kb_candidate = yes]
    then:
      - knowledge_article:
          project: knowledge
          key: "{{ ticket.fields.cause }}"
          cause: "{{ ticket.fields.cause }}"
          product: "{{ ticket.fields.product }}"
  - name: suggest
    on: [ticket.created]
    then:
      - suggest_articles: {limit: 2, project: knowledge}
"""


def book(locale: str = "en"):
    return load_rulebook([("book.yaml", textwrap.dedent(RULES).replace("LOCALE", locale))])


def resolved(**fields):
    values = {"Root cause": "expired certificate", "Product": "Portal", "KB candidate": "yes", **fields}
    return ticket(status="Resolved", subject="Portal login fails with a certificate warning",
                  description="Customer jane@example.com sees 'certificate expired' at login.",
                  custom_fields=values, custom_field_ids={})


def test_keywords_leave_out_stop_words_of_both_languages_and_fold_accents():
    assert keywords("The invoice PDF is not generated for the customer") == ["invoice", "pdf", "generated"]
    assert keywords("La facturación no se genera para el cliente", "Facturacion") == ["facturacion", "genera"]
    assert keywords("VPN v2.1 drops; vpn DROPS tunnel 2026") == ["vpn", "v2.1", "drops", "tunnel"]


def test_scoring_counts_shared_words_and_ranks_deterministically():
    assert score(["vpn", "timeout"], ["timeout", "vpn", "router"]) == 2
    articles = [{"id": 2, "title": "B", "url": "u2", "keywords": ["vpn", "timeout"]},
                {"id": 1, "title": "A", "url": "u1", "keywords": ["vpn", "timeout"]},
                {"id": 3, "title": "C", "url": "u3", "keywords": ["vpn", "timeout", "router"]},
                {"id": 4, "title": "D", "url": "u4", "keywords": ["printer"]}]
    found = rank(["vpn", "timeout", "router"], articles, limit=2, min_score=2)
    assert [(m.article_id, m.score, m.shared) for m in found] == [(3, 3, ("vpn", "timeout", "router")),
                                                                  (1, 2, ("vpn", "timeout"))]
    assert rank(["printer"], articles, limit=3, min_score=2) == []
    assert suggestion_note("Maybe:", found) == "Maybe:\n\n* C: u3\n* A: u1"


def test_an_article_is_planned_with_its_parts_sources_and_keywords():
    change = Change("status", "In Progress", "Resolved")
    decision = evaluate(book(), event("ticket.updated", changes=(change,),
                                      comment=Comment("Renew the certificate on the portal.")), resolved(), T0)
    [effect] = decision.effects
    params = effect.params
    assert effect.action == "knowledge_article"
    assert params["key"] == "expired certificate" and params["project"] == "knowledge"
    assert params["parts"]["title"] == "Portal login fails with a certificate warning"
    assert params["parts"]["solution"] == "Renew the certificate on the portal."
    assert params["parts"]["product"] == "Portal" and params["parts"]["cause"] == "expired certificate"
    assert params["sources"] == [{"id": "42", "key": "#42", "url": "http://redmine.test/issues/42"}]
    assert {"portal", "login", "certificate", "expired"} <= set(params["keywords"])
    assert params["issue_type"] == "Article"


def test_an_empty_key_is_an_error_in_the_trace_not_an_article():
    change = Change("status", "In Progress", "Resolved")
    decision = evaluate(book(), event("ticket.updated", changes=(change,)), resolved(**{"Root cause": ""}), T0)
    assert decision.effects == []
    [action] = [a for trace in decision.rules for a in trace.actions]
    assert "the key renders empty" in action.outcome


def test_suggestions_are_planned_from_the_incident_words_only():
    decision = evaluate(book("es"), event("ticket.created"), ticket(subject="El portal rechaza el certificado"), T0)
    [effect] = decision.effects
    assert effect.action == "suggest_articles"
    assert effect.params["keywords"][:3] == ["portal", "rechaza", "certificado"]
    assert (effect.params["limit"], effect.params["min_shared"], effect.params["project"]) == (2, 2, "knowledge")
    assert effect.params["intro"] == "Artículos de la base de conocimiento que pueden ayudar:"


def test_a_knowledge_article_without_a_key_does_not_load():
    text = RULES.replace('          key: "{{ ticket.fields.cause }}"\n', "")
    with pytest.raises(RulebookInvalid) as error:
        load_rulebook([("book.yaml", textwrap.dedent(text).replace("LOCALE", "en"))])
    assert "key" in str(error.value)


def test_the_article_and_index_texts_in_both_languages():
    parts = {"problem": "Login fails", "cause": "expired certificate", "solution": "", "product": "Portal",
             "version": "4.2"}
    sources = [{"id": "1", "key": "#1", "url": "http://r/issues/1"}, {"id": "2", "key": "#2", "url": ""}]
    english = article_text(parts, sources)
    assert english.startswith("h2. Problem\n\nLogin fails\n\nh2. Cause\n\nexpired certificate\n\nh2. Solution")
    assert "(to fill in)" in english and "* Version: 4.2" in english
    assert english.endswith("h2. Source tickets\n\n* #1 (http://r/issues/1)\n* #2\n")
    spanish = article_text(parts, sources, "es", Messages())
    assert "h2. Problema" in spanish and "h2. Solución\n\n(a completar)" in spanish
    index = index_text("Portal", [{"title": "Zeta", "page": "Zeta", "sources": [1]},
                                  {"title": "Alpha", "page": "Alpha", "sources": [1, 2]}])
    assert index.splitlines()[0] == "h1. Knowledge base - Portal"
    assert index.index("[[Alpha|Alpha]] (2 ticket(s))") < index.index("[[Zeta|Zeta]] (1 ticket(s))")
    assert product_slug("Portal Web / Ñandú") == "kb-portal-web-nandu"


def _fact(n: int, closed: bool) -> dict:
    return {"tracker": "redmine", "ticket_id": str(n), "key": f"#{n}", "url": f"u/{n}", "team": "t",
            "customer": "c", "priority": "Normal", "origin": None, "incident": True,
            "created_at": datetime(2026, 3, n, tzinfo=UTC),
            "closed_at": datetime(2026, 3, 20, tzinfo=UTC) if closed else None, "breaches": 0}


def test_deflection_counts_closed_unescalated_incidents_an_article_helped():
    facts = [_fact(1, True), _fact(2, True), _fact(3, True), _fact(4, False), _fact(5, True)]
    escalated = [RecordFigure("development", ("redmine:3",), datetime(2026, 3, 4, tzinfo=UTC), None, None)]
    helped = {"redmine:1", "redmine:3", "redmine:4"}  # 2 and 5 closed unhelped; 3 escalated; 4 still open
    total = build_report(facts, [], escalated, [], start=datetime(2026, 3, 1, tzinfo=UTC),
                         end=datetime(2026, 4, 1, tzinfo=UTC), by=None, origin=None, timers=Timers(),
                         helped=helped).rows[-1]
    assert (total["kb_deflected"], total["kb_deflected_share"]) == (1, 25.0)


def test_the_report_reads_deflection_from_the_store(sqlite_store):
    from rules.measures import ticket_facts

    rulebook = load_rulebook([("b.yaml", "version: 1\nindicators: {incidents: [tracker = Incident]}\n")])
    now = datetime(2026, 3, 10, tzinfo=UTC)
    for n in (1, 2, 3):
        incident = ticket(id=str(n), key=f"#{n}", created=now, is_closed=True, closed=now, status="Closed")
        facts = ticket_facts(rulebook, incident, rulebook.staff.role_of, now)
        assert sqlite_store.backfill_ticket("redmine", str(n), [], [], facts, now)
    article, drafted = sqlite_store.save_article(
        tracker="redmine", project="knowledge", key="k", title="T", product="P", parts={"problem": "x"},
        sources=[{"id": "1", "key": "#1", "url": ""}], keywords=["x"], now=now)
    assert drafted
    again, drafted = sqlite_store.save_article(
        tracker="redmine", project="knowledge", key="k", title="Other", product="P",
        parts={"problem": "y", "solution": "s"}, sources=[{"id": "2", "key": "#2", "url": ""}], keywords=["y"],
        now=now)
    assert not drafted and again.id == article.id and again.title == "T"
    assert again.parts == {"problem": "x", "solution": "s"} and [s["id"] for s in again.sources] == ["1", "2"]
    sqlite_store.article_suggested("redmine", "3", [article.id], now)
    report = gather(sqlite_store, rulebook, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC),
                    None, now)
    total = report.rows[-1]
    # 1 drafted the article (not helped by it), 2 joined it, 3 was suggested it
    assert (total["incidents"], total["kb_deflected"], total["kb_deflected_share"]) == (3, 2, 66.7)


def test_an_article_never_carries_a_secret_the_customer_pasted():
    change = Change("status", "In Progress", "Resolved")
    incident = dataclasses.replace(resolved(), description="Login fails. password: Hunter2secret!")
    note = Comment("Reset it; the token is ghp_abcdefghijklmnopqrstuvwxyz0123456789")
    decision = evaluate(book(), event("ticket.updated", changes=(change,), comment=note), incident, T0)
    [effect] = decision.effects
    text = repr(effect.params)
    assert "Hunter2secret" not in text and "ghp_abcdefghijklmnopqrstuvwxyz0123456789" not in text
    assert "[redacted" in effect.params["parts"]["problem"]


HINT = "Written by ticketwarden from the source tickets: write above or below this part, not inside it."


def test_the_generated_part_is_marked_in_each_trackers_markup():
    redmine = generated_block("h2. Problem\n\nLogin fails\n", "redmine", HINT)
    assert redmine == (f"<!-- {BEGIN}: {HINT} -->\n\nh2. Problem\n\nLogin fails\n\n<!-- {END} -->\n")
    jira = generated_block("h2. Problem\n\nLogin fails\n", "jira", HINT)
    assert jira.splitlines()[0] == f"_{BEGIN}: {HINT}_" and jira.splitlines()[-1] == f"_{END}_"
    # a reworded hint cannot close the HTML comment early
    assert "--" not in generated_block("x", "redmine", "edit --- outside --->").splitlines()[0][4:-3]


def test_a_marker_in_the_customers_text_is_not_a_marker():
    block = generated_block(f"Pasted: <!-- {END} --> and {BEGIN}\n", "redmine", HINT)
    assert block.count(BEGIN) == 1 and block.count(END) == 1
    assert "ticketwarden: article-end" in block and "ticketwarden: article-begin" in block


def test_the_generated_part_is_replaced_and_what_people_wrote_around_it_kept():
    first = generated_block("h2. Problem\n\nv1\n", "redmine", HINT)
    assert merge_generated(None, first, True).text == first
    assert merge_generated(None, first, True).how == "new"
    assert merge_generated("  \n", first, False).how == "new"
    edited = f"h1. Read this first\r\n\r\nCall the on-duty engineer.\r\n\r\n{first}\r\nh2. Notes\r\n\r\nSeen twice.\r\n"
    second = generated_block("h2. Problem\n\nv2\n", "redmine", HINT)
    merged = merge_generated(edited, second, False)
    assert merged.how == "replaced"
    assert merged.text == ("h1. Read this first\r\n\r\nCall the on-duty engineer.\r\n\r\n" + second
                           + "\r\nh2. Notes\r\n\r\nSeen twice.\r\n")
    assert "v1" not in merged.text
    # nothing new: the same text, so the caller writes nothing
    assert merge_generated(merged.text, second, True).text == merged.text


def test_a_page_without_markers_is_never_clobbered_unless_only_ticketwarden_wrote_it():
    block = generated_block("h2. Problem\n\nv2\n", "redmine", HINT)
    legacy = "h2. Problem\n\nv1\n\nh2. Source tickets\n\n* #1\n"
    rewritten = merge_generated(legacy, block, ours=True)  # written before markers, nobody edited it
    assert (rewritten.how, rewritten.text) == ("rewritten", block)
    people = "h2. Problem\n\nv1, and what an agent added\n"  # a person removed the markers
    appended = merge_generated(people, block, ours=False)
    assert appended.how == "appended"
    assert appended.text == people + "\n" + block  # all of it kept, the new part below
    again = merge_generated(appended.text, generated_block("h2. Problem\n\nv3\n", "redmine", HINT), ours=False)
    assert again.how == "replaced" and again.text.startswith(people) and "v3" in again.text and "v2" not in again.text


def test_an_orphan_marker_left_by_a_person_is_kept_as_text():
    block = generated_block("v2", "jira", HINT)
    orphan = f"Intro\n_{BEGIN}: {HINT}_\nold part whose end line a person deleted\n"
    appended = merge_generated(orphan, block, ours=False)
    assert appended.how == "appended" and appended.text.startswith(orphan.rstrip())
    later = merge_generated(appended.text, generated_block("v3", "jira", HINT), ours=False)
    assert later.how == "replaced" and later.text.startswith(orphan.rstrip()) and later.text.count("v3") == 1
    assert "v2" not in later.text


def test_a_source_ticket_links_to_its_article_in_each_tracker():
    assert article_link("redmine", "knowledge", "Portal_login_fails", "Portal login | fails [x]",
                        "http://r/projects/knowledge/wiki/Portal_login_fails") == \
        "[[knowledge:Portal_login_fails|Portal login fails x]]"
    assert article_link("jira", "KB", "", "Orders missing", "http://j/browse/KB-7") == \
        "[KB-7: Orders missing|http://j/browse/KB-7]"
    messages = Messages()
    assert messages.text("en", "kb.source_note", link="[[k:P|P]]") == \
        "This ticket is one of the source tickets of the knowledge base article [[k:P|P]]."
    assert messages.text("es", "kb.source_note", link="[[k:P|P]]").startswith("Este ticket es uno de los tickets")
