"""SLA clocks: a history of transitions per (ticket, policy, cycle), and everything derived
from it through the policy's calendar: elapsed and remaining business time, due and warning
moments, state. Pure: events and times come in, transitions and SLA events go out.

A clock's history is the truth; nothing derived is stored but `due_at`/`warn_at` (so the sweep
can find due clocks with an index). Transitions carry their own event times and are ordered by
them, so a late or out-of-order delivery lands where it happened, and a changed policy or
calendar recalculates from the same history.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rules.calendar import BusinessCalendar
from rules.conditions import Facts
from rules.conditions import evaluate as evaluate_conditions
from rules.durations import BusinessDays, format_duration
from rules.model import Event, Person, Ticket
from rules.rulebook import Rulebook, SlaPolicy

STARTED, PAUSED, RESUMED, TARGET, STOPPED, REOPENED = \
    "started", "paused", "resumed", "target_changed", "stopped", "reopened"
CANCELLED = "cancelled"  # the policy stopped applying: the cycle ends neither met nor breached
WARNED, BREACHED = "warned", "breached"  # markers: a notification fired (exactly once per cycle)
CLOSE_REFUSED = "close refused by a rule"  # a reopen that undoes a close: as if it never stopped
Calendars = Mapping[str, BusinessCalendar]


@dataclass(frozen=True)
class Transition:
    kind: str
    at: datetime
    target: timedelta | None = None  # for started and target_changed: the target then
    reason: str = ""
    choice: int | None = None  # which of the policy's targets: a changed policy recalculates by it
    scaled: int | None = None  # which of the policy's scales applied (None: none)

    def to_dict(self) -> dict[str, Any]:
        data = {"kind": self.kind, "at": self.at.isoformat(), "reason": self.reason, "choice": self.choice,
                "target": self.target.total_seconds() if self.target is not None else None}
        if self.scaled is not None:
            data["scaled"] = self.scaled
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transition:
        target = data.get("target")
        return cls(data["kind"], datetime.fromisoformat(data["at"]),
                   timedelta(seconds=target) if target is not None else None, data.get("reason", ""),
                   data.get("choice"), data.get("scaled"))

    def target_under(self, policy: SlaPolicy, calendar: BusinessCalendar) -> timedelta | None:
        """The target this transition set, as the policy now defines that choice (on `calendar`,
        the target's own)."""
        return target_length(policy, self.choice, self.scaled, calendar, self.at) or self.target


@dataclass(frozen=True)
class Clock:
    tracker: str
    ticket_id: str
    policy: str
    cycle: int
    transitions: tuple[Transition, ...] = ()

    def with_transition(self, transition: Transition) -> Clock:
        ordered = sorted((*self.transitions, transition), key=lambda t: t.at)  # stable: same-time order kept
        return dataclasses.replace(self, transitions=tuple(ordered))

    def has(self, kind: str) -> bool:
        return any(t.kind == kind for t in self.transitions)

    @property
    def stopped(self) -> bool:
        """Stopped (or cancelled) and not reopened since."""
        return self._ended_by() in (STOPPED, CANCELLED)

    @property
    def cancelled(self) -> bool:
        """The cycle ended because its policy stopped applying (see `stopped`)."""
        return self._ended_by() == CANCELLED

    def _ended_by(self) -> str | None:
        """The last of the transitions that end or reopen a cycle (None: never ended)."""
        return next((t.kind for t in reversed(self.transitions) if t.kind in (STOPPED, CANCELLED, REOPENED)), None)


@dataclass(frozen=True)
class Status:
    """What a clock's history means at a moment."""

    state: str  # running, paused, met, breached, cancelled
    target: timedelta
    elapsed: timedelta
    remaining: timedelta  # negative once breached
    due_at: datetime | None  # None while paused before the due time
    warn_at: datetime | None
    breached_at: datetime | None  # the due moment, once the elapsed time has reached the target


def status(clock: Clock, policy: SlaPolicy, calendar: BusinessCalendar, now: datetime,
           calendars: Calendars | None = None) -> Status:
    """Derive the clock's state at `now` from its history (transitions after `now` are ignored).

    `calendar` is the policy's; a target with a calendar of its own finds it in `calendars`, and
    the time while that target is in force is counted on it.
    """
    policy_calendar = calendar
    last_stop: datetime | None = None
    target = timedelta(0)
    elapsed = timedelta(0)
    running_since: datetime | None = None
    stopped = False
    breached_at: datetime | None = None
    warned_at: datetime | None = None  # when the warning point was reached
    cancelled = False

    def run_until(moment: datetime) -> None:
        nonlocal elapsed, running_since, breached_at, warned_at
        if running_since is None:
            return
        part = calendar.between(running_since, moment)
        point = _warn_point(policy, target)
        if warned_at is None and point is not None and elapsed + part >= point and part > timedelta(0):
            warned_at = calendar.add(running_since, max(point - elapsed, timedelta(0)))
        if breached_at is None and elapsed + part >= target and part > timedelta(0):
            breached_at = calendar.add(running_since, target - elapsed)  # the due moment; late after it
        elapsed += part
        running_since = moment

    for transition in clock.transitions:
        if transition.at > now:
            break
        kind = transition.kind
        if kind == STARTED:
            calendar = calendar_for(policy, transition.choice, policy_calendar, calendars)
            target, elapsed, running_since, stopped = \
                transition.target_under(policy, calendar) or target, timedelta(0), transition.at, False
            breached_at = warned_at = None
        elif kind == PAUSED and running_since is not None and not stopped:
            run_until(transition.at)
            running_since = None
        elif kind == REOPENED and transition.reason == CLOSE_REFUSED and stopped and last_stop is not None \
                and not cancelled:
            running_since, stopped = last_stop, False  # the close never took: its time counts
        elif kind in (RESUMED, REOPENED) and running_since is None:
            running_since, stopped = transition.at, False
        elif kind == TARGET and transition.target is not None and not stopped:
            run_until(transition.at)
            if policy.target_change == "restart":
                elapsed = timedelta(0)
                breached_at = None
            calendar = calendar_for(policy, transition.choice, policy_calendar, calendars)
            target = transition.target_under(policy, calendar) or transition.target
            point = _warn_point(policy, target)
            if point is None or elapsed < point:
                warned_at = None  # not reached under the new target
            elif warned_at is None:
                warned_at = transition.at
            if breached_at is not None and elapsed <= target:
                breached_at = None  # a longer target: no longer late
            elif breached_at is None and elapsed >= target:
                breached_at = transition.at  # a shorter target already used up
        elif kind in (STOPPED, CANCELLED) and not stopped:
            paused_then = running_since is None
            run_until(transition.at)
            running_since, stopped = None, True
            last_stop = None if paused_then else transition.at
            cancelled = kind == CANCELLED
        elif kind == REOPENED:
            cancelled = False
    run_until(now)
    remaining = target - elapsed
    due_at = warn_at = None
    point = _warn_point(policy, target)
    warn_at = warned_at
    if running_since is not None:
        due_at = breached_at or calendar.add(running_since, remaining)
        if warn_at is None and point is not None:
            warn_at = calendar.add(running_since, max(point - elapsed, timedelta(0)))
    elif breached_at is not None:
        due_at = breached_at
    if stopped and cancelled:
        state = "cancelled"
    elif stopped:
        state = "met" if elapsed <= target else "breached"
    elif breached_at is not None and breached_at < now:
        state = "breached"  # past the due moment (at the due moment itself it is still on time)
    else:
        state = "running" if running_since is not None else "paused"
    return Status(state, target, elapsed, remaining, due_at, warn_at, breached_at)


def _warn_point(policy: SlaPolicy, target: timedelta) -> timedelta | None:
    """How much elapsed time makes the warning due, for this target."""
    if policy.warn_fraction is not None:
        return target * policy.warn_fraction
    if policy.warn_before is not None:
        return max(target - policy.warn_before, timedelta(0))
    return None


def describe(clock: Clock, policy: SlaPolicy, calendar: BusinessCalendar, now: datetime,
             calendars: Calendars | None = None) -> dict[str, Any]:
    """A clock as templates see it (`sla.due_local`, `sla.remaining`, ...)."""
    return _described(clock, policy, calendar, status(clock, policy, calendar, now, calendars))


def _described(clock: Clock, policy: SlaPolicy, calendar: BusinessCalendar, current: Status) -> dict[str, Any]:
    """`describe` of a status already derived."""
    def local(moment: datetime | None) -> str:
        return moment.astimezone(calendar.zone).strftime("%Y-%m-%d %H:%M %Z") if moment else ""

    return {"policy": clock.policy, "cycle": clock.cycle, "state": current.state, "calendar": policy.calendar,
            "target": format_duration(current.target, "h"), "elapsed": format_duration(current.elapsed, "h"),
            "remaining": format_duration(current.remaining, "h"),
            "due": current.due_at.isoformat() if current.due_at else "", "due_local": local(current.due_at),
            "due_date": current.due_at.astimezone(calendar.zone).date().isoformat() if current.due_at else "",
            "warn": current.warn_at.isoformat() if current.warn_at else "", "warn_local": local(current.warn_at)}


def views(rulebook: Rulebook, calendars: Mapping[str, BusinessCalendar], clocks: Iterable[Clock],
          now: datetime) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """What rules see of a ticket's clocks (the newest cycle of each policy the rulebook still
    has): each policy's state (`sla.NAME`) and its template info (`sla.policies.NAME`)."""
    info = {name: dict(described) for name, described in lazy_views(rulebook, calendars, clocks, now)[1].items()}
    return {name: described["state"] for name, described in info.items()}, info


def lazy_views(rulebook: Rulebook, calendars: Mapping[str, BusinessCalendar], clocks: Iterable[Clock],
               now: datetime) -> tuple[Mapping[str, str], Mapping[str, Mapping[str, Any]]]:
    """`views`, each policy's worked out when first read, and once: an event's conditions read
    the state of a policy or two, its templates the info of one if any, and deriving a clock's
    status and wording its times were most of what a step cost. Pure as `views` (made for one
    step's clocks and `now`); a clock whose status cannot be derived (a calendar with no
    working time left) fails the step when read, where `views` failed it whether read or not."""
    newest: dict[str, Clock] = {}
    for clock in sorted(clocks, key=lambda c: c.cycle):
        if clock.policy in rulebook.sla:
            newest[clock.policy] = clock
    derived: dict[str, Status] = {}

    def status_of(name: str) -> Status:
        if name not in derived:
            policy = rulebook.sla[name]
            derived[name] = status(newest[name], policy, calendars[policy.calendar], now, calendars)
        return derived[name]

    def info_of(name: str) -> dict[str, Any]:
        policy = rulebook.sla[name]
        return _described(newest[name], policy, calendars[policy.calendar], status_of(name))

    return LazyMapping(newest, lambda name: status_of(name).state), LazyMapping(newest, info_of)


class LazyMapping(Mapping[str, Any]):
    """A mapping of known keys whose values are made when first read (and kept): a `dict` to
    whoever reads it, but what nobody reads is never made."""

    def __init__(self, keys: Iterable[str], make: Callable[[str], Any]) -> None:
        self._keys = dict.fromkeys(keys)  # ordered, as `views` orders them
        self._make = make
        self._made: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key not in self._keys:
            raise KeyError(key)
        return self._value(key)

    def get(self, key: str, default: Any = None) -> Any:
        """As a dict's: an error while making a value is raised, not taken for a missing key."""
        return self._value(key) if key in self._keys else default

    def _value(self, key: str) -> Any:
        if key in self._made:
            return self._made[key]
        made = self._made[key] = self._make(key)
        return made

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


# -- following a ticket ---------------------------------------------------------------------------

@dataclass(frozen=True)
class SlaEvent:
    """An SLA happening to feed back to the rules (sla.started, sla.met, sla.warning, sla.breached)."""

    trigger: str
    policy: str
    cycle: int
    at: datetime


@dataclass
class Update:
    """What one ticket event does to one policy's clocks."""

    clock: Clock
    added: list[Transition] = field(default_factory=list)
    events: list[SlaEvent] = field(default_factory=list)


def choose_target(policy: SlaPolicy, facts: Facts) -> tuple[int, int | None]:
    """The first target whose conditions hold (the last one is the default), and the first
    scale whose conditions hold (None: none), as positions in the policy."""
    choice = next((index for index, target in enumerate(policy.targets)
                   if evaluate_conditions(target.conditions, facts)), len(policy.targets) - 1)
    scaled = next((index for index, scale in enumerate(policy.scale)
                   if evaluate_conditions(scale.conditions, facts)), None)
    return choice, scaled


def calendar_for(policy: SlaPolicy, choice: int | None, calendar: BusinessCalendar,
                 calendars: Calendars | None) -> BusinessCalendar:
    """The calendar a target runs on: its own (found in `calendars`), else the policy's `calendar`."""
    name = policy.calendar_of(choice)
    if name == policy.calendar:
        return calendar
    if calendars is None or name not in calendars:
        raise KeyError(f"sla {policy.name!r}: calendar {name!r} of target {choice} is not among the calendars given")
    return calendars[name]


def target_length(policy: SlaPolicy, choice: int | None, scaled: int | None, calendar: BusinessCalendar,
                  at: datetime) -> timedelta | None:
    """How much working time a target allows from `at` (business days are counted on the
    target's calendar from there), scaled; None when the policy has no such target."""
    if choice is None or not 0 <= choice < len(policy.targets):
        return None
    span = policy.targets[choice].target
    length = calendar.between(at, calendar.add_business_days(at, span.days)) \
        if isinstance(span, BusinessDays) else span
    if scaled is not None and 0 <= scaled < len(policy.scale):
        length = timedelta(seconds=max(round(length.total_seconds() * policy.scale[scaled].factor), 1))
    return length


def calendars_of(rulebook: Rulebook) -> dict[str, BusinessCalendar]:
    return {name: BusinessCalendar.from_calendar(calendar) for name, calendar in rulebook.calendars.items()}


def track(rulebook: Rulebook, calendars: Mapping[str, BusinessCalendar], clocks: Sequence[Clock],
          event: Event, ticket: Ticket, role_of: Callable[[Person | None, Ticket | None], str | None] | None = None
          ) -> list[Update]:
    """Advance every policy's clock on this ticket for one ticket event.

    `clocks` are the ticket's existing clocks (any policy, any cycle). Returns the clocks that
    changed, with the transitions added and the SLA events to feed to the rules.
    """
    refs = rulebook.field_refs(ticket.tracker_kind)
    facts = Facts(ticket, event, event.occurred_at, refs, role_of or rulebook.staff.roles_of)
    updates = []
    for name, policy in rulebook.sla.items():
        mine = sorted((c for c in clocks if c.policy == name), key=lambda c: c.cycle)
        update = _track_policy(policy, calendars, mine[-1] if mine else None, event, ticket, facts)
        if update is not None and update.added:
            updates.append(update)
    return updates


def _track_policy(policy: SlaPolicy, calendars: Calendars, clock: Clock | None, event: Event,
                  ticket: Ticket, facts: Facts) -> Update | None:
    at = event.occurred_at
    applies = evaluate_conditions(policy.applies, facts)
    reopen = "continue" if event.close_refused else policy.reopen
    stopped, cancelled = (clock.stopped, clock.cancelled) if clock is not None else (False, False)
    starting = clock is None or (stopped and "ticket.reopened" in event.triggers and reopen == "new_cycle") \
        or (cancelled and applies)  # applies again: a new cycle from now
    if clock is not None and not stopped and not applies \
            and not (policy.stop and evaluate_conditions(policy.stop, facts)):  # stopping wins: met or breached
        update = Update(clock)
        _add(update, Transition(CANCELLED, at, reason="the policy no longer applies"))
        return update
    if starting:
        if not applies:
            return None
        if policy.start and not evaluate_conditions(policy.start, facts):
            return None
        begin = _first_start(policy, clock, event, ticket, facts)
        cycle = clock.cycle + 1 if clock is not None else 1
        update = Update(Clock(ticket.tracker_kind, ticket.id, policy.name, cycle))
        choice, scaled = choose_target(policy, facts)
        calendar = calendar_for(policy, choice, calendars[policy.calendar], calendars)
        target = target_length(policy, choice, scaled, calendar, begin)
        _add(update, Transition(STARTED, begin, target, "started", choice, scaled))
        update.events.append(SlaEvent("sla.started", policy.name, cycle, begin))
        return _follow(policy, calendars, update, facts, at, (choice, scaled))
    assert clock is not None
    update = Update(clock)
    if stopped:
        if "ticket.reopened" in event.triggers and reopen == "continue" and not cancelled:
            _add(update, Transition(REOPENED, at, reason=CLOSE_REFUSED if event.close_refused
                                    else "ticket reopened"))
            return _follow(policy, calendars, update, facts, at)
        return update
    return _follow(policy, calendars, update, facts, at)


def _first_start(policy: SlaPolicy, clock: Clock | None, event: Event, ticket: Ticket, facts: Facts) -> datetime:
    """When a new clock starts: with start conditions, now. Without, the ticket's creation when
    the policy applied from then on (we may hear of a ticket late) or says `since: created`;
    else now, the moment it started to apply (priority raised, ticket moved into a project)."""
    at = event.occurred_at
    if policy.start or clock is not None or ticket.created is None:
        return at
    if policy.since == "created" or not event.changes or "ticket.created" in event.triggers:
        return ticket.created
    earlier = ticket.before(event.changes)
    applied = evaluate_conditions(policy.applies, dataclasses.replace(facts, ticket=earlier))
    return ticket.created if applied else at


def _follow(policy: SlaPolicy, calendars: Calendars, update: Update, facts: Facts, at: datetime,
            chosen: tuple[int, int | None] | None = None) -> Update:
    """Stop, pause, resume or retarget an open clock to match the ticket now. `chosen`: the
    target and scale `choose_target` just chose on the same facts (a clock starting)."""
    clock = update.clock
    calendar = calendars[policy.calendar]
    if policy.stop and evaluate_conditions(policy.stop, facts):
        _add(update, Transition(STOPPED, at, reason="stop conditions hold"))
        final = status(update.clock, policy, calendar, at, calendars)
        if final.state == "met":
            update.events.append(SlaEvent("sla.met", policy.name, clock.cycle, at))
        elif not clock.has(BREACHED) and final.breached_at is not None:
            # stopped late before the sweep saw the breach: it is still recorded, once
            _add(update, Transition(BREACHED, final.breached_at, reason="due time passed"))
            update.events.append(SlaEvent("sla.breached", policy.name, clock.cycle, final.breached_at))
        return update
    paused = _is_paused(update.clock)
    if policy.pause:
        should_pause = evaluate_conditions(policy.pause, facts)
        if should_pause and not paused:
            _add(update, Transition(PAUSED, at, reason="pause conditions hold"))
        elif not should_pause and paused:
            _add(update, Transition(RESUMED, at, reason="pause conditions no longer hold"))
    choice, scaled = chosen or choose_target(policy, facts)
    if (choice, scaled) != _current_choice(update.clock):
        wanted = target_length(policy, choice, scaled, calendar_for(policy, choice, calendar, calendars), at)
        _add(update, Transition(TARGET, at, wanted, "another target applies", choice, scaled))
    return update


def _add(update: Update, transition: Transition) -> None:
    update.clock = update.clock.with_transition(transition)
    update.added.append(transition)


def _is_paused(clock: Clock) -> bool:
    paused = False
    for transition in clock.transitions:
        if transition.kind == PAUSED:
            paused = True
        elif transition.kind in (RESUMED, STARTED, REOPENED):
            paused = False
    return paused


def _current_choice(clock: Clock) -> tuple[int | None, int | None]:
    choice: tuple[int | None, int | None] = (None, None)
    for transition in clock.transitions:
        if transition.kind in (STARTED, TARGET):
            choice = (transition.choice, transition.scaled)
    return choice


def due_notifications(clock: Clock, policy: SlaPolicy, calendar: BusinessCalendar, now: datetime,
                      quiet: BusinessCalendar | None = None,
                      calendars: Calendars | None = None) -> list[tuple[Transition, SlaEvent]]:
    """The warning and breach this clock owes at `now`, each at most once per cycle.

    With a `quiet` calendar (the policy's `quiet_hours`), a warning that falls outside its
    working time waits for its next working moment; a breach is recorded when it happens.
    """
    if clock.stopped:
        return []
    current = status(clock, policy, calendar, now, calendars)
    owed = []
    if current.warn_at is not None and not clock.has(WARNED) and current.state in ("running", "breached"):
        warn_at = quiet.next_working_moment(current.warn_at) if quiet else current.warn_at
        if warn_at <= now:
            reason = "warning point reached" if warn_at == current.warn_at else \
                f"warning point reached; notified at {warn_at.isoformat()} (quiet hours)"
            owed.append((Transition(WARNED, current.warn_at, reason=reason),
                         SlaEvent("sla.warning", policy.name, clock.cycle, warn_at)))
    if current.breached_at is not None and current.breached_at < now and not clock.has(BREACHED):
        owed.append((Transition(BREACHED, current.breached_at, reason="due time passed"),
                     SlaEvent("sla.breached", policy.name, clock.cycle, current.breached_at)))
    return owed
