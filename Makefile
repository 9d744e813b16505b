# Convenience targets; the build itself is CMake (CMakeLists.txt).
#   make run    install deps, build (Release), start `diorama up`: the live fleet, its web console
#               on http://127.0.0.1:8080/ and /metrics on :9464, until Ctrl-C (no services needed)
#   make test   install deps, build, run the whole test suite (ctest)
BUILD ?= build
JOBS ?= $(shell nproc)
RELEASE ?= build-release
RUN_ARGS ?= fleet --labels out/labels.jsonl

.PHONY: all deps build run test test-sanitize fuzz bench format format-check clean

all: build

deps:
	@scripts/install-deps.sh

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The last line `diorama up` prints before it waits is "console: http://127.0.0.1:8080/".
# Only what the build needs is installed, and only the binary is built (no tests): a fresh
# machine reaches the console in about a minute (README.md; bench/fresh_machine.sh measures it).
run:
	@scripts/install-deps.sh --run
	@cmake -S . -B $(RELEASE) -DCMAKE_BUILD_TYPE=Release -DDIORAMA_TESTS=OFF >/dev/null
	@cmake --build $(RELEASE) -j $(JOBS) --target diorama
	@mkdir -p out
	@exec $(RELEASE)/diorama up $(RUN_ARGS)

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
