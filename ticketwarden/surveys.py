"""Satisfaction surveys after delivery: the personal link, the page, the answer.

A survey's token is derived from its effect's key with this installation's secret, so a retry
of the effect writes the very same link (and finds its own note instead of adding another);
only the token's hash is stored. A token works once and until it expires; any other use gets
a friendly page, never an error.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from rules.actions.survey import SURVEY_URL
from rules.messages import DEFAULT, Messages
from rules.model import Effect, Ticket
from ticketwarden import records
from ticketwarden.clock import Clock
from ticketwarden.store import FollowUp, Store, SurveyRow, ticket_ref
from ticketwarden.survey_html import form_page, notice_page

log = logging.getLogger(__name__)
SECRET_NAME = "survey-secret"  # noqa: S105 - the name of the stored secret, not the secret


class NoteWriter(Protocol):
    def apply(self, effect: Effect, first_attempt: bool) -> str: ...

    def ticket(self, ticket_id: str) -> Ticket | None: ...


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Surveys:
    def __init__(self, store: Store, clock: Clock, public_url: str, default_locale: str = "en",
                 messages: Callable[[], Messages] = lambda: DEFAULT):
        """`messages`: the wording in force (the current rulebook's)."""
        self.messages = messages
        self.store = store
        self.clock = clock
        self.public_url = public_url.rstrip("/")
        self.default_locale = default_locale
        self._secret: bytes | None = None

    def token_for(self, effect_key: str) -> str:
        if self._secret is None:
            self._secret = self.store.secret(SECRET_NAME, self.clock()).encode()
        digest = hmac.new(self._secret, effect_key.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    # -- the invitation ----------------------------------------------------------------------------

    def apply(self, effect: Effect, connector: NoteWriter, first_attempt: bool, close_refused: bool = False) -> str:
        """Record the survey and add the public note carrying its personal link, if the close
        stands: not when a rule sent it back (`close_refused`), nor when the ticket is open again."""
        params = effect.params
        ticket = params["ticket"]
        if close_refused:
            return f"not sent: a rule sent the close of {ticket['key']} back"
        now_ticket = connector.ticket(effect.ticket_id)
        if now_ticket is None or not now_ticket.is_closed:
            state = f"now {now_ticket.status}" if now_ticket is not None else "gone"
            return f"not sent: {ticket['key']} is no longer closed ({state})"
        now = self.clock()
        token = self.token_for(effect.key)
        self.store.create_survey(
            token_hash=token_hash(token), effect_key=effect.key, tracker=effect.tracker_kind,
            ticket_id=effect.ticket_id, ticket_key=str(ticket["key"]), ticket_url=str(ticket["url"]),
            subject=str(ticket["subject"]), field_ref=str(params["field"]), language=str(params["language"]), now=now,
            expires_at=now + timedelta(seconds=float(params["expires_seconds"])))
        body = str(params["message"]).replace(SURVEY_URL, f"{self.public_url}/survey/{token}")
        note = Effect(f"{effect.key}:note", "comment", effect.tracker_kind, effect.ticket_id, effect.rule,
                      {"body": body, "private": False})
        connector.apply(note, first_attempt)
        return "survey link added in a public note"

    # -- the page ------------------------------------------------------------------------------------

    def page(self, token: str) -> tuple[int, str]:
        survey, problem = self._usable(token)
        if survey is None:
            return problem
        return 200, form_page(survey.language, survey.ticket_key, survey.subject, messages=self.messages())

    def answer(self, token: str, form: dict[str, str]) -> tuple[int, str]:
        survey, problem = self._usable(token)
        if survey is None:
            return problem
        try:
            score = int(form.get("score", ""))
        except ValueError:
            score = 0
        comment = (form.get("comment") or "").strip()[:4000]
        if not 1 <= score <= 5:
            return 400, form_page(survey.language, survey.ticket_key, survey.subject, error=True, comment=comment,
                                  messages=self.messages())
        now = self.clock()
        if not self.store.answer_survey(survey, score, comment, now, self._write_back(survey, score, comment),
                                        [self._event(survey, score, comment, now)]):
            return 409, notice_page(survey.language, "survey.answered", self.messages())
        log.info("survey of %s %s answered: %d/5", survey.tracker, survey.ticket_key, score)
        return 200, notice_page(survey.language, "survey.thanks", self.messages())

    def _usable(self, token: str) -> tuple[SurveyRow | None, tuple[int, str]]:
        survey = self.store.survey(token_hash(token)) if 20 <= len(token) <= 100 else None
        if survey is None:
            return None, (404, notice_page(self.default_locale, "survey.invalid", self.messages()))
        if survey.answered_at is not None:
            return None, (409, notice_page(survey.language, "survey.answered", self.messages()))
        if survey.expires_at <= self.clock():
            return None, (410, notice_page(survey.language, "survey.invalid", self.messages()))
        return survey, (200, "")

    def _write_back(self, survey: SurveyRow, score: int, comment: str) -> list[Effect]:
        """The score into the survey's field, and a note saying what the customer answered."""
        def key(part: str) -> str:
            return hashlib.sha256(f"survey\x1f{survey.id}\x1f{part}".encode()).hexdigest()

        said = f"\n\n> {comment}" if comment else ""
        effects = [Effect(key("note"), "comment", survey.tracker, survey.ticket_id, "survey",
                          {"body": self.messages().text(survey.language, "survey.note", score=score, comment=said),
                           "private": True})]
        if survey.field_ref:
            effects.append(Effect(key("set"), "set", survey.tracker, survey.ticket_id, "survey",
                                  {"standard": {}, "custom": {survey.field_ref: str(score)}, "previous": {}}))
        return effects

    @staticmethod
    def _event(survey: SurveyRow, score: int, comment: str, now: datetime) -> FollowUp:
        facts: dict[str, Any] = {"survey": {"score": str(score), "comment": comment}}
        return FollowUp(records.SOURCE, f"survey:{survey.tracker}:{survey.id}", {
            "related": {"tracker": survey.tracker, "ticket_id": survey.ticket_id, "triggers": ["survey.answered"],
                        "at": now.isoformat(), "facts": facts}}, ticket_ref(survey.tracker, survey.ticket_id))
