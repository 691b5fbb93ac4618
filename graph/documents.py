"""Parsing a GraphQL document once per request, within limits, through a cache bounded by size and count.

The HTTP edge needs the document before execution (to count its operations, and afterwards to name the
root fields a denial concerns) and the schema needs it to execute: both ask :data:`DOCUMENTS`, so a
request's text is parsed at most once, and a repeated text not at all. The limits apply while reading: a
text over ``max_chars`` is refused before it is lexed, lexing stops at the ``max_tokens``-th token (or
comment), and the directives and repeated fields are counted before it is validated (a refusal is cached
like a syntax error). Graphql-core's parser is linear in the tokens it reads, so a refusal costs at most
``max_tokens`` tokens of work whatever the size of the text.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from threading import Lock

from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSyntaxError,
    SelectionSetNode,
    Visitor,
    parse,
    visit,
)

from common.settings import Settings


@dataclass(frozen=True)
class DocumentLimits:
    """What a document may hold before it is refused (a request error: nothing runs)."""

    max_chars: int
    max_tokens: int
    max_directives: int

    @classmethod
    def of(cls, settings: Settings) -> DocumentLimits:
        return cls(settings.max_query_chars, settings.max_tokens, settings.max_directives)


MAX_REPEATS = 3
"""How often one response key may be selected in one selection set. Repeats are legal GraphQL and merge
into one result, but the validation rule that checks they can merge compares every pair: 500 repeats of
``__typename`` are 125,000 comparisons (graphql-cop's field duplication check)."""


class _Census(Visitor):
    """One walk of the parsed document: its directives, and the most repeated response key of any
    selection set."""

    def __init__(self) -> None:
        super().__init__()
        self.directives = 0
        self.repeats: tuple[int, str] = (0, "")

    def enter_directive(self, node: DirectiveNode, *_: object) -> None:
        self.directives += 1

    def enter_selection_set(self, node: SelectionSetNode, *_: object) -> None:
        keys = Counter((s.alias or s.name).value for s in node.selections if isinstance(s, FieldNode))
        if keys:
            key, count = keys.most_common(1)[0]
            self.repeats = max(self.repeats, (count, key))


LIMIT_CODES = frozenset({"QUERY_TOO_LARGE", "TOO_MANY_DIRECTIVES", "TOO_MANY_REPEATS"})
"""The codes of a document refused for a limit rather than for its syntax: the edge answers these itself."""


def _parse(query: str, limits: DocumentLimits) -> DocumentNode:
    if len(query) > limits.max_chars:
        raise GraphQLError(
            f"The document is {len(query)} characters long; the limit is {limits.max_chars}.",
            extensions={"code": "QUERY_TOO_LARGE"},
        )
    try:
        document = parse(query, max_lexical_tokens=limits.max_tokens, max_comments=limits.max_tokens)
    except GraphQLSyntaxError as error:
        if not error.message.endswith("Parsing aborted."):
            raise
        raise GraphQLError(
            f"The document has more than {limits.max_tokens} tokens (or comments); that is the limit.",
            extensions={"code": "QUERY_TOO_LARGE"},
        ) from None
    census = _Census()
    visit(document, census)
    if census.directives > limits.max_directives:
        raise GraphQLError(
            f"The document uses {census.directives} directives; the limit is {limits.max_directives}.",
            extensions={"code": "TOO_MANY_DIRECTIVES"},
        )
    count, key = census.repeats
    if count > MAX_REPEATS:
        raise GraphQLError(
            f"The document selects '{key}' {count} times in one selection set; the limit is {MAX_REPEATS}.",
            extensions={"code": "TOO_MANY_REPEATS"},
        )
    return document


_Key = tuple[str, DocumentLimits]


@dataclass
class _Entry:
    outcome: DocumentNode | GraphQLError
    validations: dict[Hashable, list[GraphQLError]] = field(default_factory=dict)
    """Validation errors of the document per schema and rule set."""


class DocumentCache:
    """Parsed documents (and the refusals of texts that do not parse) by text and limits, with each
    document's validation results: one bound covers both.

    Bounded by count and by the total length of the texts it holds, least recently used first out: an
    attacker sending many large distinct texts evicts entries instead of growing memory. A parsed
    document with its locations takes about a hundred times its text's length, so the length budget is
    the memory budget divided by that. A text longer than ``max_chars`` / 8 is parsed but never cached
    (one such text would push out many ordinary ones). Thread-safe; parsing and validating happen
    outside the lock.
    """

    def __init__(self, *, max_entries: int, max_chars: int) -> None:
        self.max_entries, self.max_chars = max_entries, max_chars
        self._entries: OrderedDict[_Key, _Entry] = OrderedDict()
        self._chars = 0
        self._lock = Lock()

    def parse(self, query: str, limits: DocumentLimits) -> DocumentNode:
        """The document of ``query``; raises the :class:`GraphQLError` of a syntax error or a limit."""
        key = (query, limits)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        outcome = entry.outcome if entry is not None else None
        if outcome is None:
            try:
                outcome = _parse(query, limits)
            except GraphQLError as error:
                outcome = error
            self._store(key, outcome)
        if isinstance(outcome, GraphQLError):
            # A fresh error each time: re-raising the cached one would grow its traceback at every raise.
            raise GraphQLError(
                outcome.message,
                source=outcome.source,
                positions=outcome.positions,
                extensions=outcome.extensions,
            )
        return outcome

    def validate(
        self, query: str, limits: DocumentLimits, rules: Hashable, run: Callable[[], list[GraphQLError]]
    ) -> list[GraphQLError]:
        """The errors ``run`` finds validating the document of ``query`` against ``rules`` (the schema
        and its rule set), run once while the document is cached."""
        with self._lock:
            entry = self._entries.get((query, limits))
            errors = entry.validations.get(rules) if entry is not None else None
        if errors is None:
            errors = run()
            if entry is not None:
                with self._lock:
                    entry.validations[rules] = errors
        return errors

    def valid_document(self, query: str, limits: DocumentLimits, rules: Hashable) -> DocumentNode | None:
        """The document of ``query`` if it is cached, parsed and found valid against ``rules`` with no
        error; else None (not cached, not parsed, not validated against these rules yet, or invalid)."""
        with self._lock:
            entry = self._entries.get((query, limits))
            if entry is None or entry.validations.get(rules) != []:
                return None
            self._entries.move_to_end((query, limits))
        return entry.outcome if isinstance(entry.outcome, DocumentNode) else None

    def _store(self, key: _Key, outcome: DocumentNode | GraphQLError) -> None:
        size = len(key[0])
        if size > self.max_chars // 8:
            return
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = _Entry(outcome)
            self._chars += size
            while len(self._entries) > self.max_entries or self._chars > self.max_chars:
                (query, _), _ = self._entries.popitem(last=False)
                self._chars -= len(query)

    @property
    def chars(self) -> int:
        """The total length of the cached texts (what the size bound applies to)."""
        return self._chars

    def __len__(self) -> int:
        return len(self._entries)


DOCUMENTS = DocumentCache(max_entries=512, max_chars=250_000)
"""The process's document cache, shared by the edge and every schema."""


def parse_document(query: str, limits: DocumentLimits) -> DocumentNode:
    """``query`` parsed within ``limits`` through :data:`DOCUMENTS` (see :meth:`DocumentCache.parse`)."""
    return DOCUMENTS.parse(query, limits)
