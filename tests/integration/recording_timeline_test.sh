#!/usr/bin/env bash
# tandem-replay timeline / info --db against a real signaling database:
# accounts by `tandem-signal user add`, a session played through the core
# API at known times (recording_timeline_session), a recording of that
# session starting at a known instant (recording_synth --start-unix-us).
# Asserts the merged timeline's order, offsets, participants and a verified
# audit chain; that the database is not written; that a tampered audit row
# makes verified false and names the entry; clear errors (no such session,
# wrong key, not a recording, missing --db).
# usage: recording_timeline_test.sh TANDEM_REPLAY RECORDING_SYNTH TANDEM_SIGNAL SESSION_HELPER
set -euo pipefail
replay=$1 synth=$2 signal=$3 helper=$4
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/master.key"
head -c 32 /dev/urandom > "$dir/wrong.key"
db=$dir/signal.db
k=(--key-file "$dir/master.key")

echo 'alice-password-1' | "$signal" user add alice --role rep --may-invite \
  --invite-profiles view_only,pointer --db "$db" >/dev/null
base_ms=$(( $(date +%s) * 1000 ))
"$helper" "$db" alice "$base_ms" > "$dir/ids"
sid=$(awk '$1=="session"{print $2}' "$dir/ids")
[[ $sid == s_* ]] || fail "no session id from the helper: $(cat "$dir/ids")"
"$signal" audit verify --db "$db" --session "$sid" >/dev/null || fail "tandem-signal audit verify"
"$synth" "$dir/rec.tdmrec" "${k[@]}" --session "$sid" --frames 90 \
  --start-unix-us "$((base_ms * 1000))" >/dev/null

sum_before=$(sha256sum "$db" | cut -d' ' -f1)
"$replay" timeline "$dir/rec.tdmrec" "${k[@]}" --db "$db" > "$dir/tl.json"
[[ $(sha256sum "$db" | cut -d' ' -f1) == "$sum_before" ]] || fail "timeline changed the database"

python3 - "$dir/tl.json" "$dir/ids" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
ids = dict(l.split() for l in open(sys.argv[2]))
def fail(m): sys.exit("FAIL: " + m)
rec, audit, ev = doc["recording"], doc["audit"], doc["events"]
if rec["session"] != ids["session"]: fail("recording session %r" % rec["session"])
if rec["ends"] != "complete" or not rec["verified"]: fail("recording not complete: %r" % rec)
if abs(rec["duration_s"] - 3.0) > 0.05: fail("duration %r" % rec["duration_s"])
if audit["verified"] is not True: fail("audit not verified: %r" % audit.get("problem"))
t = [e["unix_s"] for e in ev]
if t != sorted(t): fail("events not in time order")
for e in ev:
    if abs(e["unix_s"] - rec["start_unix_s"] - e["offset_s"]) > 1e-3: fail("offset vs unix: %r" % e)
def one(kind, **kw):
    m = [e for e in ev if e["kind"] == kind and all(e["details"].get(a) == b for a, b in kw.items())]
    if not m: fail("no %s %r event" % (kind, kw))
    return m
def near(e, want):
    if abs(e["offset_s"] - want) > 0.01: fail("%s at %.3f s, want %.3f" % (e["kind"], e["offset_s"], want))
joins = one("participant_joined")
if [j["who"]["id"] for j in joins] != [ids["rep"], ids["customer"], ids["invitee"]]:
    fail("joins out of order: %r" % [j["who"] for j in joins])
if [j["details"]["kind"] for j in joins] != ["rep", "customer", "invited"]: fail("join kinds")
if joins[2]["who"]["name"] != "Eve Expert": fail("invitee name %r" % joins[2]["who"])
for j, want in zip(joins, (-2.0, -1.0, 0.3)): near(j, want)
near(one("session_opened")[0], -2.0)
near(one("recording_start")[0], 0.0)
near(one("stream_start", stream=1)[0], 0.0)
if not one("keyframe", stream=1)[0]["offset_s"] < 0.1: fail("no keyframe at the start")
p = one("profile_changed", to="pointer")[0]; near(p, 0.5)
if p["subject"]["id"] != ids["invitee"]: fail("profile change subject %r" % p["subject"])
near(one("invite_created")[0], 0.2)
d = one("input_denied")[0]; near(d, 0.4)
if d["who"]["id"] != ids["invitee"] or d["details"]["profile"] != "view_only": fail("denied %r" % d)
a = one("input_allowed", count=3)[0]; near(a, 1.0)  # the per-second count, stamped at its second
if a["who"]["id"] != ids["rep"]: fail("allowed count by %r" % a["who"])
one("input_allowed", count=1, profile="pointer")
near(one("participant_left")[0], 2.5)
near(one("recording_end")[0], 3.0)
near(one("session_ended")[0], 3.5)
kinds = [e["kind"] for e in ev]
if kinds.index("recording_start") > kinds.index("stream_start"): fail("start after stream start")
parts = {p["id"]: p for p in audit["participants"]}
if parts[ids["invitee"]]["profiles"] != ["view_only", "pointer"]: fail("invitee profiles %r" % parts[ids["invitee"]])
if parts[ids["invitee"]]["left_how"] != "participant_left": fail("invitee left %r" % parts[ids["invitee"]])
if parts[ids["rep"]]["left_how"] != "session_ended": fail("rep left %r" % parts[ids["rep"]])
if parts[ids["invitee"]]["invited_by"] != ids["rep"]: fail("invited_by %r" % parts[ids["invitee"]])
print("timeline ok: %d events" % len(ev))
PY

