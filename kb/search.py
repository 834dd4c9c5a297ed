"""Full-text search over published articles: one interface, two engines, chosen by the dialect.

- SQLite: the FTS5 table ``kb_search`` (porter stemming, prefix indexes, bm25 with title hits
  weighted 10 and label hits 5 against 1 for the body; ``snippet`` for highlights), and
  ``kb_search_titles``, the titles and labels alone.
- PostgreSQL: the table ``kb_search`` with two stored, GIN-indexed tsvectors: ``document`` (title
  A, labels B, body C) and ``title_document`` (title A, labels B); ``ts_rank``, ``ts_headline``.

Both are made by migration 0002, with ``kb_search_words``: every distinct word of the indexed
articles and how many articles use it. Only published articles are ever in the index (the
service calls ``sync_article`` after every change), so a draft cannot be found.

User input never reaches either query language as written: it is cut into words of letters and
digits, common words ("the", "not") are dropped, and the engine's query is built from the words
alone, each one quoted. Every word must match (AND); when that finds nothing, any word may (OR).
The word still being typed (the last, with no space or punctuation after it) also matches the
commonest longer words it begins (from ``kb_search_words``), and a fragment of four letters or
more that is no word matches as a prefix: the index holds stems ("collis" for "collision"), so a
plain prefix typed past the stem ("collisi") would find nothing.

Results come in tiers: articles with every word in the title, then those with every word in the
labels, then the rest; promoted articles are boosted within a tier. Two bounds keep a word that
every article contains ("booking") from making each search rank every article:

- a title or labels tier of at most ``whole_rank_tier`` articles (500; 100 on PostgreSQL, whose
  ts_rank costs more) is ranked as whole articles, bodies included; a bigger one by its titles and
  labels alone, on their own small index, which also serves the suggestions;
- the rest is ranked among its newest ``rank_window`` matches (1,000; 200 on PostgreSQL), and
  listed newest first after those.

Totals are counted up to ``MAX_TOTAL`` (1,000): nobody pages further.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from kb.models import Article
from kb.render import MARK_END, MARK_START, highlighted, html_to_text

MAX_QUERY_CHARS = 1_000  # the rest of a longer query is ignored
MAX_WORDS = 12
MAX_WORD_CHARS = 40
MIN_PREFIX_CHARS = 2  # a one-letter prefix would match half the index
RAW_PREFIX_CHARS = 4  # shorter fragments are completed from the word list only
MIN_VOCABULARY_CHARS = 3
COMPLETIONS = 8  # complete words tried for the word being typed
SNIPPET_WORDS = 24
PROMOTED_BOOST = 1.25  # a promoted article ranks as if it matched a quarter better
MAX_TOTAL = 1_000  # totals are counted up to here ("1,000+"): no one pages further
TOP_SLACK = 20  # a promoted article may rise this many places above its bm25 rank

_WORD = re.compile(r"[^\W_]+")
STOP_WORDS = frozenset(
    "a about after all also am an and any are as at be been but by can could did do does doing for from "
    "had has have he her him his how i if in into is it its me my no nor not of on or our out she so "
    "some than that the their them then there these they this to too us was we were what when where "
    "which who why will with would you your".split()
)


@dataclass(frozen=True)
class Alternative:
    word: str
    prefix: bool = False


@dataclass(frozen=True)
class Query:
    """A user's query as words: each group must match, by any one of its alternatives.
    ``typing`` is the last word when it is still being typed (its group is the last one)."""

    groups: tuple[tuple[Alternative, ...], ...]
    typing: str | None = None

    def __bool__(self) -> bool:
        return bool(self.groups)


def words_of(raw: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", raw).lower())


def parse(raw: str, as_you_type: bool = True) -> Query:
    """Words of letters and digits only; quotes, operators, brackets and emoji are dropped, and so
    are common words ("the", "in", "not"). With ``as_you_type``, a last word not yet followed by a
    space or punctuation is still being typed (``complete`` decides what it may match)."""
    raw = unicodedata.normalize("NFKC", raw or "")[:MAX_QUERY_CHARS].lower()
    found = _WORD.findall(raw)
    if not found:
        return Query(())
    typing: str | None = None
    if as_you_type and raw.endswith(found[-1]) and len(found[-1]) >= MIN_PREFIX_CHARS:
        typing = found.pop()[:MAX_WORD_CHARS]
    words = [w for w in dict.fromkeys(w[:MAX_WORD_CHARS] for w in found) if w not in STOP_WORDS and w != typing]
    if typing in STOP_WORDS and words:
        typing = None  # a common word typed after others adds nothing (yet)
    words = words[:MAX_WORDS - (1 if typing else 0)]
    groups = [(Alternative(word),) for word in words]
    if typing:
        groups.append((Alternative(typing, prefix=True),))
    return Query(tuple(groups), typing)


def complete(session: Session, query: Query) -> Query:
    """Decide what the word being typed matches: the word itself when it is a whole word, and the
    commonest indexed words that begin with it; a longer fragment that is no word also matches as
    a prefix; a common word alone ("the") matches only the uncommon words it begins."""
    if query.typing is None or not query.groups:
        return query
    word = query.typing
    found = session.scalars(  # the word itself first, if it is one; then the commonest longer ones
        text("SELECT word FROM kb_search_words WHERE word >= :word AND word < :upper AND articles > 0 "
             "ORDER BY word = :word DESC, articles DESC, word LIMIT :limit"),
        {"word": word, "upper": word[:-1] + chr(ord(word[-1]) + 1), "limit": COMPLETIONS * 2 + 1},
    ).all()
    known = bool(found) and found[0] == word
    completions = tuple(Alternative(w) for w in found if w != word and w not in STOP_WORDS)[:COMPLETIONS]
    if word in STOP_WORDS:
        alternatives = completions
    elif known or len(word) < RAW_PREFIX_CHARS:
        alternatives = (Alternative(word), *completions)
    else:
        alternatives = (Alternative(word, prefix=True), *completions)
    return replace(query, groups=query.groups[:-1] + ((alternatives,) if alternatives else ()))


@dataclass(frozen=True)
class Hit:
    article_id: int
    snippet_html: str  # escaped text with <mark> around the matched terms


@dataclass(frozen=True)
class Results:
    hits: list[Hit]
    total: int  # counted up to MAX_TOTAL

    @property
    def total_is_exact(self) -> bool:
        return self.total < MAX_TOTAL


Document = tuple[str, str, str, bool]  # title, labels, body text, promoted
TIERS = ("title", "labels")  # articles with every word in the title come first, then in the labels


class Engine(Protocol):
    """One full-text engine. Results come in three tiers: every word in the title; else every word
    in the labels; else the rest, by the engine's ranking among the newest ``rank_window`` of them
    (then newest first), so a word that is in every article costs a bounded amount of work. A tier
    of at most ``whole_rank_tier`` articles is ranked by the whole articles, a bigger one by their
    titles and labels."""

    rank_window: int
    whole_rank_tier: int

    def stored(self, session: Session, article_id: int) -> Document | None: ...

    def upsert(self, session: Session, article_id: int, document: Document) -> None: ...

    def delete(self, session: Session, article_id: int) -> None: ...

    def clear(self, session: Session) -> None: ...

    def count(self, session: Session, query: Query, any_group: bool, cap: int) -> int: ...

    def tier_count(self, session: Session, query: Query, tier: str, cap: int) -> int: ...

    def tier_ids(self, session: Session, query: Query, tier: str, limit: int, offset: int, whole: bool
                 ) -> list[int]: ...

    def rest_ids(self, session: Session, query: Query, any_group: bool, limit: int, offset: int,
                 ranked: bool) -> list[int]: ...

    def snippets(self, session: Session, query: Query, any_group: bool, ids: list[int]) -> dict[int, str]: ...

    def suggest(self, session: Session, query: Query, limit: int) -> list[int]: ...


def _ids(rows: Iterable[Any]) -> list[int]:
    return [int(row[0]) for row in rows]


class SQLiteEngine:
    """FTS5: ``MATCH`` with a query of quoted words; bm25 with the title weighted 10, the labels 5
    and the body 1 (``kb_search``), and titles and labels alone in ``kb_search_titles``."""

    rank_window = 1_000
    whole_rank_tier = 500
    BM25 = "bm25(kb_search, 10.0, 5.0, 1.0, 0.0)"
    # The best by bm25 first (reading "promoted" of every match would cost more than bm25 itself),
    # then the promoted boost among those.
    TITLES_RANKED = (
        "SELECT rowid FROM (SELECT rowid, bm25(kb_search_titles, 2.0, 1.0, 0.0) AS score FROM kb_search_titles "
        "WHERE kb_search_titles MATCH :q ORDER BY score LIMIT :top) AS best "
        f"ORDER BY score * (1.0 + {PROMOTED_BOOST - 1} * (SELECT promoted FROM kb_search_titles AS p "
        "WHERE p.rowid = best.rowid)), rowid LIMIT :limit OFFSET :offset"
    )

    @staticmethod
    def render(query: Query, any_group: bool) -> str:
        groups = [
            "(" + " OR ".join(f'"{alt.word}"' + ("*" if alt.prefix else "") for alt in group) + ")"
            for group in query.groups
        ]
        return (" OR " if any_group else " AND ").join(groups)

    @classmethod
    def render_in(cls, column: str, query: Query) -> str:
        return "{" + column + "} : (" + cls.render(query, any_group=False) + ")"

    @classmethod
    def tier_filter(cls, query: Query, tier: str) -> str:
        if tier == "title":
            return cls.render_in("title", query)
        return f"({cls.render_in('labels', query)}) NOT ({cls.render_in('title', query)})"

    @classmethod
    def tiers_filter(cls, query: Query) -> str:
        return f"({cls.render_in('title', query)}) OR ({cls.render_in('labels', query)})"

    def stored(self, session: Session, article_id: int) -> Document | None:
        row = session.execute(text("SELECT title, labels, body, promoted FROM kb_search WHERE rowid = :id"),
                              {"id": article_id}).first()
        return (row[0], row[1], row[2], bool(row[3])) if row else None

    def upsert(self, session: Session, article_id: int, document: Document) -> None:
        self.delete(session, article_id)
        row = _row(article_id, document)
        session.execute(text("INSERT INTO kb_search (rowid, title, labels, body, promoted) "
                             "VALUES (:id, :title, :labels, :body, :promoted)"), row)
        session.execute(text("INSERT INTO kb_search_titles (rowid, title, labels, promoted) "
                             "VALUES (:id, :title, :labels, :promoted)"), row)

    def delete(self, session: Session, article_id: int) -> None:
        session.execute(text("DELETE FROM kb_search WHERE rowid = :id"), {"id": article_id})
        session.execute(text("DELETE FROM kb_search_titles WHERE rowid = :id"), {"id": article_id})

    def clear(self, session: Session) -> None:
        session.execute(text("DELETE FROM kb_search"))
        session.execute(text("DELETE FROM kb_search_titles"))

    def count(self, session: Session, query: Query, any_group: bool, cap: int) -> int:
        return int(session.scalar(
            text("SELECT count(*) FROM (SELECT 1 FROM kb_search WHERE kb_search MATCH :q LIMIT :cap)"),
            {"q": self.render(query, any_group), "cap": cap}) or 0)

    def tier_count(self, session: Session, query: Query, tier: str, cap: int) -> int:
        return int(session.scalar(
            text("SELECT count(*) FROM (SELECT 1 FROM kb_search_titles WHERE kb_search_titles MATCH :q LIMIT :cap)"),
            {"q": self.tier_filter(query, tier), "cap": cap}) or 0)

    def tier_ids(self, session: Session, query: Query, tier: str, limit: int, offset: int, whole: bool
                 ) -> list[int]:
        params = {"q": self.tier_filter(query, tier), "limit": limit, "offset": offset}
        if whole:  # rank the tier's articles as whole articles (bodies included), in the big index
            params["every"] = self.render(query, any_group=False)
            # "rowid + 0": test membership row by row; as an index, FTS5 would restart per rowid.
            sql = ("SELECT rowid FROM kb_search WHERE kb_search MATCH :every AND rowid + 0 IN "
                   "(SELECT rowid FROM kb_search_titles WHERE kb_search_titles MATCH :q) "
                   f"ORDER BY {self.BM25} * (1.0 + {PROMOTED_BOOST - 1} * promoted), rowid "
                   "LIMIT :limit OFFSET :offset")
        else:
            sql, params["top"] = self.TITLES_RANKED, offset + limit + TOP_SLACK
        return _ids(session.execute(text(sql), params))

    def rest_ids(self, session: Session, query: Query, any_group: bool, limit: int, offset: int,
                 ranked: bool) -> list[int]:
        params = {"q": self.render(query, any_group), "tiers": self.tiers_filter(query), "limit": limit,
                  "offset": offset, "window": self.rank_window}
        # Leaving out the tiers' articles by rowid is cheaper than a NOT in the query (whose
        # phrases bm25 would score too).
        rest = ("FROM kb_search WHERE kb_search MATCH :q AND rowid + 0 NOT IN "
                "(SELECT rowid FROM kb_search_titles WHERE kb_search_titles MATCH :tiers) ORDER BY rowid DESC")
        if ranked:
            sql = (f"SELECT rowid FROM (SELECT rowid, {self.BM25} AS score {rest} LIMIT :window) "
                   "ORDER BY score, rowid DESC LIMIT :limit OFFSET :offset")
        else:
            sql = f"SELECT rowid {rest} LIMIT :limit OFFSET :offset"
        return _ids(session.execute(text(sql), params))

    def snippets(self, session: Session, query: Query, any_group: bool, ids: list[int]) -> dict[int, str]:
        rows = session.execute(
            # "rowid + 0": a filter on the match; as an index, FTS5 would restart the query per rowid.
            text("SELECT rowid, snippet(kb_search, 2, :start, :end, '…', :words) FROM kb_search "
                 "WHERE kb_search MATCH :q AND rowid + 0 IN :ids").bindparams(bindparam("ids", expanding=True)),
            {"q": self.render(query, any_group), "start": MARK_START, "end": MARK_END, "words": SNIPPET_WORDS,
             "ids": ids},
        )
        return {int(row[0]): str(row[1] or "") for row in rows}

    def suggest(self, session: Session, query: Query, limit: int) -> list[int]:
        return _ids(session.execute(text(self.TITLES_RANKED), {
            "q": self.render_in("title labels", query), "limit": limit, "offset": 0, "top": limit + TOP_SLACK}))


class PostgreSQLEngine:
    """A tsquery of quoted lexemes (``'word'``, ``'word':*``) against GIN-indexed tsvectors: the
    whole article (``document``: title A, labels B, body C) and its title and labels alone
    (``title_document``); ``ts_rank`` orders, ``ts_headline`` highlights."""

    rank_window = 200  # ts_rank reads each article's whole tsvector: about 30 µs an article
    whole_rank_tier = 100
    RANK_WEIGHTS = "{0.05, 0.2, 0.5, 1.0}"  # D, C (body), B (labels), A (title)
    BOOST = f"CASE WHEN promoted THEN {PROMOTED_BOOST} ELSE 1 END"
    HEADLINE = (
        f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords={SNIPPET_WORDS}, MinWords=12, "
        "MaxFragments=2, FragmentDelimiter=\" … \""
    )
    TIER_FILTERS = {
        "title": "title_document @@ to_tsquery('english', :in_title)",
        "labels": "title_document @@ to_tsquery('english', :in_labels) "
                  "AND NOT title_document @@ to_tsquery('english', :in_title)",
    }
    REST_FILTER = ("document @@ to_tsquery('english', :q) AND NOT title_document @@ to_tsquery('english', :in_title) "
                   "AND NOT title_document @@ to_tsquery('english', :in_labels)")

    @staticmethod
    def render(query: Query, any_group: bool, weights: str = "") -> str:
        """``weights`` ("A", "B") limits every word to those parts of the document."""
        def alternative(alt: Alternative) -> str:
            marks = ("*" if alt.prefix else "") + weights
            return f"'{alt.word}'" + (":" + marks if marks else "")

        groups = ["(" + " | ".join(alternative(alt) for alt in group) + ")" for group in query.groups]
        return (" | " if any_group else " & ").join(groups)

    def _params(self, query: Query, any_group: bool = False) -> dict[str, object]:
        return {"q": self.render(query, any_group), "every": self.render(query, False),
                "in_title": self.render(query, False, "A"), "in_labels": self.render(query, False, "B"),
                "weights": self.RANK_WEIGHTS}

    def stored(self, session: Session, article_id: int) -> Document | None:
        row = session.execute(text("SELECT title, labels, body, promoted FROM kb_search WHERE article_id = :id"),
                              {"id": article_id}).first()
        return (row[0], row[1], row[2], bool(row[3])) if row else None

    def upsert(self, session: Session, article_id: int, document: Document) -> None:
        session.execute(
            text(
                "INSERT INTO kb_search (article_id, title, labels, body, promoted) "
                "VALUES (:id, :title, :labels, :body, :promoted) "
                "ON CONFLICT (article_id) DO UPDATE SET title = excluded.title, labels = excluded.labels, "
                "body = excluded.body, promoted = excluded.promoted"
            ),
            _row(article_id, document),
        )

    def delete(self, session: Session, article_id: int) -> None:
        session.execute(text("DELETE FROM kb_search WHERE article_id = :id"), {"id": article_id})

    def clear(self, session: Session) -> None:
        session.execute(text("DELETE FROM kb_search"))

    def count(self, session: Session, query: Query, any_group: bool, cap: int) -> int:
        return int(session.scalar(
            text("SELECT count(*) FROM (SELECT 1 FROM kb_search WHERE document @@ to_tsquery('english', :q) "
                 "LIMIT :cap) AS found"),
            {"q": self.render(query, any_group), "cap": cap}) or 0)

    def tier_count(self, session: Session, query: Query, tier: str, cap: int) -> int:
        return int(session.scalar(
            text(f"SELECT count(*) FROM (SELECT 1 FROM kb_search WHERE {self.TIER_FILTERS[tier]} LIMIT :cap) AS found"),
            {**self._params(query), "cap": cap}) or 0)

    def tier_ids(self, session: Session, query: Query, tier: str, limit: int, offset: int, whole: bool
                 ) -> list[int]:
        vector = "document" if whole else "title_document"  # the whole article, or its title and labels
        rank = f"ts_rank(:weights, {vector}, to_tsquery('english', :every)) * {self.BOOST}"
        return _ids(session.execute(
            text(f"SELECT article_id FROM kb_search WHERE {self.TIER_FILTERS[tier]} "
                 f"ORDER BY {rank} DESC, article_id LIMIT :limit OFFSET :offset"),
            {**self._params(query), "limit": limit, "offset": offset},
        ))

    def rest_ids(self, session: Session, query: Query, any_group: bool, limit: int, offset: int,
                 ranked: bool) -> list[int]:
        params = {**self._params(query, any_group), "limit": limit, "offset": offset, "window": self.rank_window}
        if ranked:
            sql = ("SELECT article_id FROM (SELECT article_id, document FROM kb_search WHERE " + self.REST_FILTER +
                   " ORDER BY article_id DESC LIMIT :window) AS newest "
                   "ORDER BY ts_rank(:weights, document, to_tsquery('english', :q)) DESC, article_id DESC "
                   "LIMIT :limit OFFSET :offset")
        else:
            sql = ("SELECT article_id FROM kb_search WHERE " + self.REST_FILTER +
                   " ORDER BY article_id DESC LIMIT :limit OFFSET :offset")
        return _ids(session.execute(text(sql), params))

    def snippets(self, session: Session, query: Query, any_group: bool, ids: list[int]) -> dict[int, str]:
        rows = session.execute(
            text("SELECT article_id, ts_headline('english', body, to_tsquery('english', :q), :headline) "
                 "FROM kb_search WHERE article_id IN :ids").bindparams(bindparam("ids", expanding=True)),
            {"q": self.render(query, any_group), "headline": self.HEADLINE, "ids": ids},
        )
        return {int(row[0]): str(row[1] or "") for row in rows}

    def suggest(self, session: Session, query: Query, limit: int) -> list[int]:
        return _ids(session.execute(
            text("SELECT article_id FROM kb_search WHERE title_document @@ to_tsquery('english', :in_title_or_labels) "
                 f"ORDER BY ts_rank(:weights, title_document, to_tsquery('english', :every)) * {self.BOOST} DESC, "
                 "article_id LIMIT :limit"),
            {**self._params(query), "in_title_or_labels": self.render(query, False, "AB"), "limit": limit},
        ))


def _row(article_id: int, document: Document) -> dict[str, object]:
    title, labels, body, promoted = document
    return {"id": article_id, "title": title, "labels": labels, "body": body, "promoted": promoted}


_ENGINES: dict[str, Engine] = {"sqlite": SQLiteEngine(), "postgresql": PostgreSQLEngine()}


def engine_for(session: Session) -> Engine:
    dialect = session.get_bind().dialect.name
    try:
        return _ENGINES[dialect]
    except KeyError:
        raise RuntimeError(f"knowledge base search supports SQLite and PostgreSQL, not {dialect}") from None


# --- reading -----------------------------------------------------------------------------------


def search(session: Session, raw: str, limit: int = 10, offset: int = 0) -> Results:
    """Published articles matching ``raw``, best first, with highlighted snippets, and the total."""
    query = complete(session, parse(raw))
    if not query:
        return Results([], 0)
    engine = engine_for(session)
    for any_group in (False, True) if len(query.groups) > 1 else (False,):
        total = engine.count(session, query, any_group, MAX_TOTAL)
        if total:
            ids = _page(session, engine, query, any_group, limit, offset) if offset < total else []
            snippets = engine.snippets(session, query, any_group, ids) if ids else {}
            return Results([Hit(i, highlighted(snippets.get(i, ""))) for i in ids], total)
    return Results([], 0)


def _page(session: Session, engine: Engine, query: Query, any_group: bool, limit: int, offset: int) -> list[int]:
    """Rows ``offset`` to ``offset + limit`` of: the title tier, the labels tier, then the rest
    (ranked within the newest ``engine.rank_window``, newest first after that)."""
    ids: list[int] = []
    window, whole_rank_tier = engine.rank_window, engine.whole_rank_tier
    cap = max(offset + limit, whole_rank_tier) + 1  # enough to know where the page falls
    for tier in TIERS:
        size = engine.tier_count(session, query, tier, cap)
        if offset >= size:
            offset -= size
            continue
        ids += engine.tier_ids(session, query, tier, limit - len(ids), offset, whole=size <= whole_rank_tier)
        offset = 0
        if len(ids) == limit:
            return ids
    wanted = limit - len(ids)
    if offset < window:
        ranked = engine.rest_ids(session, query, any_group, min(wanted, window - offset), offset, ranked=True)
        ids += ranked
        wanted -= len(ranked)
        offset += len(ranked)
    if wanted > 0 and offset >= window:
        ids += engine.rest_ids(session, query, any_group, wanted, offset, ranked=False)
    return ids


def suggest(session: Session, raw: str, limit: int = 6) -> list[int]:
    """Article ids whose title or labels match what has been typed so far, best first."""
    query = complete(session, parse(raw))
    return engine_for(session).suggest(session, query, limit) if query else []


# --- keeping the index ------------------------------------------------------------------------


def document(article: Article) -> Document:
    """What the index holds for an article: title, labels, and the body as plain text."""
    return article.title, " ".join(article.labels), html_to_text(article.body_html), article.promoted


def _vocabulary(doc: Document | None) -> set[str]:
    if doc is None:
        return set()
    return {w[:MAX_WORD_CHARS] for w in words_of(" ".join(doc[:3])) if len(w) >= MIN_VOCABULARY_CHARS}


def _count_words(session: Session, words: Iterable[str], step: int) -> None:
    params = [{"word": word, "step": step} for word in sorted(words)]
    if not params:
        return
    session.execute(
        text("INSERT INTO kb_search_words (word, articles) VALUES (:word, :step) "
             "ON CONFLICT (word) DO UPDATE SET articles = kb_search_words.articles + excluded.articles"),
        params,
    )
    if step < 0:
        session.execute(text("DELETE FROM kb_search_words WHERE word = :word AND articles <= 0"), params)


def sync_article(session: Session, article: Article) -> None:
    """Put a published article in the index (or refresh it); take anything else out."""
    engine = engine_for(session)
    old = engine.stored(session, article.id)
    new = document(article) if article.status == "published" else None
    if new is not None:
        engine.upsert(session, article.id, new)
    elif old is not None:
        engine.delete(session, article.id)
    old_words, new_words = _vocabulary(old), _vocabulary(new)
    _count_words(session, new_words - old_words, +1)
    _count_words(session, old_words - new_words, -1)


def rebuild(session: Session, batch: int = 500) -> int:
    """Empty the index and fill it again from the published articles; returns how many."""
    engine = engine_for(session)
    engine.clear(session)
    session.execute(text("DELETE FROM kb_search_words"))
    counts: Counter[str] = Counter()
    indexed = 0
    for chunk in _published_in_chunks(session, batch):
        for article in chunk:
            doc = document(article)
            engine.upsert(session, article.id, doc)
            counts.update(_vocabulary(doc))
            indexed += 1
    if counts:
        session.execute(text("INSERT INTO kb_search_words (word, articles) VALUES (:word, :articles)"),
                        [{"word": word, "articles": n} for word, n in sorted(counts.items())])
    return indexed


def _published_in_chunks(session: Session, batch: int) -> Iterable[Sequence[Article]]:
    last_id = 0
    while True:
        chunk = session.scalars(
            select(Article).where(Article.status == "published", Article.id > last_id).order_by(Article.id).limit(batch)
        ).all()
        if not chunk:
            return
        yield chunk
        last_id = chunk[-1].id
