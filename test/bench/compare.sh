#!/usr/bin/env bash
# npm run bench:compare: catchall-guard side by side with Postfix (and Haraka when installed) doing
# the same job as ../shared/bench describes (serve example.test, 550 5.1.1 for unknown local-parts
# at RCPT, relay alice/bob/postmaster to an upstream smtp-sink on 127.0.0.1:2626), in interleaved
# rounds: each round visits every peer in a rotated order and restarts it before its turn, since
# the machine is shared and noisy and only ratios measured in one run mean anything.
#
# Per peer and round (the shared harness ../shared/bench/smtp-bench.sh, nothing home-made):
#   idle (1000 sessions after EHLO), reject (conc 20), accept-small (2 KB, conc 20),
#   accept-large (1 MB, conc 4); Postfix with its queue dir, so its end-to-end rate is measured too.
# catchall-guard also, on a freshly started server whose domain quarantines unknown recipients:
#   idle-10k (10,000 concurrent idle sessions, the server's RSS) and quarantine-small
#   (2 KB messages to an unknown address: stored in the quarantine, fsynced, before the 250).
#
# Knobs (environment):
#   REPS (default 3); PEERS (default "guard postfix haraka"; haraka is dropped when it is not
#   installed under $ANCHORS; guard-workers2 adds our server with server.workers 2);
#   WORKERS=1|2|auto (server.workers of the peer "guard", when the build knows the key);
#   NODE_FLAGS (default --max-semi-space-size=4, as npm start and the container run the server);
#   BEFORE=<checkout with an older dist/>: adds the peer "guard-before", the same server built from
#   that checkout, for before/after figures from one run; IDLE10K=0 skips the 10,000-session run;
#   QUARANTINE=0 skips quarantine-small; SCENARIOS (the harness's, for every peer's relay server,
#   e.g. SCENARIOS=accept-large for a quick A/B); OUT=<jsonl> (default
#   test/bench/results/compare-<UTC time>.jsonl); BENCH_SHARED (default ../shared/bench).
# Peers must be installed: bash ../shared/bench/peers/install.sh. Prints the summary (medians,
# ratios against Postfix) at the end.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=${BENCH_SHARED:-$ROOT/../shared/bench}
BENCH=$SHARED/smtp-bench.sh
PEERCTL=$SHARED/peers
A=${ANCHORS:-/tmp/anchors}
P=$A/pids
L=$A/logs
REPS=${REPS:-3}
WORKERS=${WORKERS:-1}
IDLE10K=${IDLE10K:-1}
QUARANTINE=${QUARANTINE:-1}
# as npm start and the container run it: without the flag V8's young generation grows to 16 MB
# semi-spaces under load, which is most of what 1000 idle sessions add to the RSS (README "Speed")
NODE_FLAGS=${NODE_FLAGS---max-semi-space-size=4}
PORT=${BENCH_PORT:-2535}
HARAKA_PORT=${HARAKA_PORT:-2529}
SINK_LOG=$L/sink.log
OUT=${OUT:-$ROOT/test/bench/results/compare-$(date -u +%Y%m%d-%H%M%S).jsonl}
read -r -a PEERS <<< "${PEERS:-guard postfix haraka}"
[ -n "${BEFORE:-}" ] && PEERS+=(guard-before)

[ -f "$BENCH" ] || { echo "bench:compare: harness not found at $BENCH" >&2; exit 2; }
[ -f "$A/postfix-conf/main.cf" ] || { echo "bench:compare: peers not installed: bash $SHARED/peers/install.sh" >&2; exit 2; }
if [ ! -x "$A/haraka/node_modules/.bin/haraka" ] || [ ! -d "$A/haraka-inst" ]; then
  echo "bench:compare: Haraka not installed under $A: comparing with Postfix only" >&2
  kept=(); for p in "${PEERS[@]}"; do [ "$p" = haraka ] || kept+=("$p"); done; PEERS=("${kept[@]}")
fi
# 10,000 sessions: the client and the server each hold one descriptor per session
ulimit -n "$(ulimit -Hn)"
[ -f "$ROOT/dist/main.js" ] || (cd "$ROOT" && npm run build >/dev/null)
[ -n "${BEFORE:-}" ] && [ ! -f "$BEFORE/dist/main.js" ] && { echo "bench:compare: no $BEFORE/dist/main.js" >&2; exit 2; }

