# shellcheck shell=bash disable=SC2034  # sets variables for the sourcing test
# Sourced by the recordings tests (signal_recordings_api_test.sh,
# tests/browser/run_auditor_browser_test.sh): a signaling database with
# accounts and one support session played at known times
# (recording_timeline_session: joins at -2 s, -1 s, +0.3 s; input denied at
# +0.4 s; a profile change at +0.5 s; input counts at +1 s; a leave at
# +2.5 s; the end at +3.5 s), and a recordings directory as a relay's
# --record-dir would hold it:
#   $SID.tdmrec       the session, 5 s of VP8 (150 frames), intact
#   tampered.tdmrec   another session ($SID-tampered), one byte flipped two
#                     thirds in
#   cut.tdmrec        the first two thirds of a recording of $SID-cut (a
#                     killed relay)
#   wrongkey.tdmrec   a recording ($SID-wrongkey) under another master key
#   garbage.tdmrec    the magic, then junk (not a recording)
#   notes.txt         not a recording at all (skipped)
#   twoseg-1.tdmrec, twoseg-2.tdmrec
#                     a second session $SID2 (played 20 s after the first)
#                     recorded in two segments, as when its relay dies and it
#                     goes on on another: frames 0..89 (3 s) from its start,
#                     then frames 90..149 from +5 s (a gap of 2 s)
# Each session of one file is one file of its own (a session of several
# files is one entry of the auditor's list).
# Also the configuration of tandem-signal serve (config.json, with
# recordings_dir) listening on $FIX_LISTEN.
#   fixture_make WORK SIGNAL SYNTH HELPER LISTEN
# Sets SID, REP_ID, CUSTOMER_ID, INVITEE_ID, BASE_MS, SID2, BASE2_MS. Accounts: audrey
# (auditor), alice (rep), root (admin); passwords in AUDITOR_PW, REP_PW, ADMIN_PW.
AUDITOR_PW='audrey-password-1'
REP_PW='alice-password-1'
ADMIN_PW='root-password-12'
fixture_make() {
  local work=$1 signal=$2 synth=$3 helper=$4 listen=$5
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/master.key" || return 1
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/other.key" || return 1
  head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/relay.secret" || return 1
  mkdir -p "$work/rec" || return 1
  cat >"$work/config.json" <<JSON || return 1
{"public_url": "http://$listen",
 "relay_token_secret_file": "relay.secret",
 "recording_master_key_file": "master.key",
 "recordings_dir": "rec",
 "recordings_cache_dir": "cache"}
JSON
  local db=$work/signal.db
  echo "$REP_PW" | "$signal" user add alice --role rep --may-invite \
    --invite-profiles view_only,pointer --db "$db" >/dev/null || return 1
  echo "$AUDITOR_PW" | "$signal" user add audrey --role auditor --db "$db" >/dev/null || return 1
  echo "$ADMIN_PW" | "$signal" user add root --role admin --db "$db" >/dev/null || return 1
  BASE_MS=$(( ($(date +%s) - 60) * 1000 ))
  "$helper" "$db" alice "$BASE_MS" >"$work/ids" || return 1
  SID=$(awk '$1=="session"{print $2}' "$work/ids")
  REP_ID=$(awk '$1=="rep"{print $2}' "$work/ids")
  CUSTOMER_ID=$(awk '$1=="customer"{print $2}' "$work/ids")
  INVITEE_ID=$(awk '$1=="invitee"{print $2}' "$work/ids")
  [[ $SID == s_* ]] || return 1
  local k=(--key-file "$work/master.key")
  "$synth" "$work/rec/$SID.tdmrec" "${k[@]}" --session "$SID" --frames 150 \
    --start-unix-us "$((BASE_MS * 1000))" >/dev/null || return 1
  "$synth" "$work/tampered.tmp" "${k[@]}" --session "$SID-tampered" --frames 150 \
    --start-unix-us "$(( (BASE_MS - 10000) * 1000 ))" >/dev/null || return 1
  local size at
  size=$(stat -c %s "$work/tampered.tmp")
  at=$(( size * 2 / 3 ))
  python3 - "$work/tampered.tmp" "$at" <<'PY' || return 1
import sys
p, at = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, "rb").read())
b[at] ^= 0x40
open(p, "wb").write(bytes(b))
PY
  mv "$work/tampered.tmp" "$work/rec/tampered.tdmrec" || return 1
  "$synth" "$work/cut.tmp" "${k[@]}" --session "$SID-cut" --frames 150 \
    --start-unix-us "$((BASE_MS * 1000))" >/dev/null || return 1
  size=$(stat -c %s "$work/cut.tmp")
  head -c $(( size * 2 / 3 )) "$work/cut.tmp" >"$work/rec/cut.tdmrec" || return 1
  rm -f "$work/cut.tmp"
  "$synth" "$work/rec/wrongkey.tdmrec" --key-file "$work/other.key" --session "$SID-wrongkey" \
    --frames 10 >/dev/null || return 1
  BASE2_MS=$(( BASE_MS + 20000 ))
  "$helper" "$db" alice "$BASE2_MS" >"$work/ids2" || return 1
  SID2=$(awk '$1=="session"{print $2}' "$work/ids2")
  [[ $SID2 == s_* && $SID2 != "$SID" ]] || return 1
  "$synth" "$work/rec/twoseg-1.tdmrec" "${k[@]}" --session "$SID2" --frames 90 \
    --start-unix-us "$((BASE2_MS * 1000))" --clock-us 9000000000 >/dev/null || return 1
  "$synth" "$work/rec/twoseg-2.tdmrec" "${k[@]}" --session "$SID2" --frames 60 \
    --first-frame 90 --start-unix-us "$(( (BASE2_MS + 5000) * 1000 ))" >/dev/null || return 1
  printf 'TDMREC\r\nthis is not a recording at all, just junk after the magic\n' \
    >"$work/rec/garbage.tdmrec" || return 1
  echo "notes of the ops team" >"$work/rec/notes.txt" || return 1
  # Closed by the relay a while ago: files modified in the last seconds are
  # taken for recordings still being written (api_recordings.c).
  touch -d '-1 minute' "$work"/rec/*.tdmrec || return 1
}
