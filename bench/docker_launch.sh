#!/usr/bin/env bash
# Launch throughput of DOCKER apps with the real Docker engine: bench/e2e_launch.sh with
# EXECUTOR=docker (berth/busybox containers; NETWORK=none or bridge). Needs Docker and
# `make images`.
#
#   bench/docker_launch.sh PATH_TO_BERTH [N=100]
set -euo pipefail
EXECUTOR=docker exec "$(dirname "$0")/e2e_launch.sh" "${1:?usage: $0 PATH_TO_BERTH [N=100]}" "${2:-100}"
