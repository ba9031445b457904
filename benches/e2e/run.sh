#!/usr/bin/env bash
# End-to-end comparison of our broker (mqttd) with Debian's Mosquitto, driven by
# `mqtt bench` (adapter-tokio/src/bench). Not part of CI. Everything listens and connects on
# 127.0.0.1 only.
#
#   benches/e2e/run.sh                       # 3 rounds, pinned pass then unpinned pass
#   ROUNDS=5 PINNED=1 benches/e2e/run.sh     # pinned pass only (PINNED=0: unpinned only)
#   SCENARIOS="qos0-fanin latency" benches/e2e/run.sh
#
# Each scenario runs against each broker alternately (ours, mosquitto, ours, ...), each run
# on a freshly started broker. Pinned pass: broker on CPU 0, generator on CPU 1. The
# results (one JSON line per run) go to $OUT/results.jsonl and the summary (medians and
# ratios ours/mosquitto) to stdout and $OUT/summary.md.
#
# Knobs (environment): ROUNDS (3), PINNED (unset: both passes), DURATION (5 s measured),
# WARMUP (1 s), BACKLOG (10000 deliveries outstanding at most in the throughput
# scenarios; 0 = open loop), CONNS (10000 idle connections), CONN_HOLD (2 s),
# SCENARIOS (all), OUT (target/e2e-bench/DATE), MQTTD and BENCH (prebuilt binaries
# instead of building them).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
BACKLOG=${BACKLOG:-10000}
CONNS=${CONNS:-10000}
CONN_HOLD=${CONN_HOLD:-2}
SCENARIOS=${SCENARIOS:-"qos0-fanin qos1-fanin qos0-fanout latency connections"}
OUT=${OUT:-$ROOT/target/e2e-bench/$(date +%Y%m%d-%H%M%S)}
if [[ -n ${PINNED-} ]]; then PASSES=$PINNED; else PASSES="1 0"; fi

log() { printf '%s\n' "$*" >&2; }

# --- binaries -------------------------------------------------------------------------
if [[ -z ${MQTTD-} || -z ${BENCH-} ]]; then
    log "building mqttd and mqtt (release)..."
    (cd "$ROOT" && cargo build --release -q -p adapter-tokio --bin mqttd --bin mqtt &&
        cargo build --release -q -p adapter-smol --bin mqttd-smol)
    MQTTD=${MQTTD:-$ROOT/target/release/mqttd}
    MQTTD_SMOL=${MQTTD_SMOL:-$ROOT/target/release/mqttd-smol}
    BENCH=${BENCH:-$ROOT/target/release/mqtt}
fi
if ! command -v mosquitto >/dev/null; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        log "installing mosquitto..."
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null
    fi
fi
MOSQUITTO=$(command -v mosquitto || true)
[[ -x $MOSQUITTO ]] || log "mosquitto not found (and not root to install it): ours only"
if ! command -v taskset >/dev/null; then
    log "taskset not found: unpinned pass only"
    PASSES=0
fi

# 10k idle connections need 10k descriptors in the generator and in the broker.
hard=$(ulimit -Hn)
if [[ $hard == unlimited ]]; then hard=1048576; fi
ulimit -n $((hard < 1048576 ? hard : 1048576)) || true
if (($(ulimit -n) < CONNS + 100)); then
    log "ulimit -n is $(ulimit -n): connections scenario limited to $(($(ulimit -n) - 100))"
    CONNS=$(($(ulimit -n) - 100))
fi

mkdir -p "$OUT"
RESULTS=$OUT/results.jsonl
: >"$RESULTS"

# --- brokers --------------------------------------------------------------------------
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
        echo $((20000 + RANDOM % 30000))
}

write_configs() { # PORT
    cat >"$OUT/mqttd.toml" <<EOF
# Written by benches/e2e/run.sh.
[[listener]]
kind = "tcp"
bind = "127.0.0.1:$1"

[limits]
sys_interval = 0                # no \$SYS
max_queued_messages = 1000000   # per session, as Mosquitto's below

[connection]
max_inflight = 1024             # QoS 1/2 in flight to one client, as Mosquitto's below
receive_maximum = 1024
EOF
    cat >"$OUT/mosquitto.conf" <<EOF
# Written by benches/e2e/run.sh.
listener $1 127.0.0.1
allow_anonymous true
persistence false
sys_interval 0
# 100000 made Mosquitto 2.0.11 drop QoS 1 messages with at most 50000 outstanding.
max_queued_messages 1000000
max_inflight_messages 1024
set_tcp_nodelay true
log_dest stderr
log_type error
log_type warning
EOF
}

