"""Import and export: a folder of Markdown files with YAML front matter, round trip and
idempotence, clear errors for bad files, and the ``kb`` CLI commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from helpdesk.core.agents import NewAgent
from helpdesk.core.errors import DomainError
from kb import queries, service, transfer
from kb.models import Article, Category, Revision, Section
from tests.kb.conftest import CONTENT, World

ARTICLE = """---
title: "Collisions: what to do"
slug: collisions-what-to-do
category: Bookings and your diary
section: Missing bookings
labels: [diary, collision]
keys: [diary_collision]
promoted: true
comments_enabled: false
status: published
---

A **collision** means the slot was taken.
"""


def _count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)))


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_demo_content_imports_once_and_again_changes_nothing(db_session: Session,
                                                                 content: service.ImportReport) -> None:
    files = sorted(CONTENT.glob("*.md"))
    assert len(content.created) == len(files) >= 15 and not content.updated
    articles, revisions = _count(db_session, Article), _count(db_session, Revision)
    again = service.import_folder(db_session, CONTENT, None)
    db_session.commit()
    assert again.created == [] and again.updated == [] and len(again.unchanged) == len(files)
    assert (_count(db_session, Article), _count(db_session, Revision)) == (articles, revisions)
    # Every diagnosis cause code has an article.
    from helpdesk.bookings.diagnosis import CAUSE_CODES

    answered = [row for row in queries.articles_for_keys(db_session, list(CAUSE_CODES)) if "id" in row]
    assert len(answered) == len(CAUSE_CODES), [row for row in queries.articles_for_keys(db_session, CAUSE_CODES)
                                               if "id" not in row]


def test_import_creates_structure_and_updates_by_slug(db_session: Session, tmp_path: Path, editor: NewAgent) -> None:
    _write(tmp_path, "collisions.md", ARTICLE)
    report = service.import_folder(db_session, tmp_path, editor.agent)
    db_session.commit()
    assert report.created == ["collisions-what-to-do"]
    article = db_session.scalars(select(Article)).one()
    assert (article.title, article.status, article.promoted, article.comments_enabled) == \
        ("Collisions: what to do", "published", True, False)
    assert article.section.name == "Missing bookings" and article.section.category.name == "Bookings and your diary"
    assert article.labels == ["diary", "collision"] and article.keys == ["diary_collision"]
    assert "<strong>collision</strong>" in article.body_html
    assert queries.revisions(db_session, article.id)[0].note == "imported from collisions.md"

    _write(tmp_path, "collisions.md", ARTICLE.replace("slot was taken", "slot was already taken")
           .replace("section: Missing bookings", "section: Diary problems"))
    report = service.import_folder(db_session, tmp_path, editor.agent)
    db_session.commit()
    assert report.updated == ["collisions-what-to-do"] and _count(db_session, Article) == 1
    db_session.expire_all()
    article = db_session.scalars(select(Article)).one()
    assert "already taken" in article.body and article.section.name == "Diary problems"
    assert _count(db_session, Category) == 1 and _count(db_session, Section) == 2


def test_export_then_import_into_an_empty_knowledge_base_round_trips(db_session: Session, world: World,
                                                                     tmp_path: Path) -> None:
    folder = tmp_path / "export"
    assert service.export_folder(db_session, folder) == 4
    assert (folder / "_structure.yaml").is_file() and (folder / "what-is-a-booking-collision.md").is_file()
    before = {a.slug: _content(a) for a in db_session.scalars(select(Article))}

    for model in (Revision, Article, Section, Category):
        for row in db_session.scalars(select(model)):
            db_session.delete(row)
        db_session.flush()
    from kb import search

    search.rebuild(db_session)
    db_session.commit()
    report = service.import_folder(db_session, folder, None)
    db_session.commit()
    assert sorted(report.created) == sorted(before)
    after = {a.slug: _content(a) for a in db_session.scalars(select(Article))}
    assert after == before
    assert [s.description for s in queries.sections_by_category(db_session)[queries.categories(db_session)[0].id]] \
        == ["", ""]
    assert queries.categories(db_session)[0].description == "When bookings go astray"
    assert sorted(service.import_folder(db_session, folder, None).unchanged) == sorted(before)
    second = tmp_path / "again"
    service.export_folder(db_session, second)
    for file in folder.glob("*"):
        assert (second / file.name).read_text() == file.read_text(), file.name


def _content(article: Article) -> tuple:
    return (article.title, article.body, tuple(article.labels), tuple(article.keys), article.promoted,
            article.comments_enabled, article.status, article.section.name, article.section.category.name,
            article.position)


@pytest.mark.parametrize(("text", "message"), [
    ("no front matter here", "must start with YAML front matter"),
    ("---\ntitle: x\n", "no closing '---'"),
    ("---\ntitle: [unclosed\n---\nbody", "not valid YAML"),
    ("---\n- a list\n---\nbody", "must be a mapping"),
    ("---\ntitle: x\ncategory: c\n---\nbody", "'section' is required"),
    ("---\ntitle: x\ncategory: c\nsection: s\nstatus: live\n---\n", "status must be one of"),
    ("---\ntitle: x\ncategory: c\nsection: s\npromoted: sometimes\n---\n", "promoted must be true or false"),
    ("---\ntitle: x\ncategory: c\nsection: s\nlabels: {a: 1}\n---\n", "labels must be a list"),
    ("---\ntitle: x\ncategory: c\nsection: s\ntitel: typo\n---\n", "unknown front matter key(s): titel"),
    ("---\ntitle: x\ncategory: c\nsection: s\nposition: -1\n---\n", "position must be a whole number"),
    ("---\ntitle: x\ncategory: c\nsection: s\nkeys: [Not a code]\n---\n", "a key is a cause code"),
])
def test_a_bad_file_fails_the_whole_import_naming_the_file(db_session: Session, tmp_path: Path, text: str,
                                                           message: str) -> None:
    _write(tmp_path, "a-good-one.md", ARTICLE)
    _write(tmp_path, "broken.md", text)
    with pytest.raises(DomainError) as exc:
        service.import_folder(db_session, tmp_path, None)
    db_session.rollback()
    assert message in exc.value.message
    if exc.value.code == "invalid_file":
        assert exc.value.message.startswith("broken.md: ")
    assert _count(db_session, Article) == 0


def test_duplicate_slugs_and_non_utf8_files_are_refused(db_session: Session, tmp_path: Path) -> None:
    _write(tmp_path, "one.md", ARTICLE)
    _write(tmp_path / "sub", "two.md", ARTICLE)
    with pytest.raises(DomainError, match="also used by one.md"):
        transfer.read_folder(tmp_path)
    (tmp_path / "sub" / "two.md").unlink()
    (tmp_path / "latin1.md").write_bytes("---\ntitle: caf\xe9\n---\n".encode("latin-1"))
    with pytest.raises(DomainError, match="latin1.md: not UTF-8"):
        transfer.read_folder(tmp_path)
    with pytest.raises(DomainError, match="is not a folder"):
        transfer.read_folder(tmp_path / "missing")


def test_cli_import_export_reindex(cli_runner: FlaskCliRunner, db_session: Session, tmp_path: Path,
                                   editor: NewAgent) -> None:
    _write(tmp_path / "in", "collisions.md", ARTICLE)
    result = cli_runner.invoke(args=["kb", "import", str(tmp_path / "in")])
    assert result.exit_code == 0 and "1 created, 0 updated, 0 unchanged" in result.output, result.output
    result = cli_runner.invoke(args=["kb", "import", str(tmp_path / "in"), "--as", editor.agent.email])
    assert result.exit_code == 0 and "0 created, 0 updated, 1 unchanged" in result.output, result.output
    result = cli_runner.invoke(args=["kb", "export", str(tmp_path / "out")])
    assert result.exit_code == 0 and "Exported 1 article to" in result.output
    assert "slug: collisions-what-to-do" in (tmp_path / "out" / "collisions-what-to-do.md").read_text()
    result = cli_runner.invoke(args=["kb", "reindex"])
    assert result.exit_code == 0 and "Indexed 1 published article." in result.output

    _write(tmp_path / "bad", "x.md", "nothing")
    result = cli_runner.invoke(args=["kb", "import", str(tmp_path / "bad")])
    assert result.exit_code == 1 and "x.md: must start with YAML front matter" in result.output
    result = cli_runner.invoke(args=["kb", "import", str(tmp_path / "in"), "--as", "nobody@kb.test"])
    assert result.exit_code == 1 and "no agent with email" in result.output
