"""Who is staff and who is a customer, as the rulebook's `staff` section defines it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rules.model import Person, Ticket

CUSTOMER_KINDS = ("reporter", "request_participants")


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

    @classmethod
    def from_section(cls, section: Mapping[str, Any] | None) -> "StaffDefinition":
        section = section or {}

        def folded(key: str) -> frozenset[str]:
            return frozenset(str(item).casefold().lstrip("@") for item in section.get(key) or [])

        return cls(folded("logins"), folded("groups"), folded("roles"), folded("email_domains"),
                   folded("customers"))

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
        domain = person.email.rpartition("@")[2].casefold() if "@" in person.email else ""
        is_staff = (
            (person.login and person.login.casefold() in self.logins)
            or any(group.casefold() in self.groups for group in person.groups)
            or any(role.casefold() in self.roles for role in person.roles)
            or (domain and domain in self.email_domains)
        )
        return "staff" if is_staff else "customer"

    def _customer_of(self, person: Person, ticket: Ticket) -> bool:
        if "reporter" in self.customers and ticket.author is not None and ticket.author.id == person.id:
            return True
        return "request_participants" in self.customers and any(p.id == person.id for p in ticket.participants)
