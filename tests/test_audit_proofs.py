"""A school admin downloads the school's signed tree heads and proofs over GraphQL and checks them with the
stand-alone verifier (standard library only, no database): the log only grew, and an entry is in it.
Nobody else gets them (issue 15, LRS 5.1, LRS 8.9)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx

from audit import standalone_verify
from common.settings import REPO_ROOT
from server.runtime import Runtime
from tests.factories.audit import sequence, tamper
from tests.factories.schools import SchoolData, SchoolFactory, gql, login
from tests.test_audit_integrity import _rewrite_log_and_heads

HEAD = "treeSize rootHash chainHash signedAt signature"
HEAD_QUERY = f"query($n: Int) {{ auditTreeHead(treeSize: $n) {{ {HEAD} }} }}"
INCLUSION = f"""query($seq: Int!, $n: Int) {{
  auditInclusionProof(seq: $seq, treeSize: $n) {{ seq treeSize leafHash path head {{ {HEAD} }} }}
}}"""
CONSISTENCY = f"""query($from: Int!, $to: Int) {{
  auditConsistencyProof(fromSize: $from, toSize: $to) {{ fromSize toSize path fromHead {{ {HEAD} }} toHead {{ {HEAD} }} }}
}}"""
VERIFIER = REPO_ROOT / "audit" / "standalone_verify.py"


async def _busy_school(
    client: httpx.AsyncClient, factory: SchoolFactory, runtime: Runtime
) -> tuple[SchoolData, str]:
    """A school whose admin read and acted a few times, sequenced after each request (several heads)."""
    school = await factory.school(pupils_per_group=1)
    admin = await login(client, school.slug, "admin")
    await sequence(runtime.engine, school.id, runtime.auth.keys)
    for _ in range(3):
        await gql(client, school.slug, "{ pupils { edges { node { id } } } }", token=admin)
        await sequence(runtime.engine, school.id, runtime.auth.keys)
    return school, admin


async def _verify_offline(tmp_path: Path, jwks: dict[str, Any], *bundles: dict[str, Any]) -> tuple[int, str]:
    """Run the stand-alone verifier as a school would: a copy of the script alone, python -I (no
    project on the path), on files."""
    (tmp_path / "jwks.json").write_text(json.dumps(jwks))
    script = tmp_path / "standalone_verify.py"
    script.write_text(VERIFIER.read_text())
    names = []
    for n, bundle in enumerate(bundles):
        (tmp_path / f"bundle{n}.json").write_text(json.dumps(bundle))
        names.append(f"bundle{n}.json")
    done = await anyio.run_process(
        [sys.executable, "-I", str(script), "--jwks", "jwks.json", *names], cwd=tmp_path, check=False
    )
    return done.returncode, done.stdout.decode()


async def test_downloaded_heads_and_proofs_check_with_the_standalone_verifier(
    client: httpx.AsyncClient, factory: SchoolFactory, runtime: Runtime, tmp_path: Path
) -> None:
    """Issue 15: the school admin's signed heads, an inclusion proof of an entry and a consistency proof
    from an older head to the latest verify offline; a doctored proof does not."""
    school, admin = await _busy_school(client, factory, runtime)
    latest = (await gql(client, school.slug, HEAD_QUERY, token=admin))["data"]["auditTreeHead"]
    older = (await gql(client, school.slug, HEAD_QUERY, {"n": 2}, token=admin))["data"]["auditTreeHead"]
    assert older["treeSize"] == 2 and latest["treeSize"] > 2
    body = await gql(client, school.slug, INCLUSION, {"seq": 2, "n": latest["treeSize"]}, token=admin)
    inclusion = body["data"]["auditInclusionProof"]
    assert (inclusion["seq"], inclusion["treeSize"], inclusion["head"]) == (2, latest["treeSize"], latest)
    body = await gql(client, school.slug, CONSISTENCY, {"from": 2}, token=admin)
    consistency = body["data"]["auditConsistencyProof"]
    assert (consistency["fromHead"], consistency["toHead"]) == (older, latest)
    jwks = (await client.get("/.well-known/jwks.json")).json()

    bundle = {
        "heads": [older["signature"], latest["signature"]],
        "inclusion": [{k: inclusion[k] for k in ("seq", "treeSize", "leafHash", "path")}],
        "consistency": [{k: consistency[k] for k in ("fromSize", "toSize", "path")}],
    }
    status, output = await _verify_offline(tmp_path, jwks, bundle)
    assert (status, output.strip()) == (0, "ok: 2 signed heads and 2 proofs verify")

    doctored = {
        **bundle,
        "consistency": [{**bundle["consistency"][0], "path": [h[::-1] for h in consistency["path"]]}],
    }
    status, output = await _verify_offline(tmp_path, jwks, doctored)
    assert status == 1 and f"consistency 2 -> {latest['treeSize']}: the proof does not verify" in output


async def test_a_head_kept_by_the_school_exposes_a_rewritten_log(
    client: httpx.AsyncClient, factory: SchoolFactory, runtime: Runtime, tmp_path: Path, owner_engine: Any
) -> None:
    """Issue 15: the school kept its signed head of size 2; the owner, holding the database and the
    platform key, rewrites an early entry and re-signs every head. The heads and proofs downloaded now
    check among themselves, but not with the head the school kept: the verifier says the log was rewritten."""
    school, admin = await _busy_school(client, factory, runtime)
    kept = (await gql(client, school.slug, HEAD_QUERY, {"n": 3}, token=admin))["data"]["auditTreeHead"]
    await tamper(owner_engine, school.id, lambda c: _rewrite_log_and_heads(c, school.id, runtime.auth.keys))
    body = await gql(client, school.slug, CONSISTENCY, {"from": 3}, token=admin)
    proof = body["data"]["auditConsistencyProof"]
    now = {
        "heads": [proof["fromHead"]["signature"], proof["toHead"]["signature"]],
        "consistency": [{k: proof[k] for k in ("fromSize", "toSize", "path")}],
    }
    jwks = (await client.get("/.well-known/jwks.json")).json()
    assert (await _verify_offline(tmp_path, jwks, now))[0] == 0  # fooled without the kept head
    status, output = await _verify_offline(tmp_path, jwks, {"heads": [kept["signature"]]}, now)
    assert status == 1 and "two signed heads of size 3 disagree: the log was rewritten" in output


async def test_proofs_refuse_bad_input_with_the_field(
    client: httpx.AsyncClient, factory: SchoolFactory, runtime: Runtime
) -> None:
    """ARCHITECTURE (bad input): a seq outside the tree, a size without a signed head, sizes the wrong
    way round are BAD_USER_INPUT errors naming the argument."""
    school, admin = await _busy_school(client, factory, runtime)
    cases = [
        (INCLUSION, {"seq": 0}, "seq"),
        (INCLUSION, {"seq": 1, "n": 10_000}, "treeSize"),
        (CONSISTENCY, {"from": 10_000}, "fromSize"),
        (CONSISTENCY, {"from": 3, "to": 2}, "toSize"),
    ]
    for query, variables, field in cases:
        body = await gql(client, school.slug, query, variables, token=admin)
        (error,) = body["errors"]
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}, (variables, error)


async def test_nobody_else_gets_a_schools_heads_or_proofs(
    client: httpx.AsyncClient, factory: SchoolFactory, runtime: Runtime
) -> None:
    """LRS 8.9, issue 15: staff, pupils and parents are refused (FORBIDDEN), anonymous callers too
    (UNAUTHENTICATED), A's admin token at B is refused, and B's admin gets B's heads, never A's."""
    a, admin_a = await _busy_school(client, factory, runtime)
    b, admin_b = await _busy_school(client, factory, runtime)
    head_a = (await gql(client, a.slug, HEAD_QUERY, token=admin_a))["data"]["auditTreeHead"]
    head_b = (await gql(client, b.slug, HEAD_QUERY, token=admin_b))["data"]["auditTreeHead"]
    assert head_a["signature"] != head_b["signature"]
    payload_b = standalone_verify.jws_payload(head_b["signature"], runtime.auth.keys.public_jwks())
    assert payload_b["school_id"] == str(b.id)
    queries = [
        (HEAD_QUERY, {}, "auditTreeHead"),
        (INCLUSION, {"seq": 1}, "auditInclusionProof"),
        (CONSISTENCY, {"from": 1}, "auditConsistencyProof"),
    ]
    for username in ("teacher1", "pupil1", "parent1"):
        token = await login(client, a.slug, username)
        for query, variables, field in queries:
            body = await gql(client, a.slug, query, variables, token=token)
            assert body["data"] == {field: None}, (username, body)
            assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", username
    for query, variables, field in queries:
        anonymous = await gql(client, a.slug, query, variables)
        assert anonymous["data"] == {field: None}
        assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        elsewhere = await gql(client, b.slug, query, variables, token=admin_a)
        assert elsewhere["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
