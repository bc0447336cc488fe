#!/usr/bin/env bash
# Load test for seam over gRPC, with a do-nothing ext_authz server as the floor.
#
# h2load posts gRPC-framed CheckRequests (built by examples/loadgen.rs with
# seam's own types and a development SVID) to seam and to examples/noop_authz.rs,
# both pinned to one core, in the same run. For each server two phases run:
# saturation (enough streams in flight to keep the core busy for SAT_SECS) and
# a fixed rate (RATE checks per second for RATE_SECS). Half the requests are
# allowed, half denied by policy, sent by two h2load processes side by side.
#
# Reported per phase: requests per second, p50/p99 latency (from h2load's
# per-request log), server CPU microseconds per decision (utime+stime of the
# server from /proc/<pid>/stat), and seam's figures as ratios to the floor's.
# h2load sees only HTTP statuses (gRPC always answers 200), so the decisions are
# checked in seam's records: one allow per allowed request, one policy deny per
# denied request, no 503 and no lost record. Exits non-zero if any count is off.
#
# Usage: scripts/load.sh (from anywhere in a clone). Needs root or an installed
# h2load (Debian package nghttp2-client), cargo, taskset and getconf.
#
# Environment (all optional):
#   SAT_SECS=10 RATE_SECS=10 RATE=1000   phase lengths and the fixed rate
#                                        (a multiple of 10 checks per second)
#   SEAM_PORT=19191 FLOOR_PORT=19192     loopback ports for the two servers
#   SERVER_CPU=0 CLIENT_CPU=1            cores for the servers and for h2load
#   SAT_CLIENTS=4 SAT_STREAMS=16         per h2load process at saturation
#   NICE=-20                             priority of servers and h2load; the
#                                        default (when allowed) keeps other
#                                        work on the machine from taking their
#                                        cores mid-phase; NICE=0 to turn off
#   KEEP_TMP=1                           keep the work folder (records, logs)
#   SEAM_BIN=path                        measure this seam binary instead of
#                                        the one built from this clone
set -euo pipefail

SAT_SECS=${SAT_SECS:-10}
RATE_SECS=${RATE_SECS:-10}
RATE=${RATE:-1000}
SEAM_PORT=${SEAM_PORT:-19191}
FLOOR_PORT=${FLOOR_PORT:-19192}
SERVER_CPU=${SERVER_CPU:-0}
SAT_CLIENTS=${SAT_CLIENTS:-4}
SAT_STREAMS=${SAT_STREAMS:-16}
KEEP_TMP=${KEEP_TMP:-0}
NICE=${NICE:--20}
POLICY_COUNT=20
RATE_CLIENTS=5
((RATE >= 10 && RATE % 10 == 0)) || { echo "load.sh: RATE must be a multiple of 10" >&2; exit 1; }
if [[ -z ${CLIENT_CPU:-} ]]; then
  if (($(nproc) > 1)); then CLIENT_CPU=1; else CLIENT_CPU=0; fi
fi

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
clk_tck=$(getconf CLK_TCK)
path=/envoy.service.auth.v3.Authorization/Check
started_pids=()
failures=()
work=""

say() { printf '%s\n' "$*" >&2; }
die() { say "load.sh: $*"; exit 1; }

