#!/usr/bin/env bash
# One command for the side-by-side run on a fresh machine: installs Kamailio
# and SIPp if missing, builds riptide and the perf tools in release, runs
# riptide-compare with the arguments given (defaults: options, call, register
# at 2k/5k/10k per second plus a ramp), and leaves the report in perf/results/.
#
#   perf/scripts/run.sh [riptide-compare run arguments...]
set -euo pipefail
cd "$(dirname "$0")/../.."
need=()
command -v kamailio >/dev/null || [ -x /usr/sbin/kamailio ] || need+=(kamailio)
command -v sipp >/dev/null || need+=(sip-tester)
command -v taskset >/dev/null || need+=(util-linux)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)  # the plot's labels
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
# The packaged service is not what we measure: keep it from holding port 5060.
systemctl stop kamailio 2>/dev/null || true
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release -p engine -p perf
args=("$@")
if [ ${#args[@]} -eq 0 ]; then
  args=(--rates 2000,5000,10000 --duration 10 --scenarios options,call,register --ramp 1000:1000:12000)
fi
"$CARGO_TARGET_DIR/release/riptide-compare" run --riptide "$CARGO_TARGET_DIR/release/riptide" "${args[@]}"
