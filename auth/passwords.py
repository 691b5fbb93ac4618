"""Password rules after NIST SP 800-63B-4, and argon2id password hashing.

The policy follows NIST SP 800-63B-4 section 3.1.1.2: a minimum length, a
generous maximum, every Unicode character allowed (spaces included), no
composition rules ("one upper case letter, one digit, ...") and a check
against a blocklist of common, context-specific and repetitive passwords.

Passwords are NFKC-normalised (see `normalise`) both before the policy checks
and before hashing, so the same characters typed on different keyboards or
input methods give the same hash.

This module is pure: no database, no network, no global mutable state other
than the cached blocklist.
"""

from __future__ import annotations

import functools
import re
import secrets
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import argon2
from argon2.exceptions import VerificationError

__all__ = [
    "MAX_LENGTH",
    "MIN_LENGTH",
    "PasswordHasher",
    "PasswordProblem",
    "check_password_policy",
    "normalise",
]

MIN_LENGTH = 15
"""Minimum length in code points: NIST SP 800-63B-4 3.1.1.2, password as the single factor."""

MAX_LENGTH = 256
"""Maximum length in code points; NIST asks for at least 64, the cap bounds hashing work."""

_BLOCKLIST_PATH = Path(__file__).resolve().parent / "data" / "common-passwords.txt"

# Shorter units repeated ("abcabcabc...") are too easy to hit by accident with
# real words; "passwordpassword" and "qwertyqwerty" are what attackers try.
_MIN_REPEATED_ENTRY_LENGTH = 4
_MIN_CONTEXT_WORD_LENGTH = 4
_MIN_SEQUENCE_RUN = 8

# Always treated as context words, whatever the caller passes.
_SERVICE_WORDS: tuple[str, ...] = ("schoolgraph",)

_ALPHANUMERIC_RUN = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class PasswordProblem:
    """One rule a candidate password breaks.

    `code` is one of TOO_SHORT, TOO_LONG, COMMON_PASSWORD, CONTAINS_CONTEXT,
    REPETITIVE (stable, for clients to switch on); `message` is an English
    sentence fragment naming the rule, meant to follow "The password ...".
    """

    code: str
    message: str


def normalise(password: str) -> str:
    """Return `password` in Unicode NFKC form.

    Nothing else changes: no stripping, no case folding, no truncation;
    spaces are kept as typed.
    """
    return unicodedata.normalize("NFKC", password)


@functools.cache
def _blocklist() -> frozenset[str]:
    """Load the shipped blocklist once: lowercase entries, '#' lines skipped."""
    text = _BLOCKLIST_PATH.read_text(encoding="utf-8")
    return frozenset(
        entry
        for entry in (line.strip().lower() for line in text.splitlines())
        if entry and not entry.startswith("#")
    )


@functools.cache
def _longest_blocklisted() -> int:
    return max((len(entry) for entry in _blocklist()), default=0)


_PADDING = "0123456789!@#$%^&*()-_=+.,;:?~ "


