# Helpers for scripts/test: install what the tests need from Debian's
# packages, and start throwaway services on this machine only.
# Sourced, not run.

# Installs the Debian packages named, when a command they provide is missing.
# usage: need_package COMMAND_OR_PATH_GLOB PACKAGE...
need_package() {
  local probe=$1; shift
  # shellcheck disable=SC2086
  if command -v "$probe" >/dev/null 2>&1 || [ -x "/usr/sbin/$probe" ] || compgen -G "$probe" >/dev/null; then
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "scripts/test: $probe is missing; install the Debian package(s) $* (as root: apt-get install -y $*)" >&2
    exit 1
  fi
  echo "scripts/test: installing $* from Debian's packages" >&2
  if [ -z "${MAMORI_APT_UPDATED:-}" ]; then
    apt-get update -qq
    MAMORI_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Starts a throwaway PostgreSQL cluster in a temporary directory, reachable
# only over a unix socket in that directory, and exports its superuser URL
# as MAMORI_TEST_DATABASE_URL. Stopped and removed on exit.
start_postgres() {
  local bin dir as
  bin=$(compgen -G '/usr/lib/postgresql/*/bin' | sort -V | tail -n 1)
  dir=$(mktemp -d /tmp/mamori-pg.XXXXXX)
  as=()
  if [ "$(id -u)" = 0 ]; then
    # initdb and postgres refuse to run as root: use Debian's postgres user.
    chown postgres: "$dir"
    as=(runuser -u postgres --)
  fi
  "${as[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  # A test cluster: durability settings off for speed (crash safety is
  # tested on the default SQLite store), no TCP listener at all.
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -s start -o \
    "-c listen_addresses='' -c unix_socket_directories=$dir -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    || { cat "$dir/server.log" >&2; exit 1; }
  MAMORI_PG_DIR=$dir
  MAMORI_PG_BIN=$bin
  export MAMORI_TEST_DATABASE_URL="postgres://postgres@localhost/postgres?host=$dir"
  echo "scripts/test: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') running for the tests ($dir)" >&2
}

stop_postgres() {
  if [ -n "${MAMORI_PG_DIR:-}" ]; then
    local as=()
    [ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
    "${as[@]}" "$MAMORI_PG_BIN/pg_ctl" -D "$MAMORI_PG_DIR/data" -m immediate -s stop >/dev/null 2>&1 || true
    rm -rf "$MAMORI_PG_DIR"
  fi
}
