#!/bin/bash
# The shard runtime's own cost per datagram: the raw echoes (riptide-compare
# echo) beside the shards crate's udp_echo example (one shard, either UDP
# driver), each pinned to core 1 and driven by riptide-load on core 0;
# server CPU (utime+stime from /proc) per request/response pair.
#
# usage: perf/scripts/runtime-echo.sh RATE COUNT [what...]
#   what: echo-blocking echo-mmsg echo-uring shard-uring shard-glommio
# needs: cargo build --release -p perf && cargo build --release -p shards --example udp_echo
set -euo pipefail
T=${CARGO_TARGET_DIR:-target}/release
RATE=${1:?rate}; COUNT=${2:?count}; shift 2
[ $# -gt 0 ] || set -- echo-blocking echo-uring shard-uring shard-glommio
out=$(mktemp); load=$(mktemp)
for what in "$@"; do
  case $what in
    echo-*) cmd=("$T/riptide-compare" echo --mode "${what#echo-}") ;;
    shard-*) cmd=("$T/examples/udp_echo" "${what#shard-}") ;;
    *) echo "unknown: $what" >&2; exit 2 ;;
  esac
  taskset -c 1 "${cmd[@]}" > "$out" 2>/dev/null &
  pid=$!
  for _ in $(seq 50); do grep -q listening "$out" && break; sleep 0.1; done
  addr=$(awk '/listening/{print $2; exit}' "$out")
  before=$(awk '{print $14+$15}' "/proc/$pid/stat")
  taskset -c 0 "$T/riptide-load" options --expect-echo --server "$addr" \
    --rate "$RATE" --count "$COUNT" > "$load" 2>&1
  after=$(awk '{print $14+$15}' "/proc/$pid/stat")
  ticks=$(getconf CLK_TCK)
  echo "$what $RATE/s: $(echo "scale=2; ($after-$before)*1000000/$ticks/$COUNT" | bc) CPU-us per pair, $(sed -n 2p "$load" | grep -o '[0-9]* failures')"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
rm -f "$out" "$load"
