"""The survey's pages: small, accessible (labelled controls, a fieldset for the rating, large
targets, works without scripts), in the survey's language."""

from __future__ import annotations

from html import escape

from rules.messages import DEFAULT, Messages

CSS = """
body { font: 18px/1.5 system-ui, sans-serif; color: #1d2228; background: #f5f7f9; margin: 0; }
main { max-width: 34rem; margin: 3rem auto; background: #fff; padding: 2rem; border-radius: .5rem;
       box-shadow: 0 1px 4px rgba(0,0,0,.12); }
h1 { font-size: 1.5rem; margin-top: 0; }
fieldset { border: 0; padding: 0; margin: 1.5rem 0; }
legend { font-weight: 600; margin-bottom: .5rem; }
.scores label { display: block; padding: .55rem .8rem; margin: .3rem 0; border: 1px solid #b8c2cc;
                border-radius: .35rem; cursor: pointer; }
.scores input { margin-right: .6rem; transform: scale(1.3); }
label[for=comment] { display: block; font-weight: 600; margin-bottom: .4rem; }
textarea { width: 100%; min-height: 6rem; font: inherit; box-sizing: border-box; padding: .5rem; }
button { margin-top: 1.2rem; font: inherit; font-weight: 600; padding: .7rem 1.6rem; border: 0;
         border-radius: .35rem; background: #2f6db5; color: #fff; cursor: pointer; }
button:focus, input:focus, textarea:focus { outline: 3px solid #f0b429; outline-offset: 2px; }
p.error { color: #a61b1b; font-weight: 600; }
"""


def _page(language: str, title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="{escape(language)}">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta name="robots" content="noindex">\n<title>{escape(title)}</title>\n<style>{CSS}</style>\n'
            f"</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n")


def form_page(language: str, key: str, subject: str, error: bool = False, comment: str = "",
              messages: Messages = DEFAULT) -> str:
    def t(name: str, **values: str) -> str:
        return messages.text(language, name, **values)

    scores = "\n".join(
        f'<label><input type="radio" name="score" value="{n}" required>{escape(t(f"survey.score.{n}"))}</label>'
        for n in range(5, 0, -1))
    alert = f'<p class="error" role="alert">{escape(t("survey.choose"))}</p>' if error else ""
    body = (f'<h1>{escape(t("survey.title"))}</h1>\n<p>{escape(t("survey.intro", key=key, subject=subject))}</p>\n'
            f'{alert}<form method="post">\n<fieldset class="scores">\n<legend>{escape(t("survey.rating"))}</legend>\n'
            f'{scores}\n</fieldset>\n<label for="comment">{escape(t("survey.comment"))}</label>\n'
            f'<textarea id="comment" name="comment" maxlength="4000">{escape(comment)}</textarea>\n'
            f'<button type="submit">{escape(t("survey.send"))}</button>\n</form>')
    return _page(language, t("survey.title"), body)


def notice_page(language: str, name: str, messages: Messages = DEFAULT) -> str:
    """A page that only says something (thanks, already answered, not valid)."""
    text = messages.text(language, name)
    title = messages.text(language, "survey.title")
    return _page(language, title, f'<h1>{escape(title)}</h1>\n<p id="notice" role="status">{escape(text)}</p>')
