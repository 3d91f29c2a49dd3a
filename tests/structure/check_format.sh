#!/usr/bin/env bash
# Every C++ source and header under src/, tests/ and bench/ is formatted as .clang-format
# says (clang-format 14, Debian's clang-format-14). Fix with:
#   find src tests bench \( -name '*.cpp' -o -name '*.h' \) -print0 | xargs -0 clang-format-14 -i
set -euo pipefail
root="${1:?usage: check_format.sh SOURCE_DIR}"
if ! command -v clang-format-14 >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then
    echo "check_format: clang-format-14 is missing (scripts/install-deps installs it)" >&2
    exit 1
  fi
  echo "check_format: SKIPPED: clang-format-14 is not installed (scripts/install-deps installs it)"
  exit 77
fi
cd "$root"
bad=$(find src tests bench \( -name '*.cpp' -o -name '*.h' \) -print0 |
  xargs -0 -n 40 clang-format-14 --dry-run 2>&1 | sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: warning:.*/\1/p' | sort -u)
if [ -n "$bad" ]; then
  echo "check_format: these files differ from .clang-format (run clang-format-14 -i on them):"
  echo "$bad"
  exit 1
fi
echo "check_format: $(find src tests bench \( -name '*.cpp' -o -name '*.h' \) | wc -l) files formatted"
