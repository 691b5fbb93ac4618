"""The peer: PostGraphile 4 serving the same class view from the same database, as its users would.

PostGraphile compiles a GraphQL request into one SQL statement that builds the JSON in PostgreSQL. It is
given what a PostGraphile user would write for this screen: views over the tables (``security_invoker``,
so the runtime role's row-level security applies) with smart comments for keys and relations, and STABLE
SQL functions as computed columns (a group's pupils; a pupil's progress on a ladder, levels and secure
share from one pass over the latest judgements; the viewer). It connects as the runtime role, verifies the same ES256 access tokens with the app's public key,
and binds each request's transaction to the school exactly as the app does (``app.school_ids``), so row-level
security costs both the same.

Node and npm are needed; PostGraphile is installed by package name into ``.data/bench-peer`` on first
use. Without Node the bench runs without the peer and says so.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import asyncpg

POSTGRAPHILE = "postgraphile@4.14.1"
PEER_SCHEMA = "peer"

PEER_SQL = """
DROP SCHEMA IF EXISTS peer CASCADE;
CREATE SCHEMA peer;
GRANT USAGE ON SCHEMA peer TO {role};

CREATE VIEW peer.groups WITH (security_invoker = true) AS
    SELECT school_id, id, name FROM public.groups;
COMMENT ON VIEW peer.groups IS E'@primaryKey id';

CREATE VIEW peer.pupils WITH (security_invoker = true) AS
    SELECT school_id, id, forename, surname FROM public.pupils WHERE active;
COMMENT ON VIEW peer.pupils IS E'@primaryKey id';

CREATE VIEW peer.ladders WITH (security_invoker = true) AS
    SELECT id, title FROM public.curriculum_ladders;
COMMENT ON VIEW peer.ladders IS E'@primaryKey id';

CREATE VIEW peer.rungs WITH (security_invoker = true) AS
    SELECT id, ladder_id, position, code FROM public.curriculum_rungs;
COMMENT ON VIEW peer.rungs IS E'@primaryKey id\\n@foreignKey (ladder_id) references peer.ladders (id)';

CREATE VIEW peer.accounts WITH (security_invoker = true) AS
    SELECT school_id, id, username FROM public.accounts;
COMMENT ON VIEW peer.accounts IS E'@primaryKey id';

CREATE FUNCTION peer.groups_pupils(g peer.groups) RETURNS SETOF peer.pupils
LANGUAGE sql STABLE AS $$
    SELECT p.* FROM peer.pupils p
    JOIN public.group_pupils gp ON gp.school_id = p.school_id AND gp.pupil_id = p.id
    WHERE gp.school_id = g.school_id AND gp.group_id = g.id
    ORDER BY p.surname, p.forename, p.id
$$;

CREATE TYPE peer.progress AS (levels text[], secure_share numeric);

CREATE FUNCTION peer.pupils_progress(p peer.pupils, ladder uuid) RETURNS peer.progress
LANGUAGE sql STABLE AS $$
    SELECT array_agg(latest.level ORDER BY r.position),
           round(count(*) FILTER (WHERE latest.level IN ('SECURE', 'GREATER_DEPTH'))::numeric / count(*), 4)
    FROM public.curriculum_rungs r
    LEFT JOIN LATERAL (
        SELECT j.level FROM public.judgements j
        WHERE j.school_id = p.school_id AND j.pupil_id = p.id AND j.ladder_id = ladder AND j.rung_id = r.id
        ORDER BY j.assessed_on DESC, j.recorded_at DESC LIMIT 1
    ) latest ON true
    WHERE r.ladder_id = ladder
$$;

CREATE FUNCTION peer.viewer() RETURNS peer.accounts
LANGUAGE sql STABLE AS $$
    SELECT * FROM peer.accounts WHERE id = nullif(current_setting('jwt.claims.sub', true), '')::uuid
$$;

