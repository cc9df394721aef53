"""Who is staff and who is a customer, as the rulebook's `staff` section defines it, and who holds
the rulebook's named roles (`roles:`, such as a change board's approvers)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rules.model import Person, Ticket

CUSTOMER_KINDS = ("reporter", "request_participants")
BUILT_IN_ROLES = ("staff", "customer")


def _folded(section: Mapping[str, Any], key: str) -> frozenset[str]:
    return frozenset(str(item).casefold().lstrip("@") for item in section.get(key) or [])


def _member(person: Person, logins: frozenset[str], groups: frozenset[str], roles: frozenset[str],
            email_domains: frozenset[str]) -> bool:
    """Whether a login, a group, a project role or the e-mail domain names the person."""
    domain = person.email.rpartition("@")[2].casefold() if "@" in person.email else ""
    return bool(
        (person.login and person.login.casefold() in logins)
        or any(group.casefold() in groups for group in person.groups)
        or any(role.casefold() in roles for role in person.roles)
        or (domain and domain in email_domains)
    )


@dataclass(frozen=True)
class NamedRole:
    """A role the rulebook names (`roles: {approver: {groups: [change-board]}}`): who holds it is
    said the way `staff` says who is staff, and conditions test it as `actor_role = approver`."""

    name: str
    logins: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()
    email_domains: frozenset[str] = frozenset()

    @classmethod
    def from_section(cls, name: str, section: Mapping[str, Any]) -> "NamedRole":
        return cls(name, _folded(section, "logins"), _folded(section, "groups"), _folded(section, "roles"),
                   _folded(section, "email_domains"))

    def held_by(self, person: Person) -> bool:
        return _member(person, self.logins, self.groups, self.roles, self.email_domains)


@dataclass(frozen=True)
class StaffDefinition:
    """A person is staff when any rule matches; everyone else is a customer.

    With no `staff` section nobody can be classified, so `actor_role` is empty.
    """

    logins: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()
    email_domains: frozenset[str] = frozenset()
    customers: frozenset[str] = frozenset()
    named: tuple[NamedRole, ...] = ()  # the rulebook's own roles, besides staff and customer

    @classmethod
    def from_section(cls, section: Mapping[str, Any] | None,
                     named: Sequence[NamedRole] = ()) -> "StaffDefinition":
        section = section or {}
        return cls(_folded(section, "logins"), _folded(section, "groups"), _folded(section, "roles"),
                   _folded(section, "email_domains"), _folded(section, "customers"), tuple(named))

    @property
    def configured(self) -> bool:
        return bool(self.logins or self.groups or self.roles or self.email_domains or self.customers)

    def role_of(self, person: Person | None, ticket: Ticket | None = None) -> str | None:
        """`staff`, `customer`, or None when the rulebook does not say who is who."""
        if person is None or not self.configured:
            return None
        if ticket is not None and self._customer_of(person, ticket):
            return "customer"
        if self.customers and not (self.logins or self.groups or self.roles or self.email_domains):
            return "staff"  # only customers are named: everyone else works here
        is_staff = _member(person, self.logins, self.groups, self.roles, self.email_domains)
        return "staff" if is_staff else "customer"

    def roles_of(self, person: Person | None, ticket: Ticket | None = None) -> list[str] | None:
        """Every role the person holds: `staff` or `customer` (as `role_of`), then each named role
        of theirs; None when there is none. A person may be staff and an approver at once, so
        `actor_role = approver` and `actor_role = staff` may both hold."""
        if person is None:
            return None
        held = [role.name for role in self.named if role.held_by(person)]
        base = self.role_of(person, ticket)
        return ([base] if base else []) + held or None

    def _customer_of(self, person: Person, ticket: Ticket) -> bool:
        if "reporter" in self.customers and ticket.author is not None and ticket.author.id == person.id:
            return True
        return "request_participants" in self.customers and any(p.id == person.id for p in ticket.participants)
