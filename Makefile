# The user's interface to Tandem. Every target first installs missing Debian
# packages (scripts/install-deps, a quick no-op when all are there), then
# configures and builds with CMake into $(BUILD).
#
#   make demo                 run the product end to end on this machine
#   make test                 run every test through ctest
#   make bench [BENCH=name]   run all benchmarks, or one (e.g. BENCH=capture)

BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
BENCH ?=

.PHONY: all deps build demo test bench clean

all: build

deps:
	@scripts/install-deps

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS) > $(BUILD).configure.log 2>&1 \
	  || { cat $(BUILD).configure.log; exit 1; }
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	@ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

demo: build
	@scripts/demo $(BUILD)

bench: build
	@scripts/bench $(BUILD) $(BENCH)

clean:
	rm -rf $(BUILD) $(BUILD).configure.log
