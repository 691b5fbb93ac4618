"""Validation of UK pupil identifiers (UPN, ULN) and email addresses.

UPN, Unique Pupil Number (DfE): 13 characters. Character 1 is a check letter,
2-4 the local authority number, 5-8 the establishment number, 9-10 the year
of allocation, 11-13 a serial; a temporary UPN ends in a letter instead of a
digit. The check letter is sum(value(c_i) * i for i in 2..13) mod 23, mapped
onto ``ABCDEFGHJKLMNPQRTUVWXYZ`` (no I, O or S); a digit's value is the digit,
a letter's value (position 13 only) is its index in that same alphabet.
Local authority codes are deliberately not checked against a list: the
published lists lag behind reorganisations.

ULN, Unique Learner Number (Learning Records Service): 10 digits, the first
not 0; with weights 10, 9, ..., 1 over the digits, the weighted sum mod 11
must be 10. ``9999999999`` is the ILR placeholder for "not yet known".

All functions are pure. Invalid input raises `IdentifierError`, whose
`message` says exactly what is wrong so it can be shown to the person who
typed the value.
"""

from __future__ import annotations

import unicodedata

__all__ = [
    "ULN_PLACEHOLDER",
    "IdentifierError",
    "normalise_upn",
    "upn_check_letter",
    "validate_email",
    "validate_uln",
    "validate_upn",
]

ULN_PLACEHOLDER = "9999999999"

_UPN_LENGTH = 13
_UPN_CHECK_ALPHABET = "ABCDEFGHJKLMNPQRTUVWXYZ"
_DIGITS = "0123456789"
_ULN_LENGTH = 10
_EMAIL_MAX_LENGTH = 254
_EMAIL_LOCAL_MAX_LENGTH = 64
_DNS_LABEL_MAX_LENGTH = 63
_DOMAIN_LABEL_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


