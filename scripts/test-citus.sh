#!/usr/bin/env bash
# make test-citus: the test suite with every table distributed, on a throwaway Citus cluster (ADR 0019).
#
# Builds and installs Citus into the machine's PostgreSQL 15 when it is missing (CITUS_VENDOR: the folder
# with the Citus source tarball and its build-citus.sh / cluster.sh scripts), starts a coordinator and two
# workers on 127.0.0.1 (CITUS_PORTS, default 9730-9732) under CITUS_DIR (default .data/citus), creates a
# fresh database with Citus in it, runs pytest against it (the session fixture migrates it: migration 0016
# distributes the tables) and stops the cluster, whatever the outcome. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CITUS_VENDOR:?set CITUS_VENDOR to the folder holding citus-*-src.tar.gz, build-citus.sh and cluster.sh}"
export CITUS_DIR=${CITUS_DIR:-$PWD/.data/citus}
export CITUS_PORTS=${CITUS_PORTS:-"9730 9731 9732"}
DB=${CITUS_TEST_DB:-schoolgraph_citus_test}
PG_CONFIG=${PG_CONFIG:-pg_config}
read -r -a ports <<< "$CITUS_PORTS"

if [ ! -e "$("$PG_CONFIG" --pkglibdir)/citus.so" ]; then
    echo "Citus is not installed in $("$PG_CONFIG" --pkglibdir): building it"
    src=$(mktemp -d)
    tar -xzf "$CITUS_VENDOR"/citus-*-src.tar.gz -C "$src"
    tree=$(find "$src" -maxdepth 2 -name configure -printf '%h\n' | head -1)
    CITUS_SRC="$tree" PG_CONFIG="$PG_CONFIG" bash "$CITUS_VENDOR/build-citus.sh"
    rm -rf "$src"
fi

cluster() { bash "$CITUS_VENDOR/cluster.sh" "$@"; }
trap 'cluster stop' EXIT
if [ -e "$CITUS_DIR/node${ports[0]}/PG_VERSION" ]; then cluster start >/dev/null; else cluster init >/dev/null; fi
cluster dropdb "$DB" >/dev/null
cluster newdb "$DB"
# Four shards per table instead of 32: the suite creates hundreds of small schools, and every DDL and
# multi-shard read touches each shard; routing and colocation are the same at any count.
psql -X -q -h 127.0.0.1 -p "${ports[0]}" -U postgres -d "$DB" -c "ALTER DATABASE \"$DB\" SET citus.shard_count = 4"

export TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:${ports[0]}/$DB"
export SCHOOLGRAPH_TEST_CITUS=1
echo "tests use the Citus coordinator: $TEST_DATABASE_URL"
.venv/bin/pytest "$@"
