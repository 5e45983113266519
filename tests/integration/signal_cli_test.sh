#!/usr/bin/env bash
# tandem-signal as an administrator and an auditor run it: --help tells the
# truth, bad usage exits 2, `user add` reads the password from stdin (never
# argv) and stores only a scrypt hash, `audit verify` passes on an intact
# database, and after one audit row is edited (or deleted) with the sqlite3
# shell it exits 1 naming the entry.
set -u
sig=${1:?usage: signal_cli_test.sh PATH_TO_TANDEM_SIGNAL}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
db="$work/signal.db"
failures=0
checks=0

check() { # check NAME COMMAND...: the command must succeed
  local name=$1; shift
  checks=$((checks + 1))
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; failures=$((failures + 1)); fi
}

# run EXPECTED_STATUS ARGS...: runs tandem-signal with stdin from $work/in.
run() {
  local want=$1; shift
  "$sig" "$@" <"$work/in" >"$work/out" 2>"$work/err"
  local got=$?
  if [ "$got" -ne "$want" ]; then
    echo "  exit status $got, wanted $want for: $*"; cat "$work/out" "$work/err"; return 1
  fi
}
says() { grep -q -- "$1" "$work/out" "$work/err" || { echo "  output lacks '$1'"; cat "$work/out" "$work/err"; return 1; }; }

: >"$work/in"
check "help exits 0 and names the commands" run 0 --help
check "help names user add, audit verify, serve" \
  bash -c "grep -q 'user add NAME' '$work/out' && grep -q 'audit verify' '$work/out' && grep -q 'serve' '$work/out'"
check "help documents serve's flags" says "serve --db PATH --config PATH"
for sub in "serve" "user add" "audit verify" "user" "audit"; do
  for h in --help -h; do
    # shellcheck disable=SC2086  # the subcommand is two words on purpose
    check "$sub $h: usage, status 0" run 0 $sub $h
    check "$sub $h: prints the usage" says "user add NAME"
  done
done
check "serve --db x --help: usage, status 0" run 0 serve --db x --help
check "no command: status 2" run 2
check "unknown command: status 2" run 2 frobnicate
check "unknown command named" says "unknown command 'frobnicate'"
check "serve without --db: status 2" run 2 serve
check "serve message" says "serve needs --db PATH"
check "serve with a bad --listen: status 2" run 2 serve --db x --config y --listen nowhere
check "serve with an unknown option: status 2" run 2 serve --frob
check "user add without --db: status 2" run 2 user add alice --role rep
check "user add with bad role: status 2" run 2 user add alice --role boss --db "$db"
check "bad role named" says "unknown role 'boss'"
check "password on argv refused: status 2" run 2 user add alice --role rep --password hunter2 --db "$db"
check "unknown option: status 2" run 2 audit verify --db "$db" --bogus
check "audit verify of a missing file: status 1" run 1 audit verify --db "$work/nope.db"
[ -e "$work/nope.db" ] && { echo "FAIL verify created a database"; failures=$((failures + 1)); }

printf 'correct horse battery\n' >"$work/in"
check "user add rep with invite rights" \
  run 0 user add alice --role rep --may-invite --invite-profiles view_only,pointer --db "$db"
printf 'another secret\n' >"$work/in"
check "user add auditor" run 0 user add dave --role auditor --db "$db"
printf 'again\n' >"$work/in"
check "duplicate user: status 1" run 1 user add alice --role rep --db "$db"
check "duplicate named" says "already exists"
: >"$work/in"
check "empty stdin: status 1" run 1 user add erin --role rep --db "$db"
check "password stored only as scrypt" bash -c \
  "[ \"\$(sqlite3 '$db' \"select substr(password_hash,1,8) from users where name='alice'\")\" = '\$scrypt\$' ] &&
   ! sqlite3 '$db' .dump | grep -q 'correct horse'"

check "audit verify intact: status 0" run 0 audit verify --db "$db"
check "intact message counts entries" says "intact: 1 chain, 2 entries"
check "audit verify of an unknown session: status 1" run 1 audit verify --db "$db" --session s_none

# Edit one row behind the program's back (dropping the append-only trigger
# first, as anyone with the file can).
cp "$db" "$work/edited.db"
sqlite3 "$work/edited.db" "DROP TRIGGER audit_log_no_update;
  UPDATE audit_log SET detail = replace(detail, 'view_only,pointer', 'full') WHERE seq = 1;"
check "edited row: status 1" run 1 audit verify --db "$work/edited.db"
check "edited row named" says "chain system entry 1: content does not match its hash (edited)"

cp "$db" "$work/deleted.db"
sqlite3 "$work/deleted.db" "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = 1;"
check "deleted row: status 1" run 1 audit verify --db "$work/deleted.db"
check "deleted row named" says "entry 1: missing"

check "the original still verifies" run 0 audit verify --db "$db" --session system

echo "$((checks - failures))/$checks checks passed"
[ "$failures" -eq 0 ]