class IdentifierError(ValueError):
    """An identifier or email address failed validation.

    `code` is INVALID_UPN, INVALID_ULN or INVALID_EMAIL; `message` is a
    human-readable sentence saying what is wrong (also `str(error)`).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __reduce__(self) -> tuple[type[IdentifierError], tuple[str, str]]:
        # ValueError pickles as cls(*args), which would drop `code`.
        return (type(self), (self.code, self.message))


def _upn_error(message: str) -> IdentifierError:
    return IdentifierError("INVALID_UPN", message)


def normalise_upn(value: str) -> str:
    """Return `value` with surrounding whitespace removed, in upper case."""
    return value.strip().upper()


def _check_upn_body(body12: str) -> None:
    """Raise IdentifierError unless `body12` is 11 digits then a digit or check-alphabet letter.

    Positions in messages are UPN positions (the body is characters 2..13).
    """
    if len(body12) != _UPN_LENGTH - 1:
        raise _upn_error(f"UPN characters 2 to 13 must be 12 characters long (got {len(body12)})")
    for position, character in enumerate(body12[:-1], start=2):
        if character not in _DIGITS:
            raise _upn_error(f"UPN character {position} must be a digit (got {character!r})")
    last = body12[-1]
    if last not in _DIGITS and last not in _UPN_CHECK_ALPHABET:
        raise _upn_error(
            "UPN character 13 must be a digit, or for a temporary UPN a letter other than I, O or S"
            f" (got {last!r})"
        )


def upn_check_letter(body12: str) -> str:
    """Return the check letter (UPN character 1) for UPN characters 2..13.

    `body12` must already be normalised: 11 digits then a digit or an
    upper-case letter from the check alphabet (no I, O or S). Raises
    IdentifierError (INVALID_UPN) otherwise.
    """
    _check_upn_body(body12)
    total = 0
    for position, character in enumerate(body12, start=2):
        value = int(character) if character in _DIGITS else _UPN_CHECK_ALPHABET.index(character)
        total += value * position
    return _UPN_CHECK_ALPHABET[total % len(_UPN_CHECK_ALPHABET)]


def validate_upn(value: str) -> str:
    """Return the normalised UPN (`normalise_upn`) if it is valid.

    Raises IdentifierError (INVALID_UPN) naming the first problem found: the
    length, the character at a given position, or the check letter (expected
    and found). Unknown local authority numbers are accepted.
    """
    upn = normalise_upn(value)
    if not upn:
        raise _upn_error("UPN is empty")
    if len(upn) != _UPN_LENGTH:
        raise _upn_error(f"UPN must be {_UPN_LENGTH} characters long (got {len(upn)})")
    given = upn[0]
    if given not in _UPN_CHECK_ALPHABET:
        raise _upn_error(f"UPN character 1 must be a check letter other than I, O or S (got {given!r})")
    expected = upn_check_letter(upn[1:])
    if given != expected:
        raise _upn_error(f"UPN check letter is wrong: expected {expected!r}, got {given!r}")
    return upn


def _uln_error(message: str) -> IdentifierError:
    return IdentifierError("INVALID_ULN", message)


def validate_uln(value: str | None) -> str | None:
    """Return the ULN with surrounding whitespace removed, or None when there is none.

    None, an empty or blank string and the ILR placeholder ``9999999999``
    all mean "no ULN" and return None. Anything else must be 10 ASCII digits,
    the first not 0, passing the check digit; otherwise IdentifierError
    (INVALID_ULN) naming the non-digit, the length, the leading zero or the
    check digit.
    """
    if value is None:
        return None
    uln = value.strip()
    if not uln or uln == ULN_PLACEHOLDER:
        return None
    for position, character in enumerate(uln, start=1):
        if character not in _DIGITS:
            raise _uln_error(f"ULN character {position} must be a digit (got {character!r})")
    if len(uln) != _ULN_LENGTH:
        raise _uln_error(f"ULN must be {_ULN_LENGTH} digits long (got {len(uln)})")
    if uln[0] == "0":
        raise _uln_error("ULN must not start with 0")
    remainder = (
        sum(int(digit) * weight for digit, weight in zip(uln[:-1], range(10, 1, -1), strict=True)) % 11
    )
    expected = (10 - remainder) % 11
    if expected == 10:
        raise _uln_error(f"ULN check digit is wrong: no final digit makes a valid ULN after {uln[:-1]}")
    if int(uln[-1]) != expected:
        raise _uln_error(f"ULN check digit is wrong: expected {expected}, got {uln[-1]}")
    return uln


def _email_error(message: str) -> IdentifierError:
    return IdentifierError("INVALID_EMAIL", message)


def _check_domain(domain: str) -> None:
    if not domain:
        raise _email_error("email address has nothing after the '@'")
    if "." not in domain:
        raise _email_error(f"email domain {domain!r} must contain a dot")
    for label in domain.split("."):
        if not label:
            raise _email_error(
                f"email domain {domain!r} must not start or end with a dot or have two dots in a row"
            )
        if len(label) > _DNS_LABEL_MAX_LENGTH:
            raise _email_error(
                "each dot-separated part of the email domain must be at most"
                f" {_DNS_LABEL_MAX_LENGTH} characters (one has {len(label)})"
            )
        bad = next((character for character in label if character not in _DOMAIN_LABEL_CHARACTERS), None)
        if bad is not None:
            raise _email_error(
                f"email domain {domain!r} may contain only letters, digits, hyphens and dots (found {bad!r})"
            )
        if label.startswith("-") or label.endswith("-"):
            raise _email_error(f"email domain part {label!r} must not start or end with a hyphen")


def validate_email(value: str) -> str:
    """Return the email address, stripped, with its domain lowercased.

    A pragmatic check, not RFC 5322: at most 254 characters; no spaces or
    control characters; exactly one '@'; a local part (before '@') of 1 to 64
    characters, otherwise unrestricted and kept as typed; a domain with at
    least one dot whose labels are 1-63 ASCII letters, digits and hyphens,
    not starting or ending with a hyphen (internationalised domains must be
    given in punycode). Raises IdentifierError (INVALID_EMAIL) naming the
    first problem found.
    """
    email = value.strip()
    if not email:
        raise _email_error("email address is empty")
    if len(email) > _EMAIL_MAX_LENGTH:
        raise _email_error(
            f"email address must be at most {_EMAIL_MAX_LENGTH} characters (it has {len(email)})"
        )
    for character in email:
        if character.isspace():
            raise _email_error("email address must not contain spaces")
        if unicodedata.category(character) == "Cc":
            raise _email_error("email address must not contain control characters")
    at_count = email.count("@")
    if at_count != 1:
        raise _email_error(f"email address must contain exactly one '@' (found {at_count})")
    local, domain = email.split("@")
    if not local:
        raise _email_error("email address has nothing before the '@'")
    if len(local) > _EMAIL_LOCAL_MAX_LENGTH:
        raise _email_error(
            "the part of the email address before the '@' must be at most"
            f" {_EMAIL_LOCAL_MAX_LENGTH} characters (it has {len(local)})"
        )
    _check_domain(domain)
    return f"{local}@{domain.lower()}"
