"""Access and refresh tokens: the verification refusals matter more than the happy path."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import stat
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from auth.access_tokens import AccessClaims, audience_for_school, issue_access_token, verify_access_token
from auth.opaque_tokens import hash_token, new_refresh_token
from auth.tokens import ISSUER, SigningKeys, canonical_uuid

NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
TTL = timedelta(minutes=10)
ACCOUNT = uuid.UUID("6f1c1a52-3c2e-4a43-9a57-0b6c5a2b8e01")
SCHOOL_A = uuid.UUID("0b8a3e1e-5d0f-4f38-8a55-7f1f2b6c9d10")
SCHOOL_B = uuid.UUID("d2c4e6f8-1a3b-4c5d-8e9f-a0b1c2d3e4f5")
SESSION = uuid.UUID("9e8d7c6b-5a49-4837-a261-504f3e2d1c0b")


@pytest.fixture(scope="module")
def keys() -> SigningKeys:
    return SigningKeys.generate()


def issue(keys: SigningKeys, *, school_id: uuid.UUID = SCHOOL_A, now: datetime = NOW) -> str:
    return issue_access_token(
        keys,
        account_id=ACCOUNT,
        school_id=school_id,
        session_id=SESSION,
        roles=["teacher", "head_of_year"],
        ttl=TTL,
        now=now,
    )


def verify(keys: SigningKeys, token: str, *, school_id: uuid.UUID = SCHOOL_A, now: datetime = NOW) -> Any:
    return verify_access_token(keys, token, school_id=school_id, now=now)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64json(value: object) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def unb64json(segment: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def valid_claims() -> dict[str, Any]:
    issued = int(NOW.timestamp())
    return {
        "iss": ISSUER,
        "sub": str(ACCOUNT),
        "aud": audience_for_school(SCHOOL_A),
        "sid": str(SESSION),
        "roles": ["teacher"],
        "iat": issued,
        "nbf": issued,
        "exp": issued + 600,
        "jti": "abc",
    }


def private_key(keys: SigningKeys) -> ECKey:
    """The signing key itself, to forge tokens the way only the legitimate issuer could."""
    return ECKey.import_key(json.loads(keys.to_json())["keys"][0])


def sign_by_hand(keys: SigningKeys, header: dict[str, Any], claims: dict[str, Any]) -> str:
    return jwt.encode(header, claims, private_key(keys), algorithms=["ES256"], default_type=None)


def good_header(keys: SigningKeys) -> dict[str, Any]:
    return {"alg": "ES256", "kid": keys.current_kid, "typ": "at+jwt"}


# --- round trip -------------------------------------------------------------------------------------------


def test_round_trip(keys: SigningKeys) -> None:
    token = issue(keys)

    assert verify(keys, token) == AccessClaims(
        account_id=ACCOUNT,
        school_id=SCHOOL_A,
        session_id=SESSION,
        roles=("teacher", "head_of_year"),
        issued_at=NOW,
        expires_at=NOW + TTL,
    )


def test_header_and_claims_on_the_wire(keys: SigningKeys) -> None:
    header_segment, payload_segment, _ = issue(keys).split(".")

    assert unb64json(header_segment) == {"alg": "ES256", "kid": keys.current_kid, "typ": "at+jwt"}
    claims = unb64json(payload_segment)
    assert claims["iss"] == "schoolgraph"
    assert claims["sub"] == str(ACCOUNT)
    assert claims["aud"] == f"school:{SCHOOL_A}"
    assert claims["sid"] == str(SESSION)
    assert claims["roles"] == ["teacher", "head_of_year"]
    assert claims["iat"] == claims["nbf"] == int(NOW.timestamp())
    assert claims["exp"] == int((NOW + TTL).timestamp())
    assert isinstance(claims["jti"], str) and claims["jti"]


def test_each_token_has_its_own_jti(keys: SigningKeys) -> None:
    first, second = (unb64json(issue(keys).split(".")[1])["jti"] for _ in range(2))
    assert first != second


def test_verification_works_with_a_non_utc_clock(keys: SigningKeys) -> None:
    token = issue(keys, now=NOW.astimezone(timezone(timedelta(hours=-5))))
    paris = timezone(timedelta(hours=1))

    assert verify(keys, token, now=(NOW + TTL - timedelta(seconds=31)).astimezone(paris)) is not None
    assert verify(keys, token, now=(NOW + TTL + timedelta(seconds=30)).astimezone(paris)) is None


def test_empty_roles_are_allowed(keys: SigningKeys) -> None:
    token = issue_access_token(
        keys, account_id=ACCOUNT, school_id=SCHOOL_A, session_id=SESSION, roles=(), ttl=TTL, now=NOW
    )
    claims = verify(keys, token)
    assert claims is not None and claims.roles == ()


# --- tenancy and time ---------------------------------------------------------------------------------------


def test_token_for_one_school_is_refused_at_another(keys: SigningKeys) -> None:
    token = issue(keys, school_id=SCHOOL_A)

    assert verify(keys, token, school_id=SCHOOL_B) is None
    assert verify(keys, issue(keys, school_id=SCHOOL_B), school_id=SCHOOL_B) is not None


def test_expired_token_is_refused_but_accepted_within_leeway(keys: SigningKeys) -> None:
    token = issue(keys)
    expiry = NOW + TTL

    assert verify(keys, token, now=expiry - timedelta(seconds=1)) is not None
    assert verify(keys, token, now=expiry + timedelta(seconds=29)) is not None
    assert verify(keys, token, now=expiry + timedelta(seconds=30)) is None
    assert verify_access_token(keys, token, school_id=SCHOOL_A, now=expiry, leeway=timedelta(0)) is None


def test_token_from_the_future_is_refused_beyond_leeway(keys: SigningKeys) -> None:
    token = issue(keys)

    assert verify(keys, token, now=NOW - timedelta(seconds=30)) is not None
    assert verify(keys, token, now=NOW - timedelta(seconds=31)) is None


# --- forgeries ---------------------------------------------------------------------------------------------


def test_tampered_payload_is_refused(keys: SigningKeys) -> None:
    header_segment, payload_segment, signature = issue(keys).split(".")
    claims = unb64json(payload_segment)
    claims["roles"] = ["admin"]

    assert verify(keys, f"{header_segment}.{b64json(claims)}.{signature}") is None


def test_tampered_signature_is_refused(keys: SigningKeys) -> None:
    header_segment, payload_segment, signature = issue(keys).split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[-1] ^= 1

    assert verify(keys, f"{header_segment}.{payload_segment}.{b64(bytes(raw))}") is None


def test_token_signed_by_another_key_set_is_refused(keys: SigningKeys) -> None:
    # The impostor even claims our kid, so only the signature check can catch it.
    impostor_jwk = json.loads(SigningKeys.generate().to_json())["keys"][0]
    impostor_jwk["kid"] = keys.current_kid
    impostor = SigningKeys.from_json(json.dumps({"keys": [impostor_jwk]}))

    assert verify(keys, issue(impostor)) is None


def test_unknown_kid_is_refused(keys: SigningKeys) -> None:
    assert verify(keys, issue(SigningKeys.generate())) is None


def test_missing_kid_is_refused(keys: SigningKeys) -> None:
    token = sign_by_hand(keys, {"alg": "ES256", "typ": "at+jwt"}, valid_claims())

    assert verify(keys, token) is None


def test_unsigned_alg_none_token_is_refused(keys: SigningKeys) -> None:
    header = {"alg": "none", "kid": keys.current_kid, "typ": "at+jwt"}
    token = f"{b64json(header)}.{b64json(valid_claims())}."

    assert verify(keys, token) is None


@pytest.mark.parametrize("secret_form", ["pem", "jwk"])
def test_hs256_token_keyed_with_the_public_key_is_refused(keys: SigningKeys, secret_form: str) -> None:
    public = ECKey.import_key(keys.public_jwks()["keys"][0])
    secret = public.as_pem() if secret_form == "pem" else json.dumps(public.as_dict()).encode()
    header = {"alg": "HS256", "kid": keys.current_kid, "typ": "at+jwt"}
    signing_input = f"{b64json(header)}.{b64json(valid_claims())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()

    assert verify(keys, f"{signing_input}.{b64(signature)}") is None


def test_other_typ_is_refused(keys: SigningKeys) -> None:
    assert verify(keys, sign_by_hand(keys, good_header(keys), valid_claims())) is not None
    header = {**good_header(keys), "typ": "JWT"}

    assert verify(keys, sign_by_hand(keys, header, valid_claims())) is None


def test_extra_header_members_are_refused(keys: SigningKeys) -> None:
    header = {**good_header(keys), "cty": "JWT"}

    assert verify(keys, sign_by_hand(keys, header, valid_claims())) is None


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("iss", "someone-else"),
        ("aud", [f"school:{SCHOOL_A}", f"school:{SCHOOL_B}"]),
        ("sub", "not-a-uuid"),
        ("sub", "{" + str(ACCOUNT) + "}"),
        ("sid", 42),
        ("roles", "teacher"),
        ("roles", ["teacher", 7]),
        ("exp", "soon"),
        ("exp", 1e300),
        ("iat", True),
        ("jti", ""),
    ],
)
def test_invalid_claim_is_refused(keys: SigningKeys, claim: str, value: object) -> None:
    claims = {**valid_claims(), claim: value}

    assert verify(keys, sign_by_hand(keys, good_header(keys), claims)) is None


@pytest.mark.parametrize("claim", ["iss", "sub", "aud", "sid", "roles", "iat", "nbf", "exp", "jti"])
def test_missing_claim_is_refused(keys: SigningKeys, claim: str) -> None:
    claims = valid_claims()
    del claims[claim]

    assert verify(keys, sign_by_hand(keys, good_header(keys), claims)) is None


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c",
        "...",
        "a.b.c.d.e",
        "é.é.é",
        f"{b64json(['alg'])}.e30.",
        f"{b64json('alg')}.e30.",
        f"{b64(b'[' * 5000)}.e30.",
        f"{b64json({'alg': 'ES256', 'kid': ['x'], 'typ': 'at+jwt'})}.e30.AA",
        f"{b64json({'alg': 'ES256', 'kid': 'x', 'typ': 'at+jwt'})}.e30.AA" + "A" * 10000,
    ],
)
def test_malformed_token_is_refused_without_exception(keys: SigningKeys, token: str) -> None:
    assert verify(keys, token) is None


def test_malformed_payload_under_our_header_is_refused(keys: SigningKeys) -> None:
    header_segment = issue(keys).split(".")[0]

    for payload in ["!!!", b64(b"not json"), b64json([1, 2]), b64(b"\xff\xfe")]:
        assert verify(keys, f"{header_segment}.{payload}.AAAA") is None


# --- rotation and key sets --------------------------------------------------------------------------------


def test_rotation_keeps_old_keys_for_verification() -> None:
    old = SigningKeys.generate()
    old_token = issue(old)
    rotated = old.rotate()
    new_token = issue(rotated)

    assert verify(rotated, old_token) is not None
    assert rotated.current_kid != old.current_kid
    assert unb64json(new_token.split(".")[0])["kid"] == rotated.current_kid
    assert verify(rotated, new_token) is not None
    assert verify(old, new_token) is None
    assert [jwk["kid"] for jwk in rotated.public_jwks()["keys"]] == [rotated.current_kid, old.current_kid]
    assert old.current_kid in old.to_json()  # the original set is unchanged


def test_generated_kid_is_the_rfc7638_thumbprint(keys: SigningKeys) -> None:
    assert keys.current_kid == ECKey.import_key(keys.public_jwks()["keys"][0]).thumbprint()


def test_public_jwks_has_no_private_members(keys: SigningKeys) -> None:
    jwks = keys.rotate().public_jwks()

    assert len(jwks["keys"]) == 2
    for jwk in jwks["keys"]:
        assert "d" not in jwk
        assert set(jwk) == {"kty", "crv", "x", "y", "kid", "use", "alg"}
        assert (jwk["kty"], jwk["crv"], jwk["use"], jwk["alg"]) == ("EC", "P-256", "sig", "ES256")


def test_json_round_trip(keys: SigningKeys) -> None:
    rotated = keys.rotate()
    loaded = SigningKeys.from_json(rotated.to_json())

    assert loaded.to_json() == rotated.to_json()
    assert loaded.current_kid == rotated.current_kid
    assert verify(loaded, issue(rotated)) is not None
    assert verify(rotated, issue(loaded)) is not None


def test_from_json_derives_a_missing_kid(keys: SigningKeys) -> None:
    jwk = json.loads(keys.to_json())["keys"][0]
    del jwk["kid"], jwk["alg"], jwk["use"]
    loaded = SigningKeys.from_json(json.dumps({"keys": [jwk]}))

    assert loaded.current_kid == keys.current_kid
    assert verify(loaded, issue(keys)) is not None


# --- key file -----------------------------------------------------------------------------------------------


def test_load_or_create_creates_a_private_file_and_loads_it_back(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "signing-keys.json"

    created = SigningKeys.load_or_create(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["signing-keys.json"]  # no temp file left behind
    loaded = SigningKeys.load_or_create(path)
    assert loaded.to_json() == created.to_json()
    assert loaded.public_jwks() == created.public_jwks()
    assert verify(loaded, issue(created)) is not None


def test_load_or_create_keeps_an_existing_file(tmp_path: Path, keys: SigningKeys) -> None:
    path = tmp_path / "keys.json"
    path.write_text(keys.to_json())

    assert SigningKeys.load_or_create(path).current_kid == keys.current_kid


def test_load_or_create_uses_the_file_of_a_process_that_won_the_race(
    tmp_path: Path, keys: SigningKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "keys.json"
    path.write_text(keys.to_json())
    real_read_text = Path.read_text
    reads = []

    def read_text_as_if_missing_at_first(self: Path, *args: Any, **kwargs: Any) -> str:
        # The first read happens "before" the other process created the file.
        reads.append(self)
        if len(reads) == 1:
            raise FileNotFoundError(self)
        return real_read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text_as_if_missing_at_first)

    loaded = SigningKeys.load_or_create(path)

    assert loaded.current_kid == keys.current_kid
    assert real_read_text(path) == keys.to_json()
    assert [p.name for p in tmp_path.iterdir()] == ["keys.json"]


def _other_curve_key() -> dict[str, Any]:
    return dict(ECKey.generate_key("P-384").as_dict(private=True))


def _public_only_key() -> dict[str, Any]:
    jwk = json.loads(SigningKeys.generate().to_json())["keys"][0]
    del jwk["d"]
    return dict(jwk)


def _key_with(**members: object) -> dict[str, Any]:
    return {**json.loads(SigningKeys.generate().to_json())["keys"][0], **members}


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "not valid JSON"),
        ("{not json", "not valid JSON"),
        ("[]", '"keys" array'),
        ('{"keys": {}}', '"keys" array'),
        ('{"keys": []}', "at least one key"),
        ('{"keys": [42]}', "not a JSON object"),
        (json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}), "expected an EC P-256 key"),
        (json.dumps({"keys": [_other_curve_key()]}), "expected an EC P-256 key"),
        (json.dumps({"keys": [_public_only_key()]}), "not a private key"),
        (json.dumps({"keys": [_key_with(d="AAAA")]}), "invalid key"),
        (json.dumps({"keys": [_key_with(alg="ES384")]}), "alg"),
        (json.dumps({"keys": [_key_with(use="enc")]}), "use"),
        (json.dumps({"keys": [_key_with(key_ops=["sign"])]}), "unsupported members"),
        (json.dumps({"keys": [_key_with(kid=7)]}), "invalid key"),
    ],
)
def test_malformed_key_file_is_a_value_error_naming_it(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "keys.json"
    path.write_text(content)

    with pytest.raises(ValueError, match=re.escape(str(path))) as caught:
        SigningKeys.load_or_create(path)

    assert problem in str(caught.value)


def test_duplicate_kids_are_refused(keys: SigningKeys) -> None:
    jwk = json.loads(keys.to_json())["keys"][0]

    with pytest.raises(ValueError, match="duplicate kid"):
        SigningKeys.from_json(json.dumps({"keys": [jwk, jwk]}))


def test_non_utf8_key_file_raises_value_error_naming_path(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_bytes(b"\xff\xfe{}")

    with pytest.raises(ValueError, match=re.escape(str(path))):
        SigningKeys.load_or_create(path)


# --- caller mistakes ----------------------------------------------------------------------------------------


def test_naive_now_is_a_caller_error(keys: SigningKeys) -> None:
    naive = NOW.replace(tzinfo=None)

    with pytest.raises(ValueError, match="timezone-aware"):
        issue(keys, now=naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        verify(keys, issue(keys), now=naive)


@pytest.mark.parametrize("ttl", [timedelta(0), timedelta(seconds=-1)])
def test_non_positive_ttl_is_a_caller_error(keys: SigningKeys, ttl: timedelta) -> None:
    with pytest.raises(ValueError, match="ttl"):
        issue_access_token(
            keys, account_id=ACCOUNT, school_id=SCHOOL_A, session_id=SESSION, roles=[], ttl=ttl, now=NOW
        )


@pytest.mark.parametrize("roles", ["teacher", ["teacher", ""]])
def test_roles_must_be_a_sequence_of_names(keys: SigningKeys, roles: Any) -> None:
    with pytest.raises(ValueError, match="roles"):
        issue_access_token(
            keys, account_id=ACCOUNT, school_id=SCHOOL_A, session_id=SESSION, roles=roles, ttl=TTL, now=NOW
        )


# --- refresh tokens -----------------------------------------------------------------------------------------


def test_new_refresh_token_is_random_and_stored_as_its_digest() -> None:
    tokens = [new_refresh_token() for _ in range(50)]

    assert len({token for token, _ in tokens}) == 50
    for token, digest in tokens:
        assert digest == hash_token(token) == hashlib.sha256(token.encode()).digest()
        assert len(token) == 43 and "=" not in token
        assert len(base64.urlsafe_b64decode(token + "=")) == 32


def test_hash_token_is_sha256_of_the_text() -> None:
    assert hash_token("abc") == bytes.fromhex(
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


# --- remembered signatures ------------------------------------------------------------------------------


def test_a_remembered_signature_still_checks_time_and_audience() -> None:
    """A token whose signature was verified once is remembered, but every request still checks its
    lifetime and audience: expired or another school's, it is refused though its signature is known."""
    keys = SigningKeys.generate()
    token = issue(keys)
    assert verify(keys, token) is not None
    assert token in keys._verified
    assert verify(keys, token, now=NOW + TTL + timedelta(minutes=1)) is None
    assert verify(keys, token, school_id=SCHOOL_B) is None
    assert verify(keys, token) is not None


