#!/usr/bin/env bash
# Cross-check riptide-load against SIPp: the same server (Kamailio proxy.cfg, or
# riptide with a static route), the same call rate, server CPU per call from
# /proc (utime+stime of the server and its child processes) with each driver.
#
#   perf/scripts/sipp-crosscheck.sh kamailio|riptide RATE COUNT [options|call]
#
# `call` uses SIPp's built-in uac/uas; the built-in uas copies no
# Record-Route, so SIPp's ACK and BYE take a different path than
# riptide-load's (whose callee does): `options` is the like-for-like point.
# Needs: sipp, kamailio, taskset; riptide-load and riptide in $TARGET/release.
set -euo pipefail
SYSTEM=${1:-kamailio}
RATE=${2:-500}
CALLS=${3:-5000}
SCENARIO=${4:-options}
TARGET=${CARGO_TARGET_DIR:-target}
HERE=$(cd "$(dirname "$0")/.." && pwd)
SERVER_PORT=15260
UAS_PORT=15270
TCK=$(getconf CLK_TCK)

start_server() {
  if [ "$SYSTEM" = kamailio ]; then
    taskset -c 1 /usr/sbin/kamailio -f "$HERE/kamailio/proxy.cfg" -x tlsf -m 2048 -M 64 -DD -E \
      -l udp:127.0.0.1:$SERVER_PORT -A "NEXT_HOP=\"sip:127.0.0.1:$UAS_PORT\"" 2>/dev/null &
  else
    taskset -c 1 "$TARGET/release/riptide" --sip-port $SERVER_PORT --management 127.0.0.1:0 \
      --shards 1 --no-pin --record-route --route "*=sip:127.0.0.1:$UAS_PORT" >/dev/null 2>&1 &
  fi
  SERVER_PID=$!
  sleep 1.5
}

stop_server() {
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}

# utime+stime in ticks of the server and its direct children.
ticks() {
  local total=0 p
  for p in $SERVER_PID $(pgrep -P "$SERVER_PID" || true); do
    [ -r /proc/$p/stat ] || continue
    total=$((total + $(sed 's/.*) //' /proc/$p/stat | awk '{print $12 + $13}')))
  done
  echo $total
}

per_call() { awk -v t="$1" -v n="$2" -v hz="$TCK" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }'; }

# 1. SIPp on core 0 (with its own callee for calls).
start_server
if [ "$SCENARIO" = call ]; then
  taskset -c 0 sipp -sn uas -i 127.0.0.1 -p $UAS_PORT -nostdin >/dev/null 2>&1 &
  UAS_PID=$!
  SIPP_ARGS=(-sn uac -s callee)
else
  SIPP_ARGS=(-sf "$HERE/sipp/options_uac.xml")
fi
rm -f /tmp/sipp-crosscheck-stat.csv
before=$(ticks)
taskset -c 0 sipp "${SIPP_ARGS[@]}" 127.0.0.1:$SERVER_PORT -i 127.0.0.1 -p 15280 -nostdin \
  -r "$RATE" -m "$CALLS" -timeout 60 -trace_stat -stf /tmp/sipp-crosscheck-stat.csv >/dev/null 2>&1 || true
after=$(ticks)
stop_server
if [ -n "${UAS_PID:-}" ]; then
  kill "$UAS_PID" 2>/dev/null || true
  wait "$UAS_PID" 2>/dev/null || true
fi
sipp_ok=$(tail -1 /tmp/sipp-crosscheck-stat.csv | awk -F';' '{print $16}')
echo "sipp:         $SYSTEM $SCENARIO, $RATE/s, $sipp_ok successful, server CPU $(per_call $((after - before)) "${sipp_ok:-1}") µs each"

# 2. riptide-load at the same rate and count.
start_server
before=$(ticks)
out=$(taskset -c 0 "$TARGET/release/riptide-load" "$SCENARIO" --server 127.0.0.1:$SERVER_PORT \
  --uas 127.0.0.1:$UAS_PORT --rate "$RATE" --count "$CALLS" --json 2>/dev/null)
after=$(ticks)
stop_server
ok=$(echo "$out" | awk -F': ' '/"successes"/ {gsub(",", "", $2); print $2}')
echo "riptide-load: $SYSTEM $SCENARIO, $RATE/s, $ok successful, server CPU $(per_call $((after - before)) "${ok:-1}") µs each"
