# Ember: the two entry points. Both install missing Debian packages first.
BUILD ?= build
PRESET ?= release

.PHONY: all deps build run test bench tidy fuzz package clean

all: build

deps:
	@./scripts/deps.sh

build: deps
	@cmake --preset $(PRESET) >/dev/null
	@cmake --build --preset $(PRESET)

run: build
	@./scripts/demo.sh $(BUILD)

test: build
	@ctest --preset $(PRESET)

bench: build
	@./bench/run_all.sh $(BUILD)

# clang-tidy with .clang-tidy's checks (several minutes on 2 cores: not in CI).
tidy: build
	@./scripts/tidy.sh $(BUILD)

# libFuzzer targets (tests/fuzz), each for FUZZ_SECONDS, in build-fuzz (clang).
FUZZ_SECONDS ?= 600
fuzz:
	@FUZZ_SECONDS=$(FUZZ_SECONDS) ./scripts/fuzz.sh

# The Debian package (CPack): $(BUILD)/ember_<version>_amd64.deb.
# docs/platform.md "The package".
package: build
	@cd $(BUILD) && cpack -G DEB

clean:
	rm -rf $(BUILD)
