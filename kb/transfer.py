"""The knowledge base as a folder of files: reading and writing only (``kb.service`` decides).

Each article is a Markdown file with YAML front matter::

    ---
    title: "What is a booking collision, and what should I do?"
    slug: what-is-a-booking-collision      # stable: how an import finds the article again
    category: Bookings and your diary      # created when missing, matched by name
    section: Missing bookings
    labels: [diary, collision]
    keys: [diary_collision]                # diagnosis cause codes this article answers
    promoted: true
    comments_enabled: true
    status: published                      # draft (the default), published or archived
    position: 0                            # optional: order within the section
    ---
    The body, in Markdown.

An optional ``_structure.yaml`` lists the categories and sections in order, with descriptions::

    categories:
      - name: Bookings and your diary
        description: ...
        sections:
          - {name: Missing bookings, description: ...}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from helpdesk.core.errors import DomainError, InvalidInput
from kb.models import ARTICLE_STATUSES

CONTENT_FOLDER = Path(__file__).resolve().parent / "content"  # the project's own Help Center articles
STRUCTURE_FILE = "_structure.yaml"
FRONT_MATTER_KEYS = ("title", "slug", "category", "section", "labels", "keys", "promoted", "comments_enabled",
                     "status", "position")
REQUIRED_KEYS = ("title", "category", "section")
MAX_FILE_BYTES = 1_000_000
FENCE = "---"


@dataclass
class SectionEntry:
    name: str
    description: str = ""


@dataclass
class StructureEntry:
    name: str
    description: str = ""
    sections: list[SectionEntry] = field(default_factory=list)


@dataclass
class ArticleFile:
    filename: str
    title: str
    slug: str
    category: str
    section: str
    labels: list[str]
    keys: list[str]
    promoted: bool
    comments_enabled: bool
    status: str
    position: int | None
    body: str


@dataclass
class Folder:
    structure: list[StructureEntry]
    articles: list[ArticleFile]


def _bad(filename: str, message: str) -> DomainError:
    return InvalidInput("invalid_file", f"{filename}: {message}", file=filename)


def read_folder(path: Path) -> Folder:
    if not path.is_dir():
        raise InvalidInput("invalid_folder", f"{path} is not a folder")
    structure = _read_structure(path / STRUCTURE_FILE) if (path / STRUCTURE_FILE).is_file() else []
    articles = [read_article(file, file.relative_to(path).as_posix()) for file in sorted(path.rglob("*.md"))]
    seen: dict[str, str] = {}
    for article in articles:
        if article.slug in seen:
            raise _bad(article.filename, f"slug {article.slug!r} is also used by {seen[article.slug]}")
        seen[article.slug] = article.filename
    return Folder(structure, articles)


def _read_text(path: Path, filename: str) -> str:
    if path.stat().st_size > MAX_FILE_BYTES:
        raise _bad(filename, f"larger than {MAX_FILE_BYTES:,} bytes")
    try:
        return path.read_text(encoding="utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError as exc:
        raise _bad(filename, f"not UTF-8 text ({exc.reason})") from exc


def split_front_matter(text: str, filename: str) -> tuple[dict[str, Any], str]:
    lines = text.lstrip("\ufeff").split("\n")
    if not lines or lines[0].strip() != FENCE:
        raise _bad(filename, "must start with YAML front matter between '---' lines")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == FENCE)
    except StopIteration:
        raise _bad(filename, "the front matter has no closing '---' line") from None
    try:
        meta = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        raise _bad(filename, f"the front matter is not valid YAML: {exc}") from exc
    if not isinstance(meta, dict):
        raise _bad(filename, "the front matter must be a mapping of keys to values")
    return meta, "\n".join(lines[end + 1:]).strip("\n")


def read_article(path: Path, filename: str) -> ArticleFile:
    meta, body = split_front_matter(_read_text(path, filename), filename)
    unknown = sorted(str(key) for key in meta if key not in FRONT_MATTER_KEYS)
    if unknown:
        raise _bad(filename, f"unknown front matter key(s): {', '.join(unknown)} "
                             f"(known: {', '.join(FRONT_MATTER_KEYS)})")
    for key in REQUIRED_KEYS:
        if not isinstance(meta.get(key), str) or not meta[key].strip():
            raise _bad(filename, f"front matter key {key!r} is required and must be text")
    status = meta.get("status", "draft")
    if status not in ARTICLE_STATUSES:
        raise _bad(filename, f"status must be one of {', '.join(ARTICLE_STATUSES)}, not {status!r}")
    position = meta.get("position")
    if position is not None and (not isinstance(position, int) or isinstance(position, bool) or position < 0):
        raise _bad(filename, "position must be a whole number, 0 or more")
    slug = meta.get("slug", path.stem)
    if not isinstance(slug, str) or not slug.strip():
        raise _bad(filename, "slug must be text")
    return ArticleFile(
        filename=filename, title=meta["title"], slug=slug.strip(), category=meta["category"],
        section=meta["section"], labels=_text_list(meta, "labels", filename),
        keys=_text_list(meta, "keys", filename), promoted=_flag(meta, "promoted", False, filename),
        comments_enabled=_flag(meta, "comments_enabled", True, filename), status=status, position=position,
        body=body,
    )


def _text_list(meta: dict[str, Any], key: str, filename: str) -> list[str]:
    value = meta.get(key) or []
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",")]
    if not isinstance(value, list) or not all(isinstance(item, (str, int)) for item in value):
        raise _bad(filename, f"{key} must be a list of words")
    return [str(item) for item in value if str(item).strip()]


def _flag(meta: dict[str, Any], key: str, default: bool, filename: str) -> bool:
    value = meta.get(key, default)
    if not isinstance(value, bool):
        raise _bad(filename, f"{key} must be true or false")
    return value


def _read_structure(path: Path) -> list[StructureEntry]:
    meta = yaml.safe_load(_read_text(path, STRUCTURE_FILE)) or {}
    categories = meta.get("categories") if isinstance(meta, dict) else None
    if not isinstance(categories, list):
        raise _bad(STRUCTURE_FILE, "must hold a list under 'categories'")
    entries = []
    for category in categories:
        if not isinstance(category, dict) or not isinstance(category.get("name"), str):
            raise _bad(STRUCTURE_FILE, "each category needs a name")
        sections = category.get("sections") or []
        if not isinstance(sections, list) or not all(isinstance(s, dict) and isinstance(s.get("name"), str)
                                                     for s in sections):
            raise _bad(STRUCTURE_FILE, f"the sections of {category['name']!r} each need a name")
        entries.append(StructureEntry(
            name=category["name"], description=str(category.get("description") or ""),
            sections=[SectionEntry(s["name"], str(s.get("description") or "")) for s in sections],
        ))
    return entries


def write_folder(path: Path, structure: list[StructureEntry], articles: list[ArticleFile]) -> None:
    path.mkdir(parents=True, exist_ok=True)
    tree = {"categories": [
        {"name": c.name, "description": c.description,
         "sections": [{"name": s.name, "description": s.description} for s in c.sections]}
        for c in structure
    ]}
    (path / STRUCTURE_FILE).write_text(_yaml(tree), encoding="utf-8")
    for article in articles:
        meta = {
            "title": article.title, "slug": article.slug, "category": article.category, "section": article.section,
            "labels": article.labels, "keys": article.keys, "promoted": article.promoted,
            "comments_enabled": article.comments_enabled, "status": article.status, "position": article.position,
        }
        text = f"{FENCE}\n{_yaml(meta)}{FENCE}\n\n{article.body}\n"
        (path / article.filename).write_text(text, encoding="utf-8")


def _yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=None, width=1000)
