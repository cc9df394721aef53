"""Templates are written by admins and rendered with ticket data a customer typed: neither may
reach Python's internals (the sandbox), and an attempt is a load error with file:line, never
something that runs."""

from __future__ import annotations

import pytest
from jinja2 import TemplateError

from rules.errors import RulebookInvalid
from rules.rulebook import load_rulebook
from rules.templates import compile_template, render

ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ticket.__class__.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ self._TemplateReference__context }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ ticket.subject.format.__globals__ }}",
    "{{ (ticket.subject|attr('__class__')).__base__ }}",
    "{{ lipsum.__globals__['os'].system('true') }}",
    "{{ ''.join.__self__.__class__ }}",
]


@pytest.mark.parametrize("text", ESCAPES)
def test_escapes_from_the_sandbox_never_render(text):
    template = compile_template(text)
    with pytest.raises(TemplateError):  # SecurityError or an undefined name, both TemplateErrors
        render(template, {"ticket": {"subject": "x"}, "cycler": object(), "lipsum": object()})


@pytest.mark.parametrize("text", ESCAPES[:3])
def test_an_escape_in_a_rule_is_a_load_error_with_its_line(text):
    source = ("version: 1\nrules:\n  - name: escape\n    on: [ticket.created]\n"
              f"    then: [{{comment: {{body: {text!r}}}}}]\n")
    with pytest.raises(RulebookInvalid) as raised:
        load_rulebook([("escape.yaml", source)])
    assert "escape.yaml:5" in str(raised.value)


def test_a_customer_typed_template_is_text_not_code():
    """A subject that looks like a template stays text when a note quotes it."""
    rendered = render(compile_template("Received: {{ ticket.subject }}"),
                      {"ticket": {"subject": "{{ ''.__class__.__mro__ }}"}})
    assert rendered == "Received: {{ ''.__class__.__mro__ }}"
