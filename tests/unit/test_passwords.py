"""Unit tests for auth.passwords: the NIST-style policy and argon2id hashing."""

from __future__ import annotations

import string
from collections.abc import Callable

import argon2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auth.passwords import (
    MAX_LENGTH,
    MIN_LENGTH,
    PasswordHasher,
    PasswordProblem,
    check_password_policy,
    normalise,
)

ALL_CODES = {"TOO_SHORT", "TOO_LONG", "COMMON_PASSWORD", "CONTAINS_CONTEXT", "REPETITIVE"}

# Far below production cost so the whole file runs in well under a second of hashing.
FAST = {"time_cost": 1, "memory_cost_kib": 8192, "parallelism": 1}

GOOD_PASSPHRASE = "correct horse battery staple"

IDEOGRAPHIC_SPACE = "\u3000"


def fullwidth(text: str) -> str:
    """Map printable ASCII letters and digits to their full-width forms (U+FF01..U+FF5E)."""
    return "".join(chr(ord(character) + 0xFEE0) if character.isalnum() else character for character in text)


def codes(problems: list[PasswordProblem]) -> list[str]:
    return [problem.code for problem in problems]


def only(problems: list[PasswordProblem], code: str) -> PasswordProblem:
    matching = [problem for problem in problems if problem.code == code]
    assert len(matching) == 1, problems
    return matching[0]


@pytest.fixture
def hasher() -> PasswordHasher:
    return PasswordHasher(**FAST)


# --- policy -----------------------------------------------------------------


def test_constants() -> None:
    assert MIN_LENGTH == 15
    assert MAX_LENGTH == 256


@pytest.mark.parametrize(
    "password", [GOOD_PASSPHRASE, "tulip lantern quarry mosaic", "Ünïcödé is fine, ça va? 🎉🎉"]
)
def test_good_passphrase_passes(password: str) -> None:
    assert check_password_policy(password) == []


def test_too_short_names_the_rule_and_the_length() -> None:
    problem = only(check_password_policy("tulip-garden"), "TOO_SHORT")
    assert problem.message == "must be at least 15 characters long (it has 12)"


def test_min_length_can_be_lowered_for_multi_factor_use() -> None:
    assert check_password_policy("tulip-garden", min_length=8) == []


@pytest.mark.parametrize("min_length", [0, -1, MAX_LENGTH + 1])
def test_impossible_min_length_is_a_programming_error(min_length: int) -> None:
    with pytest.raises(ValueError, match="min_length"):
        check_password_policy(GOOD_PASSPHRASE, min_length=min_length)


def test_too_long() -> None:
    password = (GOOD_PASSPHRASE + " ") * 10
    problems = check_password_policy(password)
    assert codes(problems) == ["TOO_LONG"]
    assert problems[0].message == f"must be at most 256 characters long (it has {len(password)})"


def test_exactly_max_length_is_fine() -> None:
    password = ((GOOD_PASSPHRASE + " ") * 10)[:MAX_LENGTH]
    assert check_password_policy(password) == []


def test_spaces_are_allowed_and_counted() -> None:
    assert check_password_policy("   tulip garden   ") == []


@pytest.mark.parametrize(
    "password",
    [
        "1qaz2wsx3edc4rfv",  # blocklisted as is
        "1QAZ2wsx3EDC4rfv",  # case does not matter
        "1qaz 2wsx 3edc 4rfv",  # nor whitespace
        "passwordpassword",  # repetition of a blocklisted entry
        "Sunshine Sunshine Sunshine",  # repetition, with spaces and capitals
    ],
)
def test_common_password(password: str) -> None:
    problem = only(check_password_policy(password), "COMMON_PASSWORD")
    assert "commonly used password" in problem.message


def test_common_short_password_with_lower_minimum() -> None:
    assert codes(check_password_policy("Password", min_length=8)) == ["COMMON_PASSWORD"]


def test_repetition_needs_whole_copies_of_an_entry() -> None:
    assert check_password_policy("passwordpasswordx") == []


def test_blocklist_file_header_is_not_an_entry() -> None:
    header = "# Source: zxcvbn frequency list"
    assert "COMMON_PASSWORD" not in codes(check_password_policy(header))


def test_contains_username() -> None:
    problems = check_password_policy("jsmith likes purple tea", context_words=["JSmith"])
    assert '"jsmith"' in only(problems, "CONTAINS_CONTEXT").message


def test_contains_part_of_school_name() -> None:
    problems = check_password_policy("OAKWOOD tigers roar loudly", context_words=["St Oakwood Academy"])
    assert '"oakwood"' in only(problems, "CONTAINS_CONTEXT").message


