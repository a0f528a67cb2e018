# Shell helpers shared by the interop scripts (scripts/interop-*.sh) and the CLI tests
# (tools/test/*.sh): background processes stopped by PID, JSON fields read through CMake,
# free ports. Source it once TMP (a scratch directory) is set and PIDS=() declared;
# CMAKE names the cmake program (default: cmake).

HARNESS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# alive PID: the process exists and is not a zombie.
alive() {
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}
# forget PID: once reaped, a PID may be recycled, so it must never be signalled again.
forget() {
  local p keep=()
  for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}
# stop_pid PID: SIGTERM, up to 3 s to exit, then SIGKILL; reaped and forgotten.
stop_pid() {
  local pid=$1 i
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 30); do
      alive "$pid" || break
      sleep 0.1
    done
    alive "$pid" && kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null || true
  forget "$pid"
}
# stop_all: every process in PIDS, the newest first.
stop_all() {
  local i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[$i]}"; done
}

# json_fields FILE a;b;c: sets J_a, J_b, J_c from a JSON object (nested values as JSON
# text); returns 1 unless it parses (the reason in $TMP/fields.err).
json_fields() {
  local line
  "${CMAKE:-cmake}" -DFILE="$1" -DFIELDS="$2" -P "$HARNESS_ROOT/tools/test/json_field.cmake" \
    >"$TMP/fields" 2>"$TMP/fields.err" || return 1
  while IFS= read -r line; do printf -v "J_${line%%=*}" '%s' "${line#*=}"; done <"$TMP/fields"
}

# port_free PORT: nothing listens on PORT, UDP or TCP. Without ss (iproute2) every port
# looks free; callers retry when a bind fails.
port_free() {
  command -v ss >/dev/null || return 0
  ! ss -Hlnu "sport = :$1" 2>/dev/null | grep -q . && ! ss -Hlnt "sport = :$1" 2>/dev/null | grep -q .
}
# pick_port FIRST COUNT: a random port P in FIRST..FIRST+COUNT-1 with P and P+1 free.
pick_port() {
  local p i
  for i in $(seq 1 50); do
    p=$(($1 + RANDOM % $2))
    port_free "$p" && port_free $((p + 1)) && { echo "$p"; return 0; }
  done
  return 1
}