def _is_repetition_of_common(candidate: str) -> bool:
    """True when `candidate` is two or more copies of one blocklisted entry."""
    length = len(candidate)
    blocklist = _blocklist()
    longest_unit = min(_longest_blocklisted(), length // 2)
    for size in range(_MIN_REPEATED_ENTRY_LENGTH, longest_unit + 1):
        if length % size:
            continue
        unit = candidate[:size]
        if unit in blocklist and unit * (length // size) == candidate:
            return True
    return False


def _is_padded_common(candidate: str) -> bool:
    """True when `candidate` is a blocklisted entry of at least 8 characters padded only with digits and
    symbols ("Password1234567!", "!!qwertyuiop2024"): the padding adds little an attacker would not try."""
    core = candidate.strip(_PADDING)
    return len(core) >= 8 and core != candidate and core in _blocklist()


def _is_common(password: str) -> bool:
    lowered = password.lower()
    compact = "".join(lowered.split())
    blocklist = _blocklist()
    return any(
        candidate in blocklist or _is_repetition_of_common(candidate) or _is_padded_common(candidate)
        for candidate in (lowered, compact)
    )


def _context_terms(context_words: Sequence[str]) -> list[str]:
    """Context words, and their alphanumeric parts, that are long enough to check.

    A school name such as "St Oakwood Academy" contributes the whole name and
    "oakwood" and "academy"; an email contributes its parts too.
    """
    terms: list[str] = []
    for word in (*context_words, *_SERVICE_WORDS):
        folded = normalise(word).strip().casefold()
        for term in (folded, *_ALPHANUMERIC_RUN.findall(folded)):
            if len(term) >= _MIN_CONTEXT_WORD_LENGTH and term not in terms:
                terms.append(term)
    return terms


def _sequence_coverage(text: str) -> int:
    """Number of characters of `text` inside runs of >= 8 consecutive code points.

    A run steps by +1 ("abcdefgh", "12345678") or by -1 ("87654321") all the
    way through. Coverage is counted once per character, so a run going up
    and then back down ("abcdefghgfedcba") is not double counted.
    """
    covered = [False] * len(text)
    start = 0
    step = 0
    for index in range(1, len(text) + 1):
        diff = ord(text[index]) - ord(text[index - 1]) if index < len(text) else 0
        is_step = diff in (-1, 1)
        if is_step and (index - start == 1 or diff == step):
            step = diff
            continue
        if index - start >= _MIN_SEQUENCE_RUN:
            covered[start:index] = [True] * (index - start)
        # A change of direction shares its turning character with the new run.
        start = index - 1 if is_step else index
        step = diff
    return sum(covered)


def _repetitive_message(password: str) -> str | None:
    lowered = password.lower()
    if not lowered:
        return None
    character, count = Counter(lowered).most_common(1)[0]
    if count * 2 > len(lowered):
        return f"must not be mostly one repeated character ({character!r} is {count} of {len(lowered)})"
    for size in range(2, 5):
        unit = lowered[:size]
        if len(lowered) % size == 0 and unit * (len(lowered) // size) == lowered:
            return f"must not be one short pattern repeated ({unit!r})"
    if _sequence_coverage(lowered) * 2 > len(lowered):
        return 'must not be mostly a sequence of consecutive characters such as "abcdefgh" or "12345678"'
    return None


def _length_problems(length: int, min_length: int) -> list[PasswordProblem]:
    """TOO_SHORT and TOO_LONG, as they apply to a normalised password of ``length`` code points."""
    problems: list[PasswordProblem] = []
    if length < min_length:
        problems.append(
            PasswordProblem("TOO_SHORT", f"must be at least {min_length} characters long (it has {length})")
        )
    if length > MAX_LENGTH:
        problems.append(
            PasswordProblem("TOO_LONG", f"must be at most {MAX_LENGTH} characters long (it has {length})")
        )
    return problems


def _context_message(normalised: str, context_words: Sequence[str]) -> str | None:
    """The CONTAINS_CONTEXT message naming the context terms found in the password, or None."""
    folded = normalised.casefold()
    found = [term for term in _context_terms(context_words) if term in folded]
    if not found:
        return None
    quoted = ", ".join(f'"{term}"' for term in found)
    return f"must not contain words linked to you, your school or this service ({quoted})"


def check_password_policy(
    password: str,
    *,
    context_words: Sequence[str] = (),
    min_length: int = MIN_LENGTH,
) -> list[PasswordProblem]:
    """Return the rules `password` breaks, or [] when it is acceptable.

    The password is normalised first (`normalise`); lengths are counted in
    code points of the normalised form. At most one problem is returned per
    code, in this order:

    - TOO_SHORT: fewer than `min_length` characters.
    - TOO_LONG: more than MAX_LENGTH characters.
    - COMMON_PASSWORD: the lowercased password, or the lowercased password
      with all whitespace removed, is in the blocklist, or consists only of
      two or more copies of one blocklisted entry of at least 4 characters
      ("passwordpassword"), or is a blocklisted entry of at least 8 characters
      padded only with digits and symbols ("Password1234567!").
    - CONTAINS_CONTEXT: a context word (username, email, school name, ...) of
      at least 4 characters, or an alphanumeric part of one of at least 4
      characters, appears in it case-insensitively. "schoolgraph" is always a
      context word.
    - REPETITIVE: one character makes up more than half of it, or runs of at
      least 8 consecutive characters ("abcdefgh", "12345678", "87654321")
      cover more than half of it, or it is one pattern of 2 to 4 characters
      repeated ("abababababababab").

    There are no composition rules. Policy problems never raise; only a
    `min_length` outside 1..MAX_LENGTH (a programming error) raises ValueError.
    """
    if not 1 <= min_length <= MAX_LENGTH:
        raise ValueError(f"min_length must be between 1 and {MAX_LENGTH}, got {min_length}")

    normalised = normalise(password)
    problems = _length_problems(len(normalised), min_length)
    if _is_common(normalised):
        problems.append(
            PasswordProblem("COMMON_PASSWORD", "must not be a commonly used password, or a repetition of one")
        )
    context = _context_message(normalised, context_words)
    if context is not None:
        problems.append(PasswordProblem("CONTAINS_CONTEXT", context))
    repetitive = _repetitive_message(normalised)
    if repetitive is not None:
        problems.append(PasswordProblem("REPETITIVE", repetitive))

    return problems


class PasswordHasher:
    """argon2id password hashing (argon2-cffi) over normalised passwords.

    The defaults are RFC 9106's second recommended option: t=3 iterations,
    p=4 lanes, 64 MiB of memory, a 128-bit salt and a 256-bit tag. Instances
    are safe to share between threads.
    """

    def __init__(self, *, time_cost: int = 3, memory_cost_kib: int = 65536, parallelism: int = 4) -> None:
        """Build a hasher; argon2-cffi rejects impossible parameters when hashing."""
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost_kib,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=argon2.Type.ID,
        )
        self._dummy_hash: str | None = None

    def hash(self, password: str) -> str:
        """Return the encoded argon2id hash ("$argon2id$v=19$...") of normalise(password).

        Raises ValueError (UnicodeEncodeError) if the password cannot be
        encoded as UTF-8, i.e. it contains lone surrogates.
        """
        return self._hasher.hash(normalise(password))

    def verify(self, encoded: str, password: str) -> bool:
        """Return whether normalise(password) matches the stored hash `encoded`.

        Returns False, never raises, on a mismatch, a malformed or unsupported
        hash, or a password that could never have been hashed (lone
        surrogates). Hashes of other Argon2 variants (argon2i, argon2d) are
        verified too; `needs_rehash` reports them.
        """
        try:
            return self._hasher.verify(encoded, normalise(password))
        # InvalidHashError and UnicodeEncodeError are both ValueErrors.
        except (VerificationError, ValueError):
            return False

    def needs_rehash(self, encoded: str) -> bool:
        """Return True when `encoded` was not made with exactly this hasher's parameters.

        Compared: variant, version, time cost, memory cost, parallelism, salt
        and hash lengths. A malformed hash also returns True.
        """
        try:
            return self._hasher.check_needs_rehash(encoded)
        except ValueError:
            return True

    def verify_dummy(self, password: str) -> None:
        """Spend as long as `verify` would, then return None.

        Call it when the username is unknown, so that the response time does
        not reveal which usernames exist. The dummy hash is built with this
        hasher's parameters on first use and reused afterwards; its secret is
        random, so no password can match it.
        """
        if self._dummy_hash is None:
            # Two threads racing here each build a valid dummy; either is fine.
            self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(32))
        self.verify(self._dummy_hash, password)
