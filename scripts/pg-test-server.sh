#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for izamon's tests, on 127.0.0.1 only.
#
#   scripts/pg-test-server.sh start DIR   initdb into DIR/data, start the
#                                         server on a free port, print its
#                                         URL (postgresql://izatest@127.0.0.1:
#                                         PORT, no database) and keep it in
#                                         DIR/url
#   scripts/pg-test-server.sh stop DIR    stop it (fast, then immediate) and
#                                         remove DIR
#
# The superuser izatest authenticates by "trust" on 127.0.0.1 and the socket
# in DIR/sock: a test cluster, never a production one.  fsync is off.  Every
# wait is bounded.  PostgreSQL refuses to run as root: as root the cluster
# runs as IZA_PG_OS_USER (default nobody) through runuser, and DIR is given
# to that user.  The binaries are Debian's (/usr/lib/postgresql/N/bin, the
# newest N, or pg_config --bindir), else initdb and pg_ctl on PATH.
set -euo pipefail

usage() {
	echo "usage: $0 start|stop DIR" >&2
	exit 2
}
[ $# -eq 2 ] || usage
cmd=$1
dir=$2

bindir() {
	local d
	if command -v pg_config >/dev/null && d=$(pg_config --bindir 2>/dev/null) &&
		[ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
		echo "$d"
		return
	fi
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n -r); do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return
		fi
	done
	d=$(command -v initdb 2>/dev/null) || {
		echo "pg-test-server: no PostgreSQL server binaries (apt-get install postgresql; scripts/setup.sh does)" >&2
		exit 1
	}
	dirname "$(readlink -f "$d")"
}

# run a command as the cluster's owner
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$owner" -- "$@"
	else
		"$@"
	fi
}

owner=${IZA_PG_OS_USER:-nobody}

# is something listening on 127.0.0.1:$1?
port_busy() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
	local bin port tries=0
	bin=$(bindir)
	mkdir -p "$dir"
	if [ -e "$dir/data" ]; then
		echo "pg-test-server: $dir/data exists (stop it first)" >&2
		exit 1
	fi
	mkdir -p "$dir/data" "$dir/sock"
	if [ "$(id -u)" -eq 0 ]; then
		chown -R "$owner" "$dir"
		as_owner test -w "$dir/data" || {
			echo "pg-test-server: $owner cannot write $dir (its parent directories must be searchable by $owner)" >&2
			exit 1
		}
	fi
	chmod 0700 "$dir/data"
	as_owner timeout 120 "$bin/initdb" -D "$dir/data" -U izatest --auth=trust \
		--encoding=UTF8 --locale=C --no-sync --no-instructions >"$dir/initdb.log" 2>&1 || {
		echo "pg-test-server: initdb failed:" >&2
		tail -20 "$dir/initdb.log" >&2
		exit 1
	}
	while :; do
		tries=$((tries + 1))
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		port_busy "$port" && continue
		if as_owner timeout 60 "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
			-o "-c listen_addresses=127.0.0.1 -p $port -k $dir/sock -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
			start >/dev/null 2>&1; then
			break
		fi
		if [ $tries -ge 5 ]; then
			echo "pg-test-server: the server did not start:" >&2
			tail -20 "$dir/server.log" >&2
			exit 1
		fi
	done
	echo "postgresql://izatest@127.0.0.1:$port" >"$dir/url"
	cat "$dir/url"
}

stop() {
	local bin
	[ -d "$dir" ] || return 0
	if [ -f "$dir/data/postmaster.pid" ]; then
		bin=$(bindir)
		as_owner timeout 40 "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
			as_owner timeout 40 "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 ||
			echo "pg-test-server: the server in $dir did not stop" >&2
	fi
	rm -rf "$dir"
}

case $cmd in
start) start ;;
stop) stop ;;
*) usage ;;
esac