# info --db: the participants.
"$replay" info "$dir/rec.tdmrec" "${k[@]}" --db "$db" > "$dir/info.txt"
grep -q "audit log: .* verified" "$dir/info.txt" || fail "info: $(cat "$dir/info.txt")"
grep -q "participants: 3" "$dir/info.txt" || fail "info participants: $(cat "$dir/info.txt")"
grep -Eq "Eve Expert \(invited\), profiles view_only,pointer, invited by $(awk '$1=="rep"{print $2}' "$dir/ids") \(alice\)" \
  "$dir/info.txt" || fail "info invitee line: $(cat "$dir/info.txt")"

# Clear errors.
expect() {
  local want=$1 pat=$2; shift 2
  set +e; local out; out=$("$@" 2>&1); local rc=$?; set -e
  [[ $rc == "$want" ]] || fail "'$*' exited $rc (want $want): $out"
  grep -Eq "$pat" <<<"$out" || fail "'$*' said '$out', not /$pat/"
}
"$synth" "$dir/other.tdmrec" "${k[@]}" --session s_000000000000000000000000 --frames 5 >/dev/null
expect 1 "no session 's_0+' in the signaling database" \
  "$replay" timeline "$dir/other.tdmrec" "${k[@]}" --db "$db"
expect 1 "wrong key" "$replay" timeline "$dir/rec.tdmrec" --key-file "$dir/wrong.key" --db "$db"
printf 'not a recording\n' > "$dir/text"
expect 1 "not a Tandem recording" "$replay" timeline "$dir/text" "${k[@]}" --db "$db"
expect 2 "timeline needs --db" "$replay" timeline "$dir/rec.tdmrec" "${k[@]}"
expect 1 "not a tandem-signal database" "$replay" timeline "$dir/rec.tdmrec" "${k[@]}" --db "$dir/text"

# A recording cut short (a relay killed): the timeline is written up to the
# cut, with a recording_cut event, and exits 1.
head -c $(( $(stat -c %s "$dir/rec.tdmrec") * 2 / 3 )) "$dir/rec.tdmrec" > "$dir/cut.tdmrec"
set +e; "$replay" timeline "$dir/cut.tdmrec" "${k[@]}" --db "$db" > "$dir/cut.json" 2>/dev/null
rc=$?; set -e
[[ $rc == 1 ]] || fail "timeline of a cut recording exited $rc"
python3 - "$dir/cut.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
if d["recording"]["ends"] != "truncated": sys.exit("FAIL: cut: %r" % d["recording"]["ends"])
k = [e["kind"] for e in d["events"]]
if "recording_cut" not in k or "recording_end" in k or "session_ended" not in k:
    sys.exit("FAIL: cut events %r" % k)
if d["audit"]["verified"] is not True: sys.exit("FAIL: cut: audit")
PY

# Tamper with one audit row (the profile change): no longer verified, and
# the entry is named.
seq=$(python3 - "$db" "$sid" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("DROP TRIGGER audit_log_no_update")
seq = c.execute("SELECT seq FROM audit_log WHERE chain=? AND kind='profile_changed'",
                (sys.argv[2],)).fetchone()[0]
c.execute("UPDATE audit_log SET detail=replace(detail,'pointer','full') WHERE chain=? AND seq=?",
          (sys.argv[2], seq))
c.commit()
print(seq)
PY
)
set +e; "$replay" timeline "$dir/rec.tdmrec" "${k[@]}" --db "$db" > "$dir/tl2.json" 2>"$dir/err"
rc=$?; set -e
[[ $rc == 1 ]] || fail "timeline of a tampered log exited $rc"
grep -q "audit log does not verify" "$dir/err" || fail "no message: $(cat "$dir/err")"
python3 - "$dir/tl2.json" "$seq" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1])); seq = int(sys.argv[2])
a = doc["audit"]
if a["verified"] is not False: sys.exit("FAIL: tampered log verified")
if a["bad_seq"] != seq or str(seq) not in a["problem"]: sys.exit("FAIL: fault not named: %r" % a)
bad = [e for e in doc["events"] if e.get("fault")]
if len(bad) != 1 or bad[0]["seq"] != seq or bad[0]["kind"] != "profile_changed":
    sys.exit("FAIL: faulty event not marked: %r" % bad)
print("tamper ok:", a["problem"])
PY
expect 1 "audit log: .*NOT VERIFIED" "$replay" info "$dir/rec.tdmrec" "${k[@]}" --db "$db"
echo "recording_timeline_test: ok"
