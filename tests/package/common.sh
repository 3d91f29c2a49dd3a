# What the package tests share (sourced after setting `test_name`): their messages, and
# skipping (exit 77, ctest's skip) except under CI=true, where what is missing is a failure.

say() { echo "$test_name: $*"; }
fail() {
  echo "$test_name: FAIL: $*" >&2
  exit 1
}
skip() {
  if [ "${CI:-}" = "true" ]; then fail "$1"; fi
  echo "$test_name: SKIPPED: $1"
  exit 77
}

# require_tools TOOL...: skips unless each is on the PATH.
require_tools() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || skip "$tool is missing (scripts/install-deps installs it)"
  done
}

# require_no_berth PATH...: skips where a berth package, the berth user or group, or one of
# PATH is on this machine already: the test installs and purges berth and removes PATH.
require_no_berth() {
  if dpkg-query -W -f='${Status}' berth 2>/dev/null | grep -q 'ok installed'; then
    skip "a berth package is installed on this machine; this test would purge it"
  fi
  for leftover in "$@"; do
    [ ! -e "$leftover" ] || skip "$leftover exists; this test would remove it"
  done
  ! getent passwd berth >/dev/null || skip "a user named berth exists; this test's purge would remove it"
  ! getent group berth >/dev/null || skip "a group named berth exists; this test's purge would remove it"
}

# finish STATUS DIR LOG_GLOB...: for a cleanup trap. On a failure (not a skip) prints the last
# 40 lines of each log matching LOG_GLOB; removes DIR unless BERTH_KEEP_TEST_DIRS is set; exits
# with STATUS.
finish() {
  local status=$1 dir=$2
  shift 2
  if [ "$status" -ne 0 ] && [ "$status" -ne 77 ]; then
    for log in "$@"; do
      [ -f "$log" ] || continue
      echo "--- $log (last 40 lines)" >&2
      tail -n 40 "$log" >&2
    done
  fi
  if [ -z "${BERTH_KEEP_TEST_DIRS:-}" ]; then rm -rf "$dir"; fi
  exit "$status"
}
