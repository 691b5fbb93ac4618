#!/usr/bin/env python3
"""Check a school's downloaded audit tree heads and proofs, with nothing but Python's standard library.

A school admin downloads, over GraphQL, the platform's signed tree heads of the school's audit log and
inclusion and consistency proofs between them (``auditTreeHead``, ``auditInclusionProof``,
``auditConsistencyProof``), and the platform's public keys (``/.well-known/jwks.json``). This script, which
needs no database, no network and no package beyond the standard library, checks:

- every head's signature (a compact JWS, ES256 on P-256, by one of the keys), and that its payload is a
  tree head (school, size, root);
- every inclusion proof: the leaf is in the tree whose root the signed head of that size states;
- every consistency proof: the tree of the older signed head is a prefix of the newer one's (the log only
  grew: nothing was removed, changed or reordered in between).

Usage::

    python standalone_verify.py --jwks jwks.json bundle.json [bundle.json ...]

A bundle is a JSON object with any of ``heads`` (a list of JWS strings), ``inclusion`` (a list of
``{"seq", "treeSize", "leafHash", "path"}``) and ``consistency`` (a list of ``{"fromSize", "toSize",
"path"}``); hashes are lowercase hex. Heads of several bundles (kept over time) are checked together: any
two heads of the same size must agree. Exit status 0 when everything checks, 1 otherwise (each problem is
printed).

Hashing is RFC 9162's: ``leaf = SHA-256(0x00 || entry)``, ``node = SHA-256(0x01 || left || right)``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from collections.abc import Sequence
from typing import Any

EMPTY_ROOT = hashlib.sha256(b"").digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


# --- Merkle proofs (RFC 9162 2.1.3.2 and 2.1.4.2) --------------------------------------------------------


def verify_inclusion(index: int, tree_size: int, leaf: bytes, path: Sequence[bytes], root: bytes) -> bool:
    """Whether ``path`` proves leaf ``index`` (0-based) with hash ``leaf`` is in the tree of ``root``."""
    if not 0 <= index < tree_size:
        return False
    fn, sn, r = index, tree_size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, path: Sequence[bytes]
) -> bool:
    """Whether ``path`` proves the tree of ``first`` leaves (``first_root``) is a prefix of the tree of
    ``second`` leaves (``second_root``)."""
    if not 0 < first <= second:
        return False
    if first == second:
        return not path and first_root == second_root
    if not path:
        return False
    proof = list(path)
    if first & (first - 1) == 0:
        proof.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


# --- ES256 (ECDSA on P-256 with SHA-256), verification only ------------------------------------------------

_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
_A = _P - 3
_B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_G = (
    0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
)
Point = tuple[int, int] | None


def _add(p1: Point, p2: Point) -> Point:
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2 and (y1 + y2) % _P == 0:
        return None
    if p1 == p2:
        slope = (3 * x1 * x1 + _A) * pow(2 * y1, -1, _P) % _P
    else:
        slope = (y2 - y1) * pow(x2 - x1, -1, _P) % _P
    x3 = (slope * slope - x1 - x2) % _P
    return x3, (slope * (x1 - x3) - y1) % _P


def _multiply(k: int, point: Point) -> Point:
    result: Point = None
    while k:
        if k & 1:
            result = _add(result, point)
        point = _add(point, point)
        k >>= 1
    return result


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def es256_verify(jwk: dict[str, Any], signing_input: bytes, signature: bytes) -> bool:
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256" or len(signature) != 64:
        return False
    q = (int.from_bytes(_b64(jwk["x"]), "big"), int.from_bytes(_b64(jwk["y"]), "big"))
    if (q[1] * q[1] - q[0] ** 3 - _A * q[0] - _B) % _P != 0:
        return False  # not a point of the curve
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    if not (0 < r < _N and 0 < s < _N):
        return False
    e = int.from_bytes(hashlib.sha256(signing_input).digest(), "big")
    w = pow(s, -1, _N)
    point = _add(_multiply(e * w % _N, _G), _multiply(r * w % _N, q))
    return point is not None and point[0] % _N == r


def jws_payload(token: str, jwks: dict[str, Any], *, typ: str = "audit-tree-head+jws") -> dict[str, Any]:
    """The payload of a compact JWS that one of ``jwks``'s keys signed with ES256; ValueError otherwise."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a compact JWS")
    header = json.loads(_b64(parts[0]))
    if header.get("alg") != "ES256" or header.get("typ") != typ:
        raise ValueError(f"not an ES256 {typ}")
    keys = [k for k in jwks.get("keys", []) if k.get("kid") == header.get("kid")]
    if not keys or not es256_verify(keys[0], f"{parts[0]}.{parts[1]}".encode(), _b64(parts[2])):
        raise ValueError(f"the signature does not verify with key {header.get('kid')!r}")
    payload = json.loads(_b64(parts[1]))
    if not isinstance(payload, dict) or not {"school_id", "tree_size", "root_hash"} <= set(payload):
        raise ValueError("the payload is not a tree head")
    return payload


