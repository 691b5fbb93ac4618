"""Unit tests for common.identifiers: UPN, ULN and email validation."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.identifiers import (
    ULN_PLACEHOLDER,
    IdentifierError,
    normalise_upn,
    upn_check_letter,
    validate_email,
    validate_uln,
    validate_upn,
)

CHECK_ALPHABET = "ABCDEFGHJKLMNPQRTUVWXYZ"
DIGITS = "0123456789"

VALID_UPNS = ["B801200005001", "A950000178301", "H243278544154", "X845212818005", "V91620012401A"]


def raises(code: str, function: object, value: object) -> IdentifierError:
    assert callable(function)
    with pytest.raises(IdentifierError) as caught:
        function(value)
    assert caught.value.code == code
    assert str(caught.value) == caught.value.message
    return caught.value


# --- IdentifierError --------------------------------------------------------


def test_identifier_error_is_a_value_error_and_copies_with_its_code() -> None:
    error = IdentifierError("INVALID_UPN", "UPN is empty")
    assert isinstance(error, ValueError)
    assert (error.code, error.message, str(error)) == ("INVALID_UPN", "UPN is empty", "UPN is empty")
    # deepcopy goes through __reduce_ex__, the same path pickle takes.
    duplicate = copy.deepcopy(error)
    assert (duplicate.code, duplicate.message) == ("INVALID_UPN", "UPN is empty")


# --- UPN --------------------------------------------------------------------


@pytest.mark.parametrize("upn", VALID_UPNS)
def test_worked_example_upns_are_valid(upn: str) -> None:
    assert validate_upn(upn) == upn
    assert upn_check_letter(upn[1:]) == upn[0]


def test_upn_is_normalised() -> None:
    assert normalise_upn("  b801200005001\n") == "B801200005001"
    assert validate_upn(" v91620012401a ") == "V91620012401A"


def test_worked_example_invalid_upn_names_expected_check_letter() -> None:
    error = raises("INVALID_UPN", validate_upn, "R247962919251")
    assert error.message == "UPN check letter is wrong: expected 'Q', got 'R'"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "UPN is empty"),
        ("   ", "UPN is empty"),
        ("B80120000500", "UPN must be 13 characters long (got 12)"),
        ("B8012000050011", "UPN must be 13 characters long (got 14)"),
        ("B801 20000501", "UPN character 5 must be a digit (got ' ')"),
        ("B8012000X5001", "UPN character 9 must be a digit (got 'X')"),
        ("1801200005001", "UPN character 1 must be a check letter other than I, O or S (got '1')"),
        ("I801200005001", "UPN character 1 must be a check letter other than I, O or S (got 'I')"),
        (
            "V91620012401O",
            (
                "UPN character 13 must be a digit, or for a temporary UPN a letter other than I, O or S"
                " (got 'O')"
            ),
        ),
    ],
)
def test_invalid_upn_messages_say_what_is_wrong(value: str, message: str) -> None:
    assert raises("INVALID_UPN", validate_upn, value).message == message


def test_unknown_la_number_is_accepted() -> None:
    body = "000999999001"  # LA 000 does not exist
    upn = upn_check_letter(body) + body
    assert validate_upn(upn) == upn


@pytest.mark.parametrize(
    "body",
    ["80120000500", "8012000050011", "80120000500a", "8012000X5001"],
)
def test_check_letter_rejects_malformed_body(body: str) -> None:
    raises("INVALID_UPN", upn_check_letter, body)


upn_bodies = st.text(alphabet=DIGITS, min_size=12, max_size=12)
temporary_upn_bodies = st.builds(
    str.__add__, st.text(alphabet=DIGITS, min_size=11, max_size=11), st.sampled_from(CHECK_ALPHABET)
)


@settings(database=None, deadline=None)
@given(st.one_of(upn_bodies, temporary_upn_bodies))
def test_upn_round_trips(body: str) -> None:
    upn = upn_check_letter(body) + body
    assert validate_upn(upn) == upn
    assert validate_upn(f"  {upn.lower()} ") == upn


@settings(database=None, deadline=None)
@given(upn_bodies, st.data())
def test_changing_one_digit_breaks_a_upn(body: str, data: st.DataObject) -> None:
    upn = upn_check_letter(body) + body
    position = data.draw(st.integers(min_value=1, max_value=12), label="index")
    digit = data.draw(st.sampled_from(DIGITS.replace(upn[position], "")), label="digit")
    changed = upn[:position] + digit + upn[position + 1 :]

    still_valid = upn_check_letter(changed[1:]) == changed[0]
    try:
        validate_upn(changed)
        accepted = True
    except IdentifierError:
        accepted = False
    assert accepted == still_valid
    # And it never collides: the sum moves by (digit change) x (position), both
    # between 1 and 22, and 23 is prime, so the remainder always changes.
    assert not accepted


@settings(database=None, deadline=None)
@given(upn_bodies, st.sampled_from(CHECK_ALPHABET))
def test_wrong_check_letter_is_rejected(body: str, letter: str) -> None:
    expected = upn_check_letter(body)
    if letter == expected:
        assert validate_upn(letter + body) == letter + body
    else:
        error = raises("INVALID_UPN", validate_upn, letter + body)
        assert error.message == f"UPN check letter is wrong: expected {expected!r}, got {letter!r}"


# --- ULN --------------------------------------------------------------------


def reference_uln_is_valid(uln: str) -> bool:
    """The rule exactly as stated: weights 10..1, weighted sum mod 11 == 10."""
    if len(uln) != 10 or not uln.isdigit() or uln[0] == "0":
        return False
    weighted = sum(int(digit) * weight for digit, weight in zip(uln, range(10, 0, -1), strict=True))
    return weighted % 11 == 10


@pytest.mark.parametrize("uln", ["9276308686", "1000000043"])
def test_worked_example_ulns_are_valid(uln: str) -> None:
    assert validate_uln(uln) == uln
    assert validate_uln(f" {uln}\t") == uln


@pytest.mark.parametrize("value", [None, "", "   ", ULN_PLACEHOLDER, " 9999999999 "])
def test_no_uln(value: str | None) -> None:
    assert validate_uln(value) is None


def test_placeholder_fails_the_check_itself() -> None:
    assert ULN_PLACEHOLDER == "9999999999"
    assert not reference_uln_is_valid(ULN_PLACEHOLDER)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        # Worked example: 1x10 + 6x2 = 22 = 0 mod 11, so no final digit can work.
        ("1000000063", "ULN check digit is wrong: no final digit makes a valid ULN after 100000006"),
        ("9276308685", "ULN check digit is wrong: expected 6, got 5"),
        ("1000000042", "ULN check digit is wrong: expected 3, got 2"),
        ("927630868", "ULN must be 10 digits long (got 9)"),
        ("92763086860", "ULN must be 10 digits long (got 11)"),
        ("0276308686", "ULN must not start with 0"),
        ("92763O8686", "ULN character 6 must be a digit (got 'O')"),
        ("9276-308686", "ULN character 5 must be a digit (got '-')"),
        ("\u0669276308686", "ULN character 1 must be a digit (got '\u0669')"),  # Arabic-Indic nine
    ],
)
def test_invalid_uln_messages_say_what_is_wrong(value: str, message: str) -> None:
    assert raises("INVALID_ULN", validate_uln, value).message == message


def uln_accepted(uln: str) -> bool:
    try:
        return validate_uln(uln) == uln
    except IdentifierError:
        return False


@settings(database=None, deadline=None)
@given(st.integers(min_value=100_000_000, max_value=999_999_999).map(str))
def test_at_most_one_final_digit_completes_a_uln(prefix: str) -> None:
    accepted = [digit for digit in DIGITS if uln_accepted(prefix + digit)]
    assert len(accepted) <= 1
    assert accepted == [digit for digit in DIGITS if reference_uln_is_valid(prefix + digit)]


@settings(database=None, deadline=None)
@given(st.integers(min_value=100_000_000, max_value=999_999_999).map(str), st.data())
def test_changing_one_digit_breaks_a_uln(prefix: str, data: st.DataObject) -> None:
    completing = [digit for digit in DIGITS if reference_uln_is_valid(prefix + digit)]
    if not completing:
        return
    uln = prefix + completing[0]
    position = data.draw(st.integers(min_value=1, max_value=9), label="index")
    digit = data.draw(st.sampled_from(DIGITS.replace(uln[position], "")), label="digit")
    # Weights 1..10 and changes 1..9 are below the prime 11, so this always shows.
    assert not uln_accepted(uln[:position] + digit + uln[position + 1 :])


# --- email ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("  Jane.Doe@Example.SCH.uk ", "Jane.Doe@example.sch.uk"),
        ("a@b.co", "a@b.co"),
        ("o'brien+tag@my-school.org.uk", "o'brien+tag@my-school.org.uk"),
        ("Élodie@xn--cole-9oa.fr", "Élodie@xn--cole-9oa.fr"),
        ("x" * 64 + "@example.com", "x" * 64 + "@example.com"),
    ],
)
def test_valid_emails(value: str, expected: str) -> None:
    assert validate_email(value) == expected


def test_email_total_length_limit() -> None:
    domain = ".".join(["d" * 63] * 3) + "." + "e" * 60  # 252 characters
    assert validate_email("a@" + domain) == "a@" + domain  # 254
    error = raises("INVALID_EMAIL", validate_email, "ab@" + domain)
    assert error.message == "email address must be at most 254 characters (it has 255)"


DOT_RULE = "must not start or end with a dot or have two dots in a row"
CHARACTER_RULE = "may contain only letters, digits, hyphens and dots"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "email address is empty"),
        ("jane doe@example.com", "email address must not contain spaces"),
        ("jane@exam\tple.com", "email address must not contain spaces"),
        ("jane\x00@example.com", "email address must not contain control characters"),
        ("jane.example.com", "email address must contain exactly one '@' (found 0)"),
        ("jane@doe@example.com", "email address must contain exactly one '@' (found 2)"),
        ("@example.com", "email address has nothing before the '@'"),
        ("jane@", "email address has nothing after the '@'"),
        (
            "x" * 65 + "@example.com",
            "the part of the email address before the '@' must be at most 64 characters (it has 65)",
        ),
        ("jane@localhost", "email domain 'localhost' must contain a dot"),
        ("jane@example..com", f"email domain 'example..com' {DOT_RULE}"),
        ("jane@example.com.", f"email domain 'example.com.' {DOT_RULE}"),
        ("jane@.example.com", f"email domain '.example.com' {DOT_RULE}"),
        ("jane@exa_mple.com", f"email domain 'exa_mple.com' {CHARACTER_RULE} (found '_')"),
        ("jane@école.fr", f"email domain 'école.fr' {CHARACTER_RULE} (found 'é')"),
        ("jane@-example.com", "email domain part '-example' must not start or end with a hyphen"),
        ("jane@example-.com", "email domain part 'example-' must not start or end with a hyphen"),
        (
            "jane@" + "d" * 64 + ".com",
            "each dot-separated part of the email domain must be at most 63 characters (one has 64)",
        ),
    ],
)
def test_invalid_email_messages_say_what_is_wrong(value: str, message: str) -> None:
    assert raises("INVALID_EMAIL", validate_email, value).message == message
