"""Load-and-authorize: an object if the caller may see it, else "not found" (never a 403 that
confirms it exists). Agents see every practice; a practice user only its own practice's objects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from helpdesk.core.agents import Agent
from helpdesk.core.auth import PracticeUser
from helpdesk.core.errors import NotFound

T = TypeVar("T")
Actor = Agent | PracticeUser


def may_see_practice(actor: Actor, practice_id: str | None) -> bool:
    if isinstance(actor, Agent):
        return True
    return practice_id is not None and practice_id == actor.practice_id


def load_visible(session: Session, actor: Actor, model: type[T], key: Any, what: str,
                 practice_of: Callable[[T], str | None] = lambda obj: getattr(obj, "practice_id", None)) -> T:
    """``model`` with this primary key, if ``actor`` may see it."""
    found = session.get(model, key) if key is not None else None
    if found is None or not may_see_practice(actor, practice_of(found)):
        raise NotFound("not_found", f"There is no {what} with that id.")
    return found
