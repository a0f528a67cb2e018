# What the interop scripts share beyond harness.sh: timestamped logs, PASS/FAIL counting,
# small assertions, and an exit trap that stops every process, deletes the lab's network
# namespaces and keeps the logs of a failed run (INTEROP_KEEP_LOGS=1 keeps them always). Source it once TMP is set and
# PIDS=() declared; it sets PASS and FAIL to 0.

# shellcheck source=harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

PASS=0
FAIL=0

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

interop_cleanup() {
  local rc=$? ns
  trap - EXIT
  stop_all
  # Namespace labs: every namespace netns_add made (after its processes are stopped).
  for ns in ${NETNS[@]+"${NETNS[@]}"}; do ip netns del "$ns" 2>/dev/null || true; done
  if [ "$rc" != 0 ] || [ "${INTEROP_KEEP_LOGS:-0}" = 1 ]; then
    log "logs kept in $TMP"
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap interop_cleanup EXIT
trap 'exit 130' INT TERM

# check DESCRIPTION CMD...: runs a test command, counts and prints PASS/FAIL.
check() {
  local desc=$1
  shift
  if "$@"; then
    PASS=$((PASS + 1))
    log "PASS: $desc"
  else
    FAIL=$((FAIL + 1))
    log "FAIL: $desc"
  fi
}
has() { grep -Eq -- "$2" "$1"; }
eq() { [ "$1" = "$2" ]; }
# all_of FILE REGEX...: every REGEX matches a line of FILE.
all_of() {
  local file=$1 re
  shift
  for re in "$@"; do grep -Eq -- "$re" "$file" || return 1; done
}

# require SCRIPT PACKAGES PROGRAM...: exits 2 unless $NATSIM is built and every PROGRAM
# is on PATH (PACKAGES: the Debian packages that bring them).
require() {
  local script=$1 packages=$2 program
  shift 2
  if [ ! -x "$NATSIM" ]; then
    echo "$script: no natsim program at $NATSIM (build it first: make build)" >&2
    exit 2
  fi
  for program in "$@"; do
    if ! command -v "$program" >/dev/null; then
      echo "$script: missing $program (NATSIM_EXTRA_PACKAGES=\"$packages\" scripts/install-deps.sh)" >&2
      exit 2
    fi
  done
  log "natsim: $NATSIM; logs in $TMP"
}

# Namespace labs (the caller declares NETNS=(); the exit trap deletes each).
# netns_add NS: a namespace with loopback up, remembered in NETNS.
netns_add() {
  ip netns add "$1"
  NETNS+=("$1")
  ip -n "$1" link set lo up
}
# link NS1 IF1 ADDR1 NS2 IF2 ADDR2: a veth pair between two namespaces, addresses, up.
link() {
  ip link add "$2" netns "$1" type veth peer name "$5" netns "$4"
  ip -n "$1" addr add "$3" dev "$2"
  ip -n "$4" addr add "$6" dev "$5"
  ip -n "$1" link set "$2" up
  ip -n "$4" link set "$5" up
}