WORK=$(mktemp -d /tmp/cg-compare.XXXXXX)
spid=
cleanup() {
  [ -n "$spid" ] && kill "$spid" 2>/dev/null
  "$PEERCTL/stop-peers.sh" haraka postfix sink >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$(dirname "$OUT")"

# server.workers only when this build has the key (another change adds it)
workers_line() { # root-of-a-checkout workers
  grep -qE '^ +workers: z' "$1/src/config/schema.ts" 2>/dev/null && echo "  workers: $2" || true
}
config() { # file root unknown-treatment workers
  cat > "$1" <<YAML
server:
  hostname: mx.example.test
  listen: { host: 127.0.0.1, port: $PORT }
  greetDelay: 0
  maxConnections: 20000
  maxConnectionsPerIp: 0
  maxUnknownRecipients: 0
  maxUnknownRecipientsPerIp: 0
  disableReverseLookup: true
$(workers_line "$2" "$4")
domains:
  - name: example.test
    unknownRecipients: $3
    recipients: [alice, bob, postmaster]
delivery:
  type: smtp
  smtp: { host: 127.0.0.1, port: 2626 }
quarantine: { maxSize: 0 }
notices: { enabled: false }
log: { level: info }
YAML
}

start_guard() { # root config log
  rm -rf "$WORK/data"
  # emptied here, not by the child's redirection: the wait below must not see the previous run's line
  : > "$3"
  # shellcheck disable=SC2086 # NODE_FLAGS is a list of flags
  CATCHALL_GUARD_DATA_DIR="$WORK/data" node $NODE_FLAGS "$1/dist/main.js" serve --config "$2" > "$3" 2>&1 &
  spid=$!
  for _ in $(seq 1 100); do grep -q '"listening"' "$3" 2>/dev/null && return 0; sleep 0.1; done
  echo "bench:compare: server did not start, see $3" >&2; cat "$3" >&2; return 1
}
stop_guard() {
  kill -TERM "$spid" 2>/dev/null || true
  wait "$spid" 2>/dev/null || true
  spid=
}
# renames the harness's scenario in its JSON lines (quarantine-small is accept-small to a quarantined address)
as_scenario() { sed -e "s/\"scenario\": \"$1\"/\"scenario\": \"$2\"/"; }

run_guard() { # label root workers
  local label=$1 root=$2 workers=$3
  "$PEERCTL/start-peers.sh" sink >/dev/null
  config "$WORK/relay.yaml" "$root" reject "$workers"
  config "$WORK/quarantine.yaml" "$root" quarantine "$workers"
  start_guard "$root" "$WORK/relay.yaml" "$WORK/$label.log"
  LABEL=$label SINK_LOG=$SINK_LOG bash "$BENCH" 127.0.0.1 "$PORT" "$spid" >> "$OUT"
  stop_guard
  [ "$IDLE10K" = 1 ] || [ "$QUARANTINE" = 1 ] || return 0
  start_guard "$root" "$WORK/quarantine.yaml" "$WORK/$label-q.log"
  if [ "$IDLE10K" = 1 ]; then
    LABEL=$label SCENARIOS=idle IDLE_COUNT=10000 IDLE_SECONDS=120 bash "$BENCH" 127.0.0.1 "$PORT" "$spid" |
      as_scenario idle idle-10k >> "$OUT"
  fi
  if [ "$QUARANTINE" = 1 ]; then
    LABEL=$label SCENARIOS=accept-small RCPT=nosuch-quarantined@example.test bash "$BENCH" 127.0.0.1 "$PORT" "$spid" |
      as_scenario accept-small quarantine-small >> "$OUT"
  fi
  stop_guard
}
run_postfix() {
  "$PEERCTL/start-peers.sh" sink >/dev/null
  "$PEERCTL/stop-peers.sh" postfix >/dev/null
  "$PEERCTL/start-peers.sh" postfix >/dev/null
  sleep 1
  LABEL=postfix QUEUE_DIR=$A/postfix-queue SINK_LOG=$SINK_LOG bash "$BENCH" 127.0.0.1 2527 "$(cat "$P/postfix.pid")" >> "$OUT"
  "$PEERCTL/stop-peers.sh" postfix >/dev/null
}
wait_port() { # port
  for _ in $(seq 1 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "bench:compare: port $1 did not open" >&2; return 1
}
run_haraka() {
  "$PEERCTL/start-peers.sh" sink >/dev/null
  "$PEERCTL/stop-peers.sh" haraka >/dev/null
  # the installed instance listens on 2525, which is also our default port: moved aside
  sed -i "s/^listen=.*/listen=127.0.0.1:$HARAKA_PORT/" "$A/haraka-inst/config/smtp.ini"
  # start-peers.sh waits for 2525 itself, which is not where it listens now: the wait that counts is ours
  "$PEERCTL/start-peers.sh" haraka >/dev/null 2>&1 || true
  [ -s "$P/haraka.pid" ] || { echo "bench:compare: Haraka did not start, see $L/haraka.log" >&2; return 1; }
  wait_port "$HARAKA_PORT"
  sleep 1
  LABEL=haraka SINK_LOG=$SINK_LOG bash "$BENCH" 127.0.0.1 "$HARAKA_PORT" "$(cat "$P/haraka.pid")" >> "$OUT"
  "$PEERCTL/stop-peers.sh" haraka >/dev/null
}
run_peer() {
  case $1 in
    guard) run_guard catchall-guard "$ROOT" "$WORKERS" ;;
    guard-workers2) run_guard catchall-guard-workers2 "$ROOT" 2 ;;
    guard-before) run_guard catchall-guard-before "$BEFORE" "$WORKERS" ;;
    postfix) run_postfix ;;
    haraka) run_haraka ;;
    *) echo "bench:compare: unknown peer $1" >&2; exit 2 ;;
  esac
}

{
  echo "bench:compare: $(date -u +%Y-%m-%dT%H:%M:%SZ), nproc $(nproc), $(uname -r), node $(node -v)," \
    "peers ${PEERS[*]}, REPS $REPS, WORKERS $WORKERS, NODE_FLAGS '$NODE_FLAGS'${BEFORE:+, BEFORE $BEFORE}; raw lines: $OUT"
} >&2
n=${#PEERS[@]}
for rep in $(seq 1 "$REPS"); do
  for k in $(seq 0 $((n - 1))); do
    peer=${PEERS[$(((rep - 1 + k) % n))]}
    echo "bench:compare: round $rep/$REPS: $peer" >&2
    run_peer "$peer"
  done
done
node "$ROOT/test/bench/summarize.mjs" "$OUT"