BROKER_PID=
PORT=
start_broker() { # NAME PINNED
    PORT=$(free_port)
    write_configs "$PORT"
    local pin=()
    [[ $2 == 1 ]] && pin=(taskset -c 0)
    case $1 in
        ours) "${pin[@]}" "$MQTTD" -c "$OUT/mqttd.toml" >>"$OUT/mqttd.log" 2>&1 & ;;
        smol) "${pin[@]}" "$MQTTD_SMOL" -c "$OUT/mqttd.toml" >>"$OUT/mqttd-smol.log" 2>&1 & ;;
        mosquitto) "${pin[@]}" "$MOSQUITTO" -c "$OUT/mosquitto.conf" >>"$OUT/mosquitto.out" 2>&1 & ;;
    esac
    BROKER_PID=$!
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    log "$1 did not start listening on $PORT"
    return 1
}

stop_broker() {
    [[ -n $BROKER_PID ]] || return 0
    kill -TERM "$BROKER_PID" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$BROKER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$BROKER_PID" 2>/dev/null || true
    wait "$BROKER_PID" 2>/dev/null || true
    BROKER_PID=
}
trap stop_broker EXIT

# --- scenarios ------------------------------------------------------------------------
scenario_args() { # NAME
    local common=(--duration "$DURATION" --warmup "$WARMUP" --size 64)
    case $1 in
        qos0-fanin) echo fanin --publishers 4 -q 0 --backlog "$BACKLOG" "${common[@]}" ;;
        qos1-fanin) echo fanin --publishers 4 -q 1 --backlog "$BACKLOG" "${common[@]}" ;;
        qos0-fanout) echo fanout --subscribers 100 -q 0 --backlog "$BACKLOG" "${common[@]}" ;;
        latency) echo latency --rate 10000 -q 0 "${common[@]}" ;;
        connections) echo connections --count "$CONNS" --duration "$CONN_HOLD" ;;
        *) log "unknown scenario $1" && return 1 ;;
    esac
}

BROKERS=(ours)
[[ -x ${MQTTD_SMOL-} ]] && BROKERS+=(smol)
[[ -x $MOSQUITTO ]] && BROKERS+=(mosquitto)

run_one() { # SCENARIO BROKER PINNED ROUND
    local args line alive=true gen=()
    args=$(scenario_args "$1")
    start_broker "$2" "$3" || return 0
    [[ $3 == 1 ]] && gen=(taskset -c 1)
    # shellcheck disable=SC2086
    if ! line=$("${gen[@]}" "$BENCH" bench $args -p "$PORT" --broker-pid "$BROKER_PID" --json 2>>"$OUT/bench.err"); then
        line=null
    fi
    [[ -n $line ]] || line=null
    kill -0 "$BROKER_PID" 2>/dev/null || alive=false
    stop_broker
    printf '{"scenario":"%s","broker":"%s","pinned":%s,"round":%s,"broker_alive":%s,"report":%s}\n' \
        "$1" "$2" "$3" "$4" "$alive" "$line" >>"$RESULTS"
    log "$(printf '%-12s %-10s pinned=%s round %s: %s' "$1" "$2" "$3" "$4" \
        "$(python3 "$ROOT/benches/e2e/summarize.py" --one "$(tail -n 1 "$RESULTS")" 2>/dev/null || echo done)")"
}

start=$(date +%s)
for pass in $PASSES; do
    for round in $(seq "$ROUNDS"); do
        for s in $SCENARIOS; do
            for b in "${BROKERS[@]}"; do
                run_one "$s" "$b" "$pass" "$round"
            done
        done
    done
done
log "done in $(($(date +%s) - start)) s; results in $RESULTS"
python3 "$ROOT/benches/e2e/summarize.py" "$RESULTS" | tee "$OUT/summary.md"
