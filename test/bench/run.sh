#!/usr/bin/env bash
# npm run bench: catchall-guard under the shared load harness (../shared/bench/smtp-bench.sh),
# configured like the Postfix and Haraka baselines: example.test with alice, bob, postmaster known,
# unknown local-parts rejected, accepted mail relayed synchronously to an upstream on 127.0.0.1:2626.
# Prints the harness's JSON lines (one per scenario, per round). Knobs: ROUNDS (default 3),
# SCENARIOS, DELIVERY=smtp|maildir, BENCH_PORT (2525), SINK_PORT (2636), and the harness's own variables.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=${BENCH_HARNESS:-$ROOT/../shared/bench/smtp-bench.sh}
ROUNDS=${ROUNDS:-3}
DELIVERY=${DELIVERY:-smtp}
PORT=${BENCH_PORT:-2525}
# not 2626, where bench:compare's peers (../shared/bench) relay: the two can run side by side
SINK_PORT=${SINK_PORT:-2636}
[ -x "$BENCH" ] || [ -f "$BENCH" ] || { echo "bench: harness not found at $BENCH" >&2; exit 2; }
[ -f "$ROOT/dist/main.js" ] || (cd "$ROOT" && npm run build >/dev/null)

WORK=$(mktemp -d /tmp/cg-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

cat > "$WORK/bench.yaml" <<YAML
server:
  hostname: mx.example.test
  listen: { host: 127.0.0.1, port: $PORT }
  greetDelay: 0
  maxConnections: 5000
  maxConnectionsPerIp: 0
  maxUnknownRecipients: 0
  maxUnknownRecipientsPerIp: 0
  disableReverseLookup: true
domains:
  - name: example.test
    unknownRecipients: reject
    recipients: [alice, bob]
delivery:
  type: $DELIVERY
  smtp: { host: 127.0.0.1, port: $SINK_PORT }
notices: { enabled: false }
log: { level: info }
YAML

SINK_LOG_ARGS=()
if command -v smtp-sink >/dev/null 2>&1 || [ -x /usr/sbin/smtp-sink ]; then
  SINK=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)
  "$SINK" -u nobody -m 2000 -c 127.0.0.1:$SINK_PORT 1024 > "$WORK/sink.log" 2>&1 &
  pids+=($!)
  SINK_LOG_ARGS=(SINK_LOG="$WORK/sink.log")
else
  node "$ROOT/test/bench/sink.mjs" $SINK_PORT > "$WORK/sink.log" 2>&1 &
  pids+=($!)
fi
sleep 0.5

for round in $(seq 1 "$ROUNDS"); do
  CATCHALL_GUARD_DATA_DIR="$WORK/data" node "$ROOT/dist/main.js" serve --config "$WORK/bench.yaml" > "$WORK/server-$round.log" 2>&1 &
  spid=$!
  pids+=($spid)
  for _ in $(seq 1 50); do grep -q '"listening"' "$WORK/server-$round.log" 2>/dev/null && break; sleep 0.1; done
  env LABEL="catchall-guard round $round" "${SINK_LOG_ARGS[@]}" bash "$BENCH" 127.0.0.1 "$PORT" "$spid"
  kill -TERM "$spid"; wait "$spid" 2>/dev/null || true
done