cleanup() {
  local pid
  for pid in "${started_pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if [[ -n $work && $KEEP_TMP != 1 ]]; then
    rm -rf "$work"
  elif [[ -n $work ]]; then
    say "kept $work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- tools ---------------------------------------------------------------

if ! command -v h2load >/dev/null; then
  say "installing h2load (nghttp2-client)"
  apt-get install -y nghttp2-client >/dev/null ||
    { apt-get update >/dev/null && apt-get install -y nghttp2-client >/dev/null; } ||
    die "cannot install nghttp2-client; install h2load and run again"
fi
command -v taskset >/dev/null || die "taskset (util-linux) is needed"

if [[ $NICE != 0 && $(nice -n "$NICE" nice 2>/dev/null) != "$NICE" ]]; then
  say "cannot run at priority $NICE; running at the default"
  NICE=0
fi
# Command prefixes pinning to a core at priority $NICE. Both exec what they
# run, so `$!` is the pid of the server itself.
on_server_cpu=(taskset -c "$SERVER_CPU" nice -n "$NICE")
on_client_cpu=(taskset -c "$CLIENT_CPU" nice -n "$NICE")

say "building release binaries"
cargo build --release --quiet --bin seam --example noop_authz --example loadgen
bin="${CARGO_TARGET_DIR:-$repo/target}/release"
seam_bin=${SEAM_BIN:-$bin/seam}
[[ -x $seam_bin && -x $bin/examples/noop_authz && -x $bin/examples/loadgen ]] ||
  die "binaries not found: \`$seam_bin\`, or the examples under \`$bin\`"

# --- setup: policies, configuration, request bodies ---------------------

work=$(mktemp -d "${TMPDIR:-/tmp}/seam-load.XXXXXX")
mkdir -p "$work/policies" "$work/state"
cp policies/* "$work/policies/"

# The shipped policies plus generated permits for other teams, up to 20.
shipped=$(cat policies/*.cedar | grep -cE '^[[:space:]]*(permit|forbid)[[:space:]]*\(' || true)
for ((i = 0; i < POLICY_COUNT - shipped; i++)); do
  printf 'permit (principal == Workload::"spiffe://example.org/ns/team%d/sa/app", action in Action::"read", resource) when { resource.path like "/v1/team%d/*" };\n' "$i" "$i"
done >"$work/policies/teams.cedar"
policies=$(cat "$work"/policies/*.cedar | grep -cE '^[[:space:]]*(permit|forbid)[[:space:]]*\(' || true)

# The shipped configuration's context (intents, levels, classification),
# with listener, policy folder, state and records of this run.
{
  printf 'state_dir = "%s"\n\n[server]\nlisten = ["127.0.0.1:%s"]\n\n' "$work/state" "$SEAM_PORT"
  printf '[policy]\ndir = "%s"\n\n' "$work/policies"
  # The admin port is not measured; off, so another seam on its default port
  # cannot stop this run.
  printf '[admin]\nlisten = "off"\n\n'
  printf '[identity]\ndev_trust_domain = "example.org"\ncache_capacity = 10000\n\n'
  awk '/^\[/ { keep = ($0 == "[context]" || $0 == "[[context.classify]]") } keep' seam.toml
  printf '\n[records]\nsink = "file"\npath = "%s"\nqueue_capacity = 65536\non_full = "deny"\n' \
    "$work/records.jsonl"
} >"$work/seam.toml"
grep -q '^\[context\]' "$work/seam.toml" || die "no [context] section found in seam.toml"

"$bin/examples/loadgen" "$work/state" "$work" >"$work/loadgen.out"
allow_body=$work/allow.grpc
deny_body=$work/deny.grpc

# --- servers -------------------------------------------------------------

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_listening() { # pid port log
  local i
  for ((i = 0; i < 100; i++)); do
    kill -0 "$1" 2>/dev/null || { cat "$3" >&2; die "server on port $2 exited"; }
    port_open "$2" && return 0
    sleep 0.1
  done
  die "nothing listens on port $2 after 10 s"
}

for port in "$SEAM_PORT" "$FLOOR_PORT"; do
  port_open "$port" && die "port $port is already in use; set SEAM_PORT or FLOOR_PORT"
done

"${on_server_cpu[@]}" "$seam_bin" serve --config "$work/seam.toml" \
  >"$work/seam.stdout" 2>"$work/seam.log" &
seam_pid=$!
started_pids+=("$seam_pid")
"${on_server_cpu[@]}" "$bin/examples/noop_authz" "127.0.0.1:$FLOOR_PORT" \
  >/dev/null 2>"$work/floor.log" &
floor_pid=$!
started_pids+=("$floor_pid")
wait_listening "$seam_pid" "$SEAM_PORT" "$work/seam.log"
wait_listening "$floor_pid" "$FLOOR_PORT" "$work/floor.log"
[[ /proc/$seam_pid/exe -ef $seam_bin && /proc/$floor_pid/exe -ef $bin/examples/noop_authz ]] ||
  die "the started pids are not the servers; cannot measure their cpu"

# --- measuring -----------------------------------------------------------

# utime + stime of a process, all threads, in clock ticks.
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

# Busy and total jiffies of one core, from /proc/stat.
core_jiffies() {
  awk -v c="cpu$1" '$1 == c { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat
}

records_lines() { if [[ -f $work/records.jsonl ]]; then wc -l <"$work/records.jsonl"; else echo 0; fi; }

sent_allow=0    # requests sent to seam so far, per body
sent_deny=0

# One h2load process: name port body requests clients streams [rps]. Run it
# in the background: it replaces the subshell, so `$!` is h2load's pid.
h2() {
  local name=$1 port=$2 body=$3 n=$4 c=$5 m=$6 rps=${7:-}
  local args=(-n "$n" -c "$c" -m "$m" -t 1 -d "$body"
    -H 'content-type: application/grpc' -H 'te: trailers'
    --log-file "$work/$name.log")
  [[ -n $rps ]] && args+=(--rps "$rps")
  rm -f "$work/$name.log" # h2load appends to an existing log
  exec "${on_client_cpu[@]}" h2load "${args[@]}" "http://127.0.0.1:$port$path" >"$work/$name.out" 2>&1
}

# Checks that every request of h2load run `name` was answered 200.
answered_ok() {
  local name=$1 n=$2 ok
  ok=$(awk '$2 == 200' "$work/$name.log" | wc -l)
  if ((ok != n)); then
    failures+=("$name: $ok of $n requests answered 200 ($(grep -m1 '^requests:' "$work/$name.out"))")
  fi
}

# Waits until seam has written a record for everything sent so far.
await_records() {
  local want=$((sent_allow + sent_deny)) i
  for ((i = 0; i < 300; i++)); do
    (($(records_lines) >= want)) && return 0
    sleep 0.1
  done
  failures+=("records: $(records_lines) written after 30 s, $want requests sent")
}

# Runs the allowed and denied h2load side by side against one server.
# Args: server port label n_each clients streams [rps]. Sets the globals
# phase_secs and phase_ticks and leaves the logs as <label>-{allow,deny}.
run_pair() {
  local server=$1 port=$2 label=$3 n=$4 c=$5 m=$6 rps=${7:-} pid t0 t1 c0 c1 a d
  pid=$([[ $server == seam ]] && echo "$seam_pid" || echo "$floor_pid")
  read -r server_busy0 server_total0 < <(core_jiffies "$SERVER_CPU")
  read -r client_busy0 client_total0 < <(core_jiffies "$CLIENT_CPU")
  c0=$(cpu_ticks "$pid")
  t0=$(date +%s%N)

  h2 "$label-allow" "$port" "$allow_body" "$n" "$c" "$m" "$rps" & a=$!
  h2 "$label-deny" "$port" "$deny_body" "$n" "$c" "$m" "$rps" & d=$!
  started_pids+=("$a" "$d")
  wait "$a" || failures+=("$label-allow: h2load failed: $(tail -1 "$work/$label-allow.out")")
  wait "$d" || failures+=("$label-deny: h2load failed: $(tail -1 "$work/$label-deny.out")")
  started_pids=("$seam_pid" "$floor_pid") # reaped pids may be reused: forget them
  t1=$(date +%s%N)

  if [[ $server == seam ]]; then
    sent_allow=$((sent_allow + n))
    sent_deny=$((sent_deny + n))
    await_records
  fi
  c1=$(cpu_ticks "$pid")
  read -r server_busy1 server_total1 < <(core_jiffies "$SERVER_CPU")
  read -r client_busy1 client_total1 < <(core_jiffies "$CLIENT_CPU")
  answered_ok "$label-allow" "$n"
  answered_ok "$label-deny" "$n"
  phase_secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
  phase_ticks=$((c1 - c0))
}

# Sizes a saturation run: quadruples the request count until a pair takes at
# least a second (this also warms the server), then scales to SAT_SECS.
calibrate() { # server port
  local n=1000 rate
  while :; do
    run_pair "$1" "$2" "$1-calibrate" "$n" "$SAT_CLIENTS" "$SAT_STREAMS"
    if awk -v s="$phase_secs" 'BEGIN { exit !(s >= 1) }' || ((n >= 4000000)); then break; fi
    n=$((n * 4))
  done
  rate=$(awk -v n="$n" -v s="$phase_secs" 'BEGIN { printf "%d", 2 * n / s }')
  sat_each=$(awk -v r="$rate" -v s="$SAT_SECS" 'BEGIN { n = int(r * s / 2); print (n < 1000 ? 1000 : n) }')
}

# Latency percentile (nearest rank) in ms over the logs of `label`.
percentile() { # label fraction
  cat "$work/$1-allow.log" "$work/$1-deny.log" | awk '{ print $3 }' | sort -n |
    awk -v p="$2" '{ v[NR] = $1 } END { r = int(p * NR + 0.999999); if (r < 1) r = 1; printf "%.3f", v[r] / 1000 }'
}

declare -A result
measure() { # server port phase
  local server=$1 port=$2 phase=$3 n decisions
  if [[ $phase == saturation ]]; then
    calibrate "$server" "$port"
    n=$sat_each
    run_pair "$server" "$port" "$server-$phase" "$n" "$SAT_CLIENTS" "$SAT_STREAMS"
  else
    n=$((RATE * RATE_SECS / 2))
    run_pair "$server" "$port" "$server-$phase" "$n" "$RATE_CLIENTS" 8 $((RATE / 2 / RATE_CLIENTS))
  fi
  decisions=$((2 * n))
  result[$server,$phase,n]=$decisions
  result[$server,$phase,rps]=$(awk -v n="$decisions" -v s="$phase_secs" 'BEGIN { printf "%.0f", n / s }')
  result[$server,$phase,p50]=$(percentile "$server-$phase" 0.50)
  result[$server,$phase,p99]=$(percentile "$server-$phase" 0.99)
  result[$server,$phase,cpu]=$(awk -v t="$phase_ticks" -v hz="$clk_tck" -v n="$decisions" \
    'BEGIN { printf "%.1f", t * 1e6 / hz / n }')
  result[$server,$phase,busy]=$(awk -v t="$phase_ticks" -v s="$phase_secs" -v hz="$clk_tck" \
    'BEGIN { printf "%.0f", 100 * t / hz / s }')
  result[$server,$phase,others]=$(awk -v b0="$server_busy0" -v b1="$server_busy1" \
    -v t0="$server_total0" -v t1="$server_total1" -v mine="$phase_ticks" \
    'BEGIN { d = t1 - t0; o = (d > 0) ? 100 * (b1 - b0 - mine) / d : 0; printf "%.0f", (o < 0 ? 0 : o) }')
  result[$server,$phase,client]=$(awk -v b0="$client_busy0" -v b1="$client_busy1" \
    -v t0="$client_total0" -v t1="$client_total1" \
    'BEGIN { d = t1 - t0; printf "%.0f", (d > 0) ? 100 * (b1 - b0) / d : 0 }')
  say "  $server $phase: $decisions requests in ${phase_secs} s"
}

say "machine: $(nproc) cpus, $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
say "seam: $seam_bin, $policies policies, identity cache on, records to a file; servers on cpu $SERVER_CPU, h2load on cpu $CLIENT_CPU, priority $NICE"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

for phase in saturation rate; do
  for server in floor seam; do
    port=$([[ $server == seam ]] && echo "$SEAM_PORT" || echo "$FLOOR_PORT")
    measure "$server" "$port" "$phase"
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- decisions: seam's records against what was sent ---------------------

# Stopping seam flushes every queued record before it exits.
kill -TERM "$seam_pid"
wait "$seam_pid" || failures+=("seam exited with status $? on SIGTERM")
started_pids=("$floor_pid")
records=$work/records.jsonl
count() { grep -c "$1" "$records" || true; }
allowed=$(count '"decision":"allow"')
denied=$(count '"decision":"deny"')
policy_denied=$(count '"reason":"policy_denied"')
unavailable=$(count '"http_status":503')
gaps=$(count '"kind":"gap"')
refused_unrecorded=$(grep -cE 'record_queue_full|record_sink_failed|record_writer_stopped' "$work/seam.log" || true)

((allowed == sent_allow)) || failures+=("allow records: $allowed, allowed requests sent: $sent_allow")
((denied == sent_deny)) || failures+=("deny records: $denied, denied requests sent: $sent_deny")
((policy_denied == sent_deny)) || failures+=("policy_denied records: $policy_denied, denied requests sent: $sent_deny")
((unavailable == 0)) || failures+=("$unavailable decisions answered 503")
((refused_unrecorded == 0)) || failures+=("$refused_unrecorded checks refused for want of a record slot (503)")
((gaps == 0)) || failures+=("$gaps gap lines: records were lost")

# --- report --------------------------------------------------------------

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
rate_label="${RATE}/s"

printf '\n%-6s %-11s %9s %8s %8s %8s %9s %7s %7s %7s\n' \
  server phase requests 'req/s' 'p50 ms' 'p99 ms' 'CPU us/d' 'srv %' 'other %' 'h2l %'
for phase in saturation rate; do
  for server in floor seam; do
    k="$server,$phase"
    printf '%-6s %-11s %9s %8s %8s %8s %9s %7s %7s %7s\n' "$server" \
      "$([[ $phase == rate ]] && echo "$rate_label" || echo "$phase")" \
      "${result[$k,n]}" "${result[$k,rps]}" "${result[$k,p50]}" "${result[$k,p99]}" \
      "${result[$k,cpu]}" "${result[$k,busy]}" "${result[$k,others]}" "${result[$k,client]}"
  done
done
for phase in saturation rate; do
  s="seam,$phase" f="floor,$phase"
  printf '%-6s %-11s %9s %8s %8s %8s %9s\n' 'ratio' \
    "$([[ $phase == rate ]] && echo "$rate_label" || echo "$phase")" '' \
    "$(ratio "${result[$s,rps]}" "${result[$f,rps]}")" \
    "$(ratio "${result[$s,p50]}" "${result[$f,p50]}")" \
    "$(ratio "${result[$s,p99]}" "${result[$f,p99]}")" \
    "$(ratio "${result[$s,cpu]}" "${result[$f,cpu]}")"
done

cat <<EOF

ratio = seam / floor. CPU us/d: server utime+stime per decision. srv %: the
server's CPU over the phase (100 = one core). other %: the rest of the server
core's busy time (other processes). h2l %: busy time of the h2load core.
decisions in seam's records: $allowed allow (sent $sent_allow), $denied deny
(sent $sent_deny; $policy_denied policy_denied), $unavailable + $refused_unrecorded answered 503, $gaps gaps.
load average before $load_before, after $load_after.
EOF

for phase in saturation rate; do
  for server in floor seam; do
    k="$server,$phase"
    if ((${result[$k,others]} >= 10)); then
      echo "note: other processes took ${result[$k,others]}% of the server core during $server $phase: noisy"
    elif [[ $phase == saturation ]] && ((${result[$k,busy]} < 90)); then
      echo "note: $server used ${result[$k,busy]}% of its core at saturation: not cpu-bound"
    fi
    if [[ $phase == saturation ]] && ((${result[$k,client]} >= 95)); then
      echo "note: the h2load core was ${result[$k,client]}% busy during $server saturation: req/s may be h2load's limit"
    fi
  done
done
awk -v cpu="${result[seam,saturation,cpu]}" -v p99="${result[seam,rate,p99]}" -v rate="$RATE" 'BEGIN {
  printf "target: <= 60 us CPU per decision at saturation: %s us, %s\n", cpu, (cpu <= 60 ? "met" : "missed")
  printf "target: p99 < 2 ms at %d checks/s: %s ms, %s\n", rate, p99, (p99 < 2 ? "met" : "missed")
}'

if ((${#failures[@]})); then
  say ""
  for f in "${failures[@]}"; do say "FAIL $f"; done
  exit 1
fi
echo "counts: ok"
