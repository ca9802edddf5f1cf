#!/usr/bin/env bash
# Prepares PostgreSQL 15 for Jingyan's scaled deployment (JINGYAN_DATABASE_URL=postgresql://…):
#   * pgvector 0.8.0, built from Debian's source package (bookworm does not package it; the trixie
#     source builds against postgresql-server-dev-15 in seconds), checked against a pinned SHA-256;
#   * postgresql-15-rum when the packaged build loads on the running server (optional: search
#     falls back to GIN);
#   * the database $JINGYAN_PG_DATABASE (default jingyan) with a UTF-8 LC_CTYPE and both extensions.
# Idempotent: every step is skipped when already done. Without a PostgreSQL 15 server it only says so.
set -euo pipefail
PG_MAJOR=15
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}
export PGHOST PGPORT PGUSER
DATABASE=${JINGYAN_PG_DATABASE:-jingyan}
PGVECTOR_VERSION=0.8.0
PGVECTOR_SHA256=867a2c328d4928a5a9d6f052cd3bc78c7d60228a9b914ad32aa3db88e9de27b0
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
EXT_DIR=/usr/share/postgresql/$PG_MAJOR/extension
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

if [ ! -x /usr/lib/postgresql/$PG_MAJOR/bin/postgres ]; then
  echo "PostgreSQL $PG_MAJOR is not installed: skipping the PostgreSQL set-up (the SQLite default needs none)."
  exit 0
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then
    $SUDO apt-get update -q
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "$@"
}

if [ ! -f "$EXT_DIR/vector--$PGVECTOR_VERSION.sql" ]; then
  need=()
  for pkg in postgresql-server-dev-$PG_MAJOR build-essential curl; do
    installed "$pkg" || need+=("$pkg")
  done
  [ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  tarball=pgvector_$PGVECTOR_VERSION.orig.tar.gz
  echo "Building pgvector $PGVECTOR_VERSION from Debian's source package"
  curl -fsSL -o "$work/$tarball" "$MIRROR/pool/main/p/pgvector/$tarball"
  echo "$PGVECTOR_SHA256  $work/$tarball" | sha256sum -c --quiet -
  tar -xzf "$work/$tarball" -C "$work"
  # OPTFLAGS="": no -march=native, so the library runs on any x86-64 the data directory moves to
  make -s -C "$work/pgvector-$PGVECTOR_VERSION" PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config OPTFLAGS="" >/dev/null
  $SUDO make -s -C "$work/pgvector-$PGVECTOR_VERSION" PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config install >/dev/null
fi

if ! pg_isready -q; then
  # the SQLite default runs without it; the PostgreSQL tests will fail and say so
  echo "PostgreSQL is not answering at $PGHOST:$PGPORT: start it, then run 'make system' again." >&2
  exit 0
fi

psql_() { PGOPTIONS="--client-min-messages=warning" psql -X -q -v ON_ERROR_STOP=1 "$@"; }

if [ ! -f "$EXT_DIR/rum.control" ] && apt-cache show postgresql-$PG_MAJOR-rum >/dev/null 2>&1; then
  apt_install postgresql-$PG_MAJOR-rum || echo "postgresql-$PG_MAJOR-rum did not install: search uses GIN."
fi
if ! psql -X -At -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'" | grep -q 1; then
  echo "Creating database $DATABASE (UTF-8, LC_CTYPE C.UTF-8)"
  createdb -T template0 -E UTF8 --lc-collate=C.UTF-8 --lc-ctype=C.UTF-8 "$DATABASE"
fi
psql_ -d "$DATABASE" -c "CREATE EXTENSION IF NOT EXISTS vector" -c "CREATE EXTENSION IF NOT EXISTS pg_trgm"
# a rum build for another minor release may fail to load: search then uses GIN
if [ -f "$EXT_DIR/rum.control" ] && ! psql_ -d "$DATABASE" -c "CREATE EXTENSION IF NOT EXISTS rum" 2>/dev/null; then
  echo "postgresql-$PG_MAJOR-rum does not load on this server: search uses GIN."
fi