GRANT SELECT ON ALL TABLES IN SCHEMA peer TO {role};
"""

CLASS_VIEW = """
query ClassView($group: UUID!, $ladder: UUID!) {
  group: groupById(id: $group) {
    id name
    pupils { nodes { id forename surname progress(ladder: $ladder) { levels secureShare } } }
  }
  ladder: ladderById(id: $ladder) { id title rungsByLadderId(orderBy: POSITION_ASC) { nodes { id code } } }
}
"""

VIEWER = "{ viewer { username } }"

SERVER_JS = """
const http = require('http');
const { Pool } = require('pg');
const { postgraphile } = require('postgraphile');

const port = Number(process.argv[2]);
const pool = new Pool({ connectionString: process.env.PEER_DATABASE_URL, max: 20 });
const middleware = postgraphile(pool, 'peer', {
  jwtPublicKey: process.env.PEER_JWT_PUBLIC_KEY,
  jwtVerifyOptions: { algorithms: ['ES256'], audience: /^school:/ },
  pgSettings: (req) => ({ 'app.school_ids': req.headers['x-school-id'] || '' }),
  disableQueryLog: true,
  disableDefaultMutations: true,
  dynamicJson: true,
  setofFunctionsContainNulls: false,
  legacyRelations: 'omit',
  retryOnInitFail: false,
  graphqlRoute: '/graphql',
});
http.createServer(middleware).listen(port, '127.0.0.1');
"""


def install(folder: Path) -> Path | None:
    """PostGraphile installed under ``folder`` (once) and the server script beside it; None without Node."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "node_modules" / "postgraphile").is_dir():
        subprocess.run(  # noqa: S603 - npm by package name, into our own folder
            [npm, "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(folder), POSTGRAPHILE],
            check=True,
        )
    script = folder / "peer-server.js"
    script.write_text(SERVER_JS, encoding="utf-8")
    return script


async def create_schema(owner_dsn: str, runtime_role: str) -> None:
    """The peer's views and functions, in their own schema of the bench database (as the owner)."""
    connection = await asyncpg.connect(owner_dsn)
    try:
        await connection.execute(PEER_SQL.format(role=f'"{runtime_role}"'))
    finally:
        await connection.close()


def public_key_pem(public_jwks: dict[str, Any]) -> str:
    """The app's current signing key as PEM, which is what PostGraphile's JWT verification takes."""
    from joserfc.jwk import ECKey

    pem: bytes = ECKey.import_key(public_jwks["keys"][-1]).as_pem(private=False)
    return pem.decode()


def _uuid_of(global_id: str) -> uuid.UUID:
    """The database id inside one of schoolgraph's global ids (graph.core.relay)."""
    from graph.core.relay import from_global_id

    decoded = from_global_id(global_id)
    if decoded is None:
        raise RuntimeError(f"not a global id: {global_id!r}")
    return decoded[1]


def normalise_app(body: dict[str, Any]) -> dict[str, Any]:
    """schoolgraph's class view, with global ids read back as UUIDs, for comparing with the peer's."""
    view = body["data"]["classProgress"]
    return {
        "group": (_uuid_of(view["group"]["id"]), view["group"]["name"]),
        "ladder": (_uuid_of(view["ladder"]["id"]), view["ladder"]["title"]),
        "rungs": [(_uuid_of(r["id"]), r["code"]) for r in view["ladder"]["rungs"]],
        "pupils": [
            (
                _uuid_of(p["pupil"]["id"]),
                p["pupil"]["forename"],
                p["pupil"]["surname"],
                round(float(p["secureShare"]), 4),
                p["levels"],
            )
            for p in view["pupils"]
        ],
    }


def normalise_peer(body: dict[str, Any]) -> dict[str, Any]:
    if body.get("errors"):
        raise RuntimeError(f"the peer refused the class view: {json.dumps(body['errors'])[:500]}")
    group, ladder = body["data"]["group"], body["data"]["ladder"]
    return {
        "group": (uuid.UUID(group["id"]), group["name"]),
        "ladder": (uuid.UUID(ladder["id"]), ladder["title"]),
        "rungs": [(uuid.UUID(r["id"]), r["code"]) for r in ladder["rungsByLadderId"]["nodes"]],
        "pupils": [
            (
                uuid.UUID(p["id"]),
                p["forename"],
                p["surname"],
                round(float(p["progress"]["secureShare"]), 4),
                p["progress"]["levels"],
            )
            for p in group["pupils"]["nodes"]
        ],
    }