def test_another_key_set_never_trusts_a_token_this_one_verified() -> None:
    """The memory belongs to one key set: a set that does not hold the signing key refuses the token, and a
    token whose signature failed is never remembered."""
    keys, others = SigningKeys.generate(), SigningKeys.generate()
    token = issue(keys)
    assert verify(keys, token) is not None
    assert verify(others, token) is None
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"
    assert verify(keys, forged) is None
    assert forged not in keys._verified


def test_the_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import auth.tokens

    monkeypatch.setattr(auth.tokens, "_VERIFIED_TOKENS", 3)
    keys = SigningKeys.generate()
    tokens = [issue(keys, now=NOW + timedelta(seconds=i)) for i in range(5)]
    for token in tokens:
        assert verify(keys, token, now=NOW + timedelta(seconds=5)) is not None
    assert list(keys._verified) == tokens[2:]
    assert list(keys._times) == tokens[2:]  # what passed every check is forgotten with its signature


@pytest.mark.parametrize("leeway", [timedelta(0), timedelta(seconds=30)])
def test_a_token_checked_once_meets_the_same_time_bounds_as_one_checked_in_full(leeway: timedelta) -> None:
    """After a token passed every check once, only its times are checked again (auth.tokens._times_of):
    at each second around its issue and expiry, and for another school, it is accepted exactly when a key
    set that never saw it (the full check by joserfc's registry) accepts it."""
    keys = SigningKeys.generate()
    token = issue(keys)
    assert verify_access_token(keys, token, school_id=SCHOOL_A, now=NOW, leeway=leeway) is not None
    assert token in keys._times
    moments = [NOW + timedelta(seconds=s) for s in range(-32, 3)]
    moments += [NOW + TTL + timedelta(seconds=s) for s in range(-3, 33)]
    for now in moments:
        for school in (SCHOOL_A, SCHOOL_B):
            fresh = SigningKeys.from_json(keys.to_json())
            expected = verify_access_token(fresh, token, school_id=school, now=now, leeway=leeway)
            got = verify_access_token(keys, token, school_id=school, now=now, leeway=leeway)
            assert got == expected, (now, school)
    assert any(verify_access_token(keys, token, school_id=SCHOOL_A, now=m, leeway=leeway) for m in moments)
    assert not all(
        verify_access_token(keys, token, school_id=SCHOOL_A, now=m, leeway=leeway) for m in moments
    )


@pytest.mark.parametrize(
    "value",
    [
        str(ACCOUNT).upper(),
        "{" + str(ACCOUNT) + "}",
        "urn:uuid:" + str(ACCOUNT),
        ACCOUNT.hex,
        "not-a-uuid",
        "",
        42,
        None,
        [str(ACCOUNT)],
    ],
)
def test_only_the_canonical_text_of_a_uuid_is_one_every_time(value: object) -> None:
    """A claim's uuid in any form but the canonical one is refused, the first time and when asked again
    (parsed ids are remembered), and the canonical one is accepted either way."""
    for _ in range(2):
        assert canonical_uuid(value) is None
        assert canonical_uuid(str(ACCOUNT)) == ACCOUNT
