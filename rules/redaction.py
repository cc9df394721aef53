"""Customer property (ISO 9001 8.5.3): the customer's secrets stay in the customer's ticket.

A customer pastes a password, an API key or a private key into a ticket; ticketwarden copies
ticket text elsewhere: into development issues (`escalate`), quality records
(`nonconformity`), chat messages (`notify`), published reports and its own log. The
rulebook's `redaction` section names what to hide there (built-in kinds, and `custom`
regular expressions); each hidden value becomes a marker such as `[redacted: password]`.
Without the section, passwords and tokens are hidden all the same: a customer's credentials
never leave the ticket by default. `redaction: {patterns: []}` turns the built-in kinds off.

Where it applies is decided once, in the engine: an action that writes outside the ticket
(`ActionSpec.leaves_ticket`) plans from a template context whose ticket text is redacted, so
every template, copied field and default text of such an action sees the redacted text, and a
new action cannot forget it. Actions that write on the ticket itself (`comment`, `set`,
`transition`, ...) see the text as it is: it is the customer's own ticket, and a note quoting
it shows the customer nothing new. The note `escalate` and `nonconformity` add back to the
ticket is rendered from the same redacted context as the rest of their action.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rules.context import Where
from rules.messages import DEFAULT as DEFAULT_MESSAGES
from rules.messages import Messages, placeholders
from rules.schema import REDACTION, read_options
from rules.suggest import did_you_mean


@dataclass(frozen=True)
class Pattern:
    """One way of finding a secret. With a group named `secret` only that part is hidden (the
    label before it, `password:`, stays readable); else the whole match. `accept` refuses
    matches that only look like a secret (a path, a number that fails the card check)."""

    label: str
    regex: re.Pattern[str]
    accept: Callable[[str], bool] | None = None


def _mixed(text: str) -> bool:
    """Upper case, lower case and digits, with a long unbroken run: a random key, not a slug or path."""
    runs = re.findall(r"[A-Za-z0-9]+", text)
    return (any(c.isupper() for c in text) and any(c.islower() for c in text) and any(c.isdigit() for c in text)
            and max((len(run) for run in runs), default=0) >= 16 and text.count("/") <= 2)


def _letters_and_digits(text: str) -> bool:
    return any(c.isdigit() for c in text) and any(c.isalpha() for c in text)


def _luhn(text: str) -> bool:
    digits = [int(c) for c in text if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


_ASSIGN = r"""["']?[ \t]*[:=][ \t]*"""
_VALUE = r"""(?P<secret>(?![\[*])[^\s"'<>,;`]+)"""  # not a marker, nor a value already masked (***)
_CREDENTIAL_WORDS = r"(?:password|passwort|passwd|passphrase|pass|pwd|contrase(?:ñ|n)a|clave|senha|kennwort)"
_KEY_WORDS = (r"(?:api[_-]?key|apikey|api[_-]?token|access[_-]?token|auth[_-]?token|refresh[_-]?token|"
              r"id[_-]?token|client[_-]?secret|secret[_-]?key|secret|private[_-]?token|token|x-api-key|"
              r"x-redmine-api-key|x-auth-token|aws[_-]?secret[_-]?access[_-]?key|session[_-]?id)")
_B64 = r"A-Za-z0-9+/_\-"


def _quoted(label: str) -> list[str]:
    """`label: "value with spaces"`, `label='v'`, and `label: value`, each hiding the value only."""
    start = rf"(?<![A-Za-z0-9]){label}{_ASSIGN}"
    return [start + r'"(?P<secret>(?![\[*])[^"\n]+)"', start + r"'(?P<secret>(?![\[*])[^'\n]+)'", start + _VALUE]


BUILT_IN: dict[str, tuple[str, list[tuple[str, Callable[[str], bool] | None]]]] = {
    # name -> (message naming what was hidden, [(regular expression, accept)])
    "passwords": ("redaction.password", [
        *((regex, None) for regex in _quoted(f"(?i:{_CREDENTIAL_WORDS})")),
        (r"(?<=://)[^/\s:@]+:(?P<secret>(?!\*)[^/\s@]+)(?=@)", None),  # https://user:secret@host
    ]),
    "tokens": ("redaction.token", [
        *((regex, None) for regex in _quoted(f"(?i:{_KEY_WORDS})")),
        (r"(?i)(?<![A-Za-z0-9])authorization" + _ASSIGN + r"(?:(?:bearer|basic|token|digest)[ \t]+)?"
         r"(?P<secret>(?![\[*])[^\s\"'<>,;]{6,})", None),
        (r"(?i)\bbearer[ \t]+(?P<secret>[A-Za-z0-9._~+/-]{16,}=*)", _letters_and_digits),
        (r"(?i)[?&;#][A-Za-z0-9_.-]*(?:token|key|secret|sig|signature|password|passwd|pwd|auth|code|session|sid)"
         r"=(?P<secret>(?![\[*])[^&#\s\"'<>]+)", None),  # a URL's query parameter
        (r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA|ABIA|ACCA)[0-9A-Z]{16}\b", None),
        (r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}|glpat-[A-Za-z0-9_-]{20,}|"
         r"xox[abposr]-[A-Za-z0-9-]{10,}|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}|sk-[A-Za-z0-9_-]{20,}|"
         r"AIza[0-9A-Za-z_-]{35})", None),
        (r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", None),  # a JSON web token
        (r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|\Z)",
         None),
        (r"(?<![0-9A-Za-z])[0-9a-fA-F]{32,40}(?![0-9A-Za-z])", _letters_and_digits),  # an MD5- or SHA-1-long key
        (rf"(?<![{_B64}=])[{_B64}]{{32,}}={{0,2}}(?![{_B64}=])", _mixed),  # a long random (base64) key
    ]),
    "emails": ("redaction.email", [
        (r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b", None),
    ]),
    "credit_cards": ("redaction.card", [(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])", _luhn)]),
}
ALIASES = {"secrets": "tokens"}
DEFAULT_PATTERNS = ("passwords", "tokens")
CUSTOM_NAME = re.compile(r"^[A-Za-z_][\w-]*$")
# A line with every kind of character: a custom pattern that matches nothing of it (an empty match) hides nothing.
_PROBE = "Ab1 ,.;:-_/@#=?!\"'()[]{}<>\n\tñ"


@dataclass(frozen=True)
class Redactor:
    """Hides secrets in text. `replacement` holds `{name}`, the label of what was hidden."""

    patterns: tuple[Pattern, ...] = ()
    replacement: str = "[redacted: {name}]"
    _markers: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        labels = sorted({pattern.label for pattern in self.patterns}, key=len, reverse=True)
        markers = "|".join(re.escape(self.marker(label)) for label in labels)
        object.__setattr__(self, "_markers", re.compile(markers) if markers else None)

    def marker(self, label: str) -> str:
        return self.replacement.replace("{name}", label)

    def redact(self, text: str) -> str:
        """The text with every secret replaced by its marker. Markers already in the text are
        left alone, so redacting twice (a note, then the log line quoting it) changes nothing."""
        if not self.patterns or not text:
            return text
        protected = [match.span() for match in self._markers.finditer(text)] if self._markers else []
        spans = sorted(span for pattern in self.patterns for span in _spans(pattern, text, protected))
        out, last = [], 0
        for start, end, label in spans:
            if start < last:
                continue  # inside a secret already hidden (two patterns found the same key)
            out += [text[last:start], self.marker(label)]
            last = end
        return "".join(out) + text[last:] if out else text

    def redact_value(self, value: Any) -> Any:
        """Texts inside mappings, lists and tuples redacted; other values as they are."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {self.redact_value(key): self.redact_value(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.redact_value(item) for item in value)
        return value


# The parts of a template context that hold ticket text (the ticket, the event's comment and
# changes, a survey's comment, a measured rule's group); the rest is ticketwarden's own.
TICKET_TEXT = ("ticket", "event", "survey", "group")


def redact_context(context: Mapping[str, Any], redactor: Redactor) -> dict[str, Any]:
    """A template context with its ticket text redacted, for an action that writes outside the ticket."""
    return {key: redactor.redact_value(value) if key in TICKET_TEXT else value for key, value in context.items()}


def _spans(pattern: Pattern, text: str, protected: list[tuple[int, int]]) -> list[tuple[int, int, str]]:
    spans = []
    named = "secret" in pattern.regex.groupindex
    for match in pattern.regex.finditer(text):
        start, end = match.span("secret") if named and match.group("secret") is not None else match.span()
        if end <= start or any(start < p_end and p_start < end for p_start, p_end in protected):
            continue
        if pattern.accept is None or pattern.accept(text[start:end]):
            spans.append((start, end, pattern.label))
    return spans


def built_in(names: tuple[str, ...], locale: str = "en", messages: Messages = DEFAULT_MESSAGES) -> list[Pattern]:
    """The patterns of these built-in kinds, labelled in `locale`."""
    found = []
    for name in names:
        message, regexes = BUILT_IN[ALIASES.get(name, name)]
        label = messages.text(locale, message)
        found += [Pattern(label, re.compile(regex), accept) for regex, accept in regexes]
    return found


def default_redactor(locale: str = "en", messages: Messages = DEFAULT_MESSAGES) -> Redactor:
    """What a rulebook without `redaction` hides: passwords and tokens."""
    return Redactor(tuple(built_in(DEFAULT_PATTERNS, locale, messages)), messages.text(locale, "redaction.marker"))


DEFAULT = default_redactor()


def compile_redaction(where: Where, raw: Any, locale: str = "en",
                      messages: Messages = DEFAULT_MESSAGES) -> Redactor | None:
    """The `redaction` section: known built-in kinds, custom patterns that compile and cannot
    match empty text, a replacement with no placeholder but `{name}`. None, with every error
    recorded at its file:line, when anything is wrong."""
    before = len(where.errors)
    options = read_options(REDACTION, raw, where)
    if options is None:
        return None
    names = _built_in_names(where.child(raw, "patterns"), options.get("patterns"))
    custom = _custom_patterns(where.child(raw, "custom"), options.get("custom"))
    replacement = options.get("replacement")
    if replacement is None:
        replacement = messages.text(locale, "redaction.marker")
    elif not isinstance(replacement, str) or placeholders(replacement) - {"name"}:
        where.child(raw, "replacement").error(
            f"the replacement may use only the placeholder {{name}}; got {replacement!r}")
    if len(where.errors) > before:
        return None
    return Redactor((*built_in(names, locale, messages), *custom), str(replacement))


def _built_in_names(where: Where, raw: Any) -> tuple[str, ...]:
    if raw is None:
        return DEFAULT_PATTERNS
    if not isinstance(raw, list):
        return ()  # the declaration check reported it
    known = [*BUILT_IN, *ALIASES]
    names = []
    for index, name in enumerate(raw):
        if name not in known:
            where.child(raw, index).error(f"unknown pattern {name!r}{did_you_mean(str(name), known)} (built in: "
                                          f"{', '.join(known)}; your own go in `custom`)")
        else:
            names.append(ALIASES.get(str(name), str(name)))
    return tuple(dict.fromkeys(names))


def _custom_patterns(where: Where, raw: Any) -> list[Pattern]:
    """`custom: {name: regular expression}`; a group named `secret` hides only that part."""
    if not isinstance(raw, Mapping):
        return []
    found = []
    for name, text in raw.items():
        here = where.child(raw, name)
        if not CUSTOM_NAME.match(str(name)):
            here.error(f"pattern name {name!r} must be a word (letters, digits, _ or -)")
            continue
        if not isinstance(text, str) or not text:
            here.error("expected a regular expression (text)")
            continue
        try:
            regex = re.compile(text)
        except re.error as exc:
            here.error(f"pattern {name!r} is not a valid regular expression: {exc}")
            continue
        if regex.search("") is not None or any(m.end() == m.start() for m in regex.finditer(_PROBE)):
            here.error(f"pattern {name!r} matches empty text, so it would hide nothing: make every part of it "
                       f"match at least one character (`+` rather than `*`)")
            continue
        found.append(Pattern(str(name), regex))
    return found


__all__ = ["BUILT_IN", "DEFAULT", "Pattern", "Redactor", "compile_redaction", "default_redactor", "redact_context"]