def test_contains_service_name_without_being_told() -> None:
    problems = check_password_policy("my SchoolGraph login is great")
    assert '"schoolgraph"' in only(problems, "CONTAINS_CONTEXT").message


def test_short_context_words_are_ignored() -> None:
    assert check_password_policy("bob and amy went to town", context_words=["Bob", "amy"]) == []


@pytest.mark.parametrize(
    "password",
    [
        "aaaaaaaaaaxyz1234",  # one character is more than half
        "abcdefghijklmnop",  # ascending letters
        "12345678901234567890",  # ascending digits, twice
        "zyxwvutsrqponm12",  # descending letters
        "abcdefghgfedcba",  # up and back down, 15 characters
        "AbCdEfGhIjKl xyz",  # case does not break the run
    ],
)
def test_repetitive(password: str) -> None:
    assert "REPETITIVE" in codes(check_password_policy(password))


def test_repetitive_messages_name_the_rule() -> None:
    single = only(check_password_policy("aaaaaaaaaaxyz1234"), "REPETITIVE")
    assert single.message == "must not be mostly one repeated character ('a' is 10 of 17)"
    run = only(check_password_policy("abcdefghijklmnop"), "REPETITIVE")
    assert "consecutive characters" in run.message


def test_short_runs_or_minor_runs_are_fine() -> None:
    assert check_password_policy("abcdefgh and many other words") == []
    assert check_password_policy("abcdefg hijklmn") == []  # no run of 8


def test_several_problems_are_reported_in_order() -> None:
    problems = check_password_policy("aaaaaaa", context_words=["aaaa"])
    assert codes(problems) == ["TOO_SHORT", "CONTAINS_CONTEXT", "REPETITIVE"]


def test_empty_password() -> None:
    assert codes(check_password_policy("")) == ["TOO_SHORT"]


# --- normalisation ----------------------------------------------------------


def test_normalise_is_nfkc_and_nothing_else() -> None:
    assert normalise(fullwidth("pass") + IDEOGRAPHIC_SPACE + fullwidth("word")) == "pass word"
    assert normalise("  Tulip  Garden ") == "  Tulip  Garden "
    assert normalise("ﬁne") == "fine"
    long_password = "x" * 1000
    assert normalise(long_password) == long_password


def test_policy_sees_normalised_password() -> None:
    assert codes(check_password_policy(fullwidth("passwordpassword"))) == ["COMMON_PASSWORD"]


def test_length_is_counted_after_normalisation() -> None:
    # U+FB03 is one code point and normalises to "ffi": 5 x 3 = 15 characters.
    problems = check_password_policy("\ufb03" * 5, min_length=10)
    assert "TOO_SHORT" not in codes(problems)
    assert only(check_password_policy("\ufb03" * 4), "TOO_SHORT").message.endswith("(it has 12)")


# --- properties -------------------------------------------------------------


@settings(database=None, deadline=None)
@given(st.text(alphabet=string.ascii_letters, min_size=MIN_LENGTH, max_size=80))
def test_long_enough_letter_strings_never_raise(password: str) -> None:
    problems = check_password_policy(password)
    assert set(codes(problems)) <= ALL_CODES - {"TOO_SHORT", "TOO_LONG"}
    assert all(problem.message for problem in problems)


@settings(database=None, deadline=None)
@given(
    st.text(alphabet=st.characters(exclude_categories=())),
    st.lists(st.text(alphabet=st.characters(exclude_categories=())), max_size=3),
)
def test_any_text_never_raises_and_only_known_codes(password: str, context_words: list[str]) -> None:
    problems = check_password_policy(password, context_words=context_words)
    assert set(codes(problems)) <= ALL_CODES
    assert len(codes(problems)) == len(set(codes(problems)))


@settings(database=None, deadline=None)
@given(st.text())
def test_policy_is_invariant_under_normalisation(password: str) -> None:
    assert check_password_policy(password) == check_password_policy(normalise(password))


# --- hashing ----------------------------------------------------------------


def test_hash_verify_round_trip(hasher: PasswordHasher) -> None:
    encoded = hasher.hash(GOOD_PASSPHRASE)
    assert encoded.startswith("$argon2id$v=19$m=8192,t=1,p=1$")
    assert hasher.verify(encoded, GOOD_PASSPHRASE) is True


def test_hashes_are_salted(hasher: PasswordHasher) -> None:
    assert hasher.hash(GOOD_PASSPHRASE) != hasher.hash(GOOD_PASSPHRASE)


