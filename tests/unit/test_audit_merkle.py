"""The Merkle tree of the audit log (RFC 9162): the sequencer's frontier, proofs, and the stand-alone
verifier's checks of proofs and signed heads."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime

import pytest

from audit.merkle import Frontier, consistency_proof, head_payload, inclusion_proof, root_of
from audit.standalone_verify import (
    EMPTY_ROOT,
    check,
    jws_payload,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from auth.tokens import SigningKeys

LEAVES = [hashlib.sha256(b"\x00" + bytes([i])).digest() for i in range(33)]


def test_the_frontier_gives_the_rfc_9162_root_at_every_size() -> None:
    """Appending leaf by leaf to the right edge gives MTH(D[n]) for every n, as defined recursively."""
    frontier = Frontier()
    assert frontier.root() == EMPTY_ROOT == root_of([])
    for n, leaf in enumerate(LEAVES, start=1):
        frontier.append(leaf)
        assert frontier.root() == root_of(LEAVES[:n])
        assert len(frontier.hashes) == bin(n).count("1")
        # A frontier stored and read back continues the same tree.
        frontier = Frontier(frontier.size, frontier.hashes)
    # The RFC's own shape for three leaves: node(node(l0, l1), l2).
    assert root_of(LEAVES[:3]) == node_hash(node_hash(LEAVES[0], LEAVES[1]), LEAVES[2])


def test_every_inclusion_proof_verifies_and_a_wrong_one_does_not() -> None:
    for n in range(1, len(LEAVES) + 1):
        root = root_of(LEAVES[:n])
        for index in range(n):
            path = inclusion_proof(index, LEAVES[:n])
            assert verify_inclusion(index, n, LEAVES[index], path, root), (index, n)
            assert not verify_inclusion(index, n, LEAVES[(index + 1) % 33], path, root) or n == 1
            if path:
                assert not verify_inclusion(index, n, LEAVES[index], path[:-1], root)


def test_every_consistency_proof_verifies_and_a_rewritten_prefix_does_not() -> None:
    for n in range(1, len(LEAVES) + 1):
        new_root = root_of(LEAVES[:n])
        for m in range(1, n + 1):
            path = consistency_proof(m, LEAVES[:n])
            assert verify_consistency(m, n, root_of(LEAVES[:m]), new_root, path), (m, n)
            forged = root_of([LEAVES[32], *LEAVES[1:m]])  # the old tree with its first leaf rewritten
            assert not verify_consistency(m, n, forged, new_root, path), (m, n)


def test_a_signed_head_verifies_with_the_published_keys_only() -> None:
    """The stand-alone verifier checks the platform's ES256 signature with the standard library alone."""
    keys, other = SigningKeys.generate(), SigningKeys.generate()
    root = root_of(LEAVES[:5])
    payload = head_payload(
        school_id=uuid.UUID(int=1),
        tree_size=5,
        root_hash=root,
        chain_hash=LEAVES[0],
        signed_at=datetime(2026, 12, 1, tzinfo=UTC),
    )
    token = keys.sign_jws(payload, typ="audit-tree-head+jws")
    assert jws_payload(token, keys.public_jwks()) == json.loads(payload)
    with pytest.raises(ValueError, match="does not verify"):
        jws_payload(token, {"keys": [{**k, "kid": keys.current_kid} for k in other.public_jwks()["keys"]]})
    head, body, signature = token.split(".")
    tampered = f"{head}.{body[:-2]}AA.{signature}"
    with pytest.raises(ValueError):
        jws_payload(tampered, keys.public_jwks())
    proof = {
        "seq": 3,
        "treeSize": 5,
        "leafHash": LEAVES[2].hex(),
        "path": [h.hex() for h in inclusion_proof(2, LEAVES[:5])],
    }
    assert check([{"heads": [token], "inclusion": [proof]}], keys.public_jwks()) == []
    wrong = {**proof, "leafHash": LEAVES[3].hex()}
    assert check([{"heads": [token], "inclusion": [wrong]}], keys.public_jwks()) == [
        "inclusion of entry 3 in the tree of 5: the proof does not verify"
    ]


def test_an_anchor_file_that_is_not_exported_heads_is_refused_naming_the_line() -> None:
    """`audit verify --anchor FILE` reads JSON lines of `audit head`; a bad line is named, not skipped."""
    from audit.verify import read_anchors

    good = json.dumps(
        {
            "school_id": str(uuid.UUID(int=1)),
            "tree_size": 3,
            "root_hash": LEAVES[0].hex(),
            "chain_hash": LEAVES[1].hex(),
            "signature": "a.b.c",
        }
    )
    (anchor,) = read_anchors(good + "\n\n", source="heads.jsonl")
    assert (anchor.tree_size, anchor.root_hash) == (3, LEAVES[0])
    with pytest.raises(ValueError, match=r"heads.jsonl, head 2: not an exported tree head"):
        read_anchors(good + "\n" + json.dumps({"school_id": "x"}), source="heads.jsonl")
