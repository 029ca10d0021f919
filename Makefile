# Thin wrapper: every target installs missing Debian packages first
# (.ci/deps), then drives CMake/CTest. See README.md.
BUILD   ?= build
ASAN    ?= build-asan
FUZZDIR ?= build-fuzz
JOBS    ?= $(shell nproc)
FUZZ_SECONDS ?= 60
CTEST_ARGS ?=

.PHONY: all deps build asan run test test-plain test-asan bench fuzz clean

all: build

deps:
	@.ci/deps

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

asan: deps
	@cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DJSR_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN) -j$(JOBS)

run: build
	@tests/tools/demo.sh $(BUILD)

test-plain: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS) $(CTEST_ARGS)

test-asan: asan
	ctest --test-dir $(ASAN) --output-on-failure -j$(JOBS) $(CTEST_ARGS)

test: test-plain test-asan

bench: build
	@tests/bench/run.sh $(BUILD)

fuzz:
	@.ci/deps fuzz
	@CC=clang cmake -S . -B $(FUZZDIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DJSR_FUZZ=ON >/dev/null
	@cmake --build $(FUZZDIR) -j$(JOBS)
	@tests/fuzz/run.sh $(FUZZDIR) $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(ASAN) $(FUZZDIR)
