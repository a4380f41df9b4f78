# shellcheck shell=bash
# bin/lib/common.sh: what the scripts in bin/ and docker/compose-topology-test.sh share: messages,
# background children stopped on exit, free ports, the one HTTP probe, waiting for /readyz, and
# Debian packages for a fresh machine. Source it; it only defines functions and variables.
[[ -n ${_COMMON_SH:-} ]] && return 0
_COMMON_SH=1

# ---- messages ---------------------------------------------------------------------------------
if [[ -t 1 ]]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; else BOLD='' PLAIN=''; fi
say() { printf '%s==> %s%s\n' "$BOLD" "$*" "$PLAIN"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# apt_install PACKAGE...: installs Debian's packages (what a fresh machine lacks); needs root.
apt_install() {
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    die "$* missing, and only root with apt-get can install it here (apt-get install $*)"
  fi
  say "installing $* from Debian's packages"
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# cargo_target_dir: where cargo puts its build output (honours CARGO_TARGET_DIR and config files).
cargo_target_dir() {
  cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p'
}

# ---- children stopped on exit -------------------------------------------------------------------
# Every long-running child gets its own process group (set -m at fork time), so stopping it also
# stops what it spawned (npm -> node, ...), and Ctrl-C reaches only the script, which then stops
# the children, newest first.
CHILD_PIDS=() CHILD_NAMES=()

# spawn NAME LOG COMMAND...: starts COMMAND in the background, stdin from /dev/null, output
# appended to LOG. Its pid (also its process group id) is left in SPAWNED_PID.
spawn() {
  local name=$1 log=$2
  shift 2
  set -m
  "$@" >>"$log" 2>&1 </dev/null &
  SPAWNED_PID=$!
  set +m
  CHILD_PIDS+=("$SPAWNED_PID") CHILD_NAMES+=("$name")
}

# stop_child PID: SIGTERM to its process group, SIGKILL if still there after 10 s; waits for it.
stop_child() {
  local pid=$1 i killer
  for i in "${!CHILD_PIDS[@]}"; do
    [[ ${CHILD_PIDS[i]} == "$pid" ]] && unset 'CHILD_PIDS[i]' 'CHILD_NAMES[i]'
  done
  kill -TERM -- "-$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  set -m
  (sleep 10; kill -KILL -- "-$pid" 2>/dev/null) >/dev/null 2>&1 &
  killer=$!
  set +m
  wait "$pid" 2>/dev/null || true
  kill -KILL -- "-$killer" 2>/dev/null || true
  wait "$killer" 2>/dev/null || true
}

# stop_children: every child still registered, newest first (names starting with _ silently).
stop_children() {
  local i
  for i in $(printf '%s\n' "${!CHILD_PIDS[@]}" | sort -rn); do
    [[ ${CHILD_NAMES[i]} == _* ]] || say "stopping ${CHILD_NAMES[i]}"
    stop_child "${CHILD_PIDS[i]}"
  done
}

# on_exit [FUNCTION]: at exit (normal, error, Ctrl-C, SIGTERM, terminal closed) stop the children,
# then call FUNCTION with the exit status; the exit status is kept.
on_exit() {
  _ON_EXIT_FN=${1:-}
  trap _on_exit EXIT
  trap 'echo >&2; exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP # the children are in their own process groups and would outlive the terminal
}
_on_exit() {
  local rc=$?
  trap - EXIT
  trap '' INT TERM HUP
  stop_children
  if [[ -n $_ON_EXIT_FN ]]; then "$_ON_EXIT_FN" "$rc" || true; fi
  exit "$rc"
}

# ---- ports and HTTP -----------------------------------------------------------------------------
# port_answers HOST PORT: something accepts TCP connections there.
port_answers() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# free_port [FIRST]: the first port from FIRST on that nothing listens on (on 127.0.0.1 or ::1).
# Without FIRST, from a random port in 20000-39999, so that runs side by side rarely collide.
free_port() {
  local first=${1:-$((20000 + RANDOM % 20000))} p
  for ((p = first; p < first + 200; p++)); do
    port_answers 127.0.0.1 "$p" || port_answers ::1 "$p" || { echo "$p"; return 0; }
  done
  return 1
}

# http_code URL: the status of a GET of URL, or 000 without an answer in 3 s. curl when installed;
# otherwise an HTTP/1.0 request through bash's /dev/tcp (plain http only), so bin/dev needs no curl.
http_code() {
  if command -v curl >/dev/null 2>&1; then
    curl -s -o /dev/null -m 3 -w '%{http_code}' "$1" 2>/dev/null || true
  else
    local rest=${1#http://} hostport path line code
    hostport=${rest%%/*} path=/${rest#*/}
    [[ $rest == */* ]] || path=/
    line=$( (exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}" &&
      printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$hostport" >&3 &&
      IFS= read -r -t 3 l <&3 && echo "$l") 2>/dev/null || true)
    read -r _ code _ <<<"$line"
    echo "${code:-000}"
  fi
}

# wait_ready NAME URL PID [LOG]: polls URL (every READY_INTERVAL s, default 0.5) until it answers
# 200. If PID exits first or READY_TIMEOUT s (default 120) pass, prints LOG's last lines and why,
# and returns 1.
wait_ready() {
  local name=$1 url=$2 pid=$3 log=${4:-} timeout=${READY_TIMEOUT:-120} why
  local deadline=$((SECONDS + timeout))
  until [[ $(http_code "$url") == 200 ]]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      why="$name exited before it was ready"
    elif ((SECONDS > deadline)); then
      why="$name was not ready at $url after ${timeout}s"
    else
      sleep "${READY_INTERVAL:-0.5}"
      continue
    fi
    if [[ -n $log ]]; then
      echo "---- last lines of ${log#"$PWD"/} ----" >&2
      tail -n 30 "$log" >&2
    fi
    echo "error: $why${log:+ (log: ${log#"$PWD"/})}" >&2
    return 1
  done
}
