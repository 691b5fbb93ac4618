"""The school's Merkle tree (RFC 9162, section 2.1): leaves, the tree's right edge, roots and proofs.

``leaf = SHA-256(0x00 || canonical(entry))`` (``canonical`` as for the chain, :func:`audit.chain.canonical`,
``seq`` included), ``node = SHA-256(0x01 || left || right)``. The sequencer keeps only the *frontier*: the
roots of the perfect subtrees along the right edge, largest first (one per 1-bit of the tree size), which
is enough to append a leaf and compute the root. Proofs are computed from the leaves (the school's
entries, read in ``seq`` order); they are checked by :mod:`audit.standalone_verify`, the stdlib-only
script a school runs on what it downloaded.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import datetime

from audit.chain import Chained, canonical
from audit.standalone_verify import EMPTY_ROOT, node_hash

__all__ = [
    "EMPTY_ROOT",
    "Frontier",
    "consistency_proof",
    "head_payload",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_of",
]


def leaf_hash(entry: Chained) -> bytes:
    return leaf_of(canonical(entry))


def leaf_of(canonical_entry: bytes) -> bytes:
    """:func:`leaf_hash` of an entry whose canonical form is known."""
    return hashlib.sha256(b"\x00" + canonical_entry).digest()


class Frontier:
    """The right edge of a Merkle tree of ``size`` leaves: append leaves, read the root."""

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != bin(size).count("1"):
            raise ValueError(f"a tree of {size} leaves has {bin(size).count('1')} frontier hashes")
        self.size, self.hashes = size, list(hashes)

    def append(self, leaf: bytes) -> None:
        # The subtrees' sizes are the 1-bits of ``size``, largest first; adding a leaf carries like +1.
        self.hashes.append(leaf)
        carry = self.size
        while carry & 1:
            right = self.hashes.pop()
            left = self.hashes.pop()
            self.hashes.append(node_hash(left, right))
            carry >>= 1
        self.size += 1

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        root = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            root = node_hash(left, root)
        return root


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


def root_of(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) (RFC 9162 2.1.1)."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(root_of(leaves[:k]), root_of(leaves[k:]))


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) (RFC 9162 2.1.3.1): the audit path of leaf ``index`` (0-based) in the tree of
    ``leaves``."""
    n = len(leaves)
    if not 0 <= index < n:
        raise ValueError(f"leaf {index} is not in a tree of {n}")
    if n == 1:
        return []
    k = _split(n)
    if index < k:
        return [*inclusion_proof(index, leaves[:k]), root_of(leaves[k:])]
    return [*inclusion_proof(index - k, leaves[k:]), root_of(leaves[:k])]


def consistency_proof(old_size: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) (RFC 9162 2.1.4.1): proves that the tree of the first ``old_size`` leaves is a
    prefix of the tree of ``leaves``."""
    n = len(leaves)
    if not 0 < old_size <= n:
        raise ValueError(f"no consistency proof from {old_size} to {n} leaves")
    return _subproof(old_size, leaves, True)


def _subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [root_of(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], complete), root_of(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), root_of(leaves[:k])]


def head_payload(
    *, school_id: uuid.UUID, tree_size: int, root_hash: bytes, chain_hash: bytes, signed_at: datetime
) -> str:
    """The JSON a tree head's signature covers (compact, key-sorted; hashes in lowercase hex)."""
    return json.dumps(
        {
            "school_id": str(school_id),
            "tree_size": tree_size,
            "root_hash": root_hash.hex(),
            "chain_hash": chain_hash.hex(),
            "signed_at": signed_at.isoformat(timespec="microseconds"),
        },
        sort_keys=True,
        separators=(",", ":"),
    )