# --- the command -----------------------------------------------------------------------------------------


def check(bundles: Sequence[dict[str, Any]], jwks: dict[str, Any]) -> list[str]:
    """Every problem found in ``bundles`` (downloaded heads and proofs); empty when all of it checks."""
    problems: list[str] = []
    roots: dict[tuple[str, int], bytes] = {}
    for bundle in bundles:
        for token in bundle.get("heads", []):
            try:
                head = jws_payload(token, jwks)
            except (ValueError, KeyError) as error:
                problems.append(f"head {token[:24]}...: {error}")
                continue
            key, root = (head["school_id"], int(head["tree_size"])), bytes.fromhex(head["root_hash"])
            if roots.setdefault(key, root) != root:
                problems.append(f"two signed heads of size {key[1]} disagree: the log was rewritten")
    by_size: dict[int, bytes] = {}
    for (_, size), root in roots.items():
        by_size[size] = root  # one school's bundles at a time; see the usage
    for bundle in bundles:
        for proof in bundle.get("inclusion", []):
            size, seq = int(proof["treeSize"]), int(proof["seq"])
            if size not in by_size:
                problems.append(f"inclusion of entry {seq}: no signed head of size {size}")
            elif not verify_inclusion(
                seq - 1,
                size,
                bytes.fromhex(proof["leafHash"]),
                [bytes.fromhex(h) for h in proof["path"]],
                by_size[size],
            ):
                problems.append(f"inclusion of entry {seq} in the tree of {size}: the proof does not verify")
        for proof in bundle.get("consistency", []):
            first, second = int(proof["fromSize"]), int(proof["toSize"])
            if first not in by_size or second not in by_size:
                problems.append(f"consistency {first} -> {second}: a signed head of either size is missing")
            elif not verify_consistency(
                first, second, by_size[first], by_size[second], [bytes.fromhex(h) for h in proof["path"]]
            ):
                problems.append(
                    f"consistency {first} -> {second}: the proof does not verify (not an extension)"
                )
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check downloaded audit tree heads and proofs.")
    parser.add_argument("--jwks", required=True, help="the platform's public keys (/.well-known/jwks.json)")
    parser.add_argument("bundles", nargs="+", help="JSON files of heads and proofs, one school's")
    args = parser.parse_args(argv)
    with open(args.jwks, encoding="utf-8") as handle:
        jwks = json.load(handle)
    bundles = []
    for name in args.bundles:
        with open(name, encoding="utf-8") as handle:
            bundles.append(json.load(handle))
    problems = check(bundles, jwks)
    for problem in problems:
        print(problem)
    if not problems:
        heads = sum(len(b.get("heads", [])) for b in bundles)
        proofs = sum(len(b.get("inclusion", [])) + len(b.get("consistency", [])) for b in bundles)
        print(f"ok: {heads} signed heads and {proofs} proofs verify")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