def test_verify_uses_normalised_password(hasher: PasswordHasher) -> None:
    encoded = hasher.hash(fullwidth("tulip garden songs"))
    assert hasher.verify(encoded, "tulip garden songs") is True


def test_verify_false_on_wrong_password(hasher: PasswordHasher) -> None:
    encoded = hasher.hash(GOOD_PASSPHRASE)
    assert hasher.verify(encoded, GOOD_PASSPHRASE.upper()) is False
    assert hasher.verify(encoded, GOOD_PASSPHRASE + " ") is False
    assert hasher.verify(encoded, "") is False


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "garbage",
        "$argon2id$v=19$m=8192,t=1,p=1$bad$bad",
        "$argon2id$v=19$m=8192,t=1,p=1$",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",  # bcrypt
        "$argon2id$v=19$m=8192,t=1,p=1$é$é",  # not ASCII
    ],
)
def test_verify_false_on_malformed_hash(hasher: PasswordHasher, encoded: str) -> None:
    assert hasher.verify(encoded, GOOD_PASSPHRASE) is False


def test_verify_false_on_unencodable_password(hasher: PasswordHasher) -> None:
    encoded = hasher.hash(GOOD_PASSPHRASE)
    assert hasher.verify(encoded, "lone \ud800 surrogate") is False


def test_verify_accepts_hashes_made_with_other_parameters(hasher: PasswordHasher) -> None:
    other = PasswordHasher(time_cost=2, memory_cost_kib=8192, parallelism=1)
    assert hasher.verify(other.hash(GOOD_PASSPHRASE), GOOD_PASSPHRASE) is True


def test_needs_rehash(hasher: PasswordHasher) -> None:
    encoded = hasher.hash(GOOD_PASSPHRASE)
    assert hasher.needs_rehash(encoded) is False
    assert PasswordHasher(**FAST).needs_rehash(encoded) is False
    assert PasswordHasher(time_cost=2, memory_cost_kib=8192, parallelism=1).needs_rehash(encoded) is True
    assert PasswordHasher(time_cost=1, memory_cost_kib=16384, parallelism=1).needs_rehash(encoded) is True
    assert PasswordHasher(time_cost=1, memory_cost_kib=8192, parallelism=2).needs_rehash(encoded) is True


def test_needs_rehash_for_other_variant_or_garbage(hasher: PasswordHasher) -> None:
    argon2i = argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1, type=argon2.Type.I)
    assert hasher.needs_rehash(argon2i.hash(GOOD_PASSPHRASE)) is True
    assert hasher.needs_rehash("garbage") is True


def test_default_parameters_are_rfc_9106_second_option() -> None:
    encoded_prefix = "$argon2id$v=19$m=65536,t=3,p=4$"
    # Checking the parameters of a known hash avoids paying for a 64 MiB hash in the tests.
    known = encoded_prefix + "c29tZXNhbHRzb21lc2FsdA$" + "A" * 43
    assert PasswordHasher().needs_rehash(known) is False


def test_verify_dummy_does_one_real_verify_and_builds_its_hash_once(
    hasher: PasswordHasher, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def counting(name: str) -> Callable[..., object]:
        original = getattr(argon2.PasswordHasher, name)

        def wrapper(self: argon2.PasswordHasher, *args: object) -> object:
            calls.append(name)
            return original(self, *args)

        return wrapper

    monkeypatch.setattr(argon2.PasswordHasher, "hash", counting("hash"))
    monkeypatch.setattr(argon2.PasswordHasher, "verify", counting("verify"))

    hasher.verify_dummy(GOOD_PASSPHRASE)
    hasher.verify_dummy("anything else")
    hasher.verify_dummy("lone \ud800 surrogate")
    assert calls.count("hash") == 1
    assert calls.count("verify") == 3


def test_common_password_padded_with_digits_and_symbols_is_common() -> None:
    """LL 7.1.6: a common password with digits or symbols stuck on is still a common password."""
    assert codes(check_password_policy("Password1234567!")) == ["COMMON_PASSWORD"]
    assert codes(check_password_policy("!!qwertyuiop2024")) == ["COMMON_PASSWORD"]
    assert codes(check_password_policy("tulip garden 2024!")) == []


def test_short_pattern_repeated_is_repetitive() -> None:
    """LL 7.1.6: a short pattern repeated to length is refused."""
    assert codes(check_password_policy("abababababababab")) == ["REPETITIVE"]
    assert codes(check_password_policy("xyz1xyz1xyz1xyz1")) == ["REPETITIVE"]
