"""What a page in the browser tests reported on its own: console errors and uncaught exceptions."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page

__all__ = ["PageErrors"]


class PageErrors:
    """Console errors and uncaught exceptions a page reported."""

    def __init__(self, page: Page) -> None:
        self.messages: list[str] = []
        page.on("console", lambda m: self.messages.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.messages.append(f"uncaught: {e}"))
