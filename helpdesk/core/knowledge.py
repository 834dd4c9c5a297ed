"""The one link between booking causes and help articles.

The bookings domain publishes its cause codes; the knowledge base registers how to find the
article for a key. Neither imports the other: both meet here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from flask import Flask, current_app
from sqlalchemy.orm import Session

ArticleFinder = Callable[[Session, Sequence[str]], list[dict[str, Any]]]


def register_cause_codes(app: Flask, codes: Sequence[str]) -> None:
    app.extensions["cause_codes"] = tuple(codes)


def cause_codes() -> tuple[str, ...]:
    return tuple(current_app.extensions.get("cause_codes", ()))


def register_article_finder(app: Flask, finder: ArticleFinder) -> None:
    app.extensions["article_finder"] = finder


def articles_for(session: Session, keys: Sequence[str]) -> list[dict[str, Any]]:
    """For each key, ``{"key", "id", "title", "url"}`` (``{"key"}`` when no article answers it)."""
    finder: ArticleFinder | None = current_app.extensions.get("article_finder")
    if finder is None or not keys:
        return [{"key": key} for key in keys]
    return finder(session, keys)
