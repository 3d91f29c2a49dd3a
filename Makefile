# The two commands of the README. Each installs what is missing, builds, then runs.
BUILD_DIR ?= build/release
PRESET ?= release
JOBS ?= $(shell nproc)
CMAKE_ARGS ?=
BERTH := $(BUILD_DIR)/bin/berth

.PHONY: deps build up test demo demo-stack bench images deb clean

deps:
	@scripts/install-deps

build: deps
	@cmake --preset $(PRESET) $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# A local cluster with the demo app; Ctrl-C stops everything it started.
up: build
	@scripts/up-with-demo $(BERTH)

# The failover story on a local cluster (started if none answers on :8080, stopped after).
demo: build
	@$(BERTH) demo

# Many databases in a stack: one group of counters with datasets and a front depending on them;
# the node holding the most is killed and each database's failover is shown.
demo-stack: build
	@$(BERTH) demo --stack

# What CI does before the suite: Docker installed and started, the local images built. Where
# Docker truly cannot run (no root, say), the Docker tests say that they skip.
test: build
	@scripts/ensure-docker && scripts/build-images || \
	  echo "make test: Docker is not available here; the tests that need it will say they skip"
	@cd $(BUILD_DIR) && ctest --output-on-failure -j 2

bench: build
	@bench/run-all $(BUILD_DIR)

# The local images, FROM scratch with no registry: berth/busybox and berth/counter (the demo app,
# statically linked; port 80 and /data inside the container).
images: build
	@cmake --build $(BUILD_DIR) --target berth-counter-static
	@scripts/build-images --counter $(BUILD_DIR)/bin/berth-counter-static

# The Debian package build/berth_<version>_<arch>.deb: /usr/bin/berth, the systemd units of the
# master and the agent, /etc/berth/berth.conf (scripts/make-deb, docs/deploy.md §1).
deb: deps
	@cmake --preset $(PRESET) $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD_DIR) --target berth -j $(JOBS)
	@scripts/make-deb --binary $(BERTH) --output build

clean:
	rm -rf build
