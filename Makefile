# Convenience targets; the build itself is CMake (CMakeLists.txt).
#   make run    install deps, build, run the default scenario to local files (no services needed)
#   make test   install deps, build, run the whole test suite (ctest)
BUILD ?= build
JOBS ?= $(shell nproc)
RUN_ARGS ?= inference --duration 1m --otlp-file out/inference.otlp.jsonl \
	--labels out/labels.jsonl --prom-listen 127.0.0.1:9464 --summary-json out/summary.json

.PHONY: all deps build run test test-sanitize fuzz bench format format-check clean

all: build

deps:
	@scripts/install-deps.sh

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: deps build
	@mkdir -p out
	$(BUILD)/diorama run $(RUN_ARGS)

test: deps build
	@cd $(BUILD) && ctest --output-on-failure -j 2

test-sanitize: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DDIORAMA_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j 2

FUZZ_SECONDS ?= 20
fuzz: deps
	@scripts/fuzz.sh $(FUZZ_SECONDS)

bench: deps build
	@bench/run.sh

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	@clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-fuzz build-release build-release-clang out
