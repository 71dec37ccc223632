# Ember: the two entry points. Both install missing Debian packages first.
BUILD ?= build
PRESET ?= release

.PHONY: all deps build run test bench clean

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

clean:
	rm -rf $(BUILD)
