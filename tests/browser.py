"""Rendering pages in headless Chromium (Debian's package) for the tests: the DOM after load,
and a screenshot kept under var/test-artifacts/ for people to look at."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parent.parent / "var" / "test-artifacts"


def render(chromium: str, url: str, screenshot: str | None = None, size: tuple[int, int] = (1100, 1800)) -> str:
    """The page's DOM once loaded; with `screenshot`, also a PNG of it in var/test-artifacts/."""
    with tempfile.TemporaryDirectory() as profile:
        base = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}"]
        dom = subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True, timeout=90, check=True)
        if screenshot:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            subprocess.run([*base, f"--screenshot={ARTIFACTS / screenshot}", url], capture_output=True,
                           timeout=90, check=True)
    return dom.stdout


def print_to_pdf(chromium: str, url: str, name: str) -> Path:
    """The page printed to PDF as Chromium prints it (kept in var/test-artifacts/)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / name
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        f"--user-data-dir={profile}", "--no-pdf-header-footer", f"--print-to-pdf={target}", url],
                       capture_output=True, timeout=90, check=True)
    return target


@dataclass
class Element:
    tag: str
    attrs: Mapping[str, str]
    text: str = ""
    parents: tuple[str, ...] = ()


@dataclass
class Page(HTMLParser):
    """Every element of a page with its attributes, text and the ids of the elements around it."""

    elements: list[Element] = field(default_factory=list)
    _open: list[Element] = field(default_factory=list)

    def __post_init__(self) -> None:
        HTMLParser.__init__(self)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        parents = tuple(e.attrs.get("id", "") for e in self._open if e.attrs.get("id"))
        element = Element(tag, {name: value or "" for name, value in attrs}, parents=parents)
        self.elements.append(element)
        if tag not in ("meta", "link", "br", "img", "input", "circle", "line", "polyline"):
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index].tag == tag:
                del self._open[index:]
                break

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text += data

    def find(self, tag: str, **attrs: str) -> list[Element]:
        return [e for e in self.elements if e.tag == tag and all(e.attrs.get(k.replace("_", "-")) == v
                                                                    for k, v in attrs.items())]

    def inside(self, parent_id: str, tag: str) -> list[Element]:
        return [e for e in self.elements if e.tag == tag and parent_id in e.parents]


def parse(dom: str) -> Page:
    page = Page()
    page.feed(dom)
    return page
