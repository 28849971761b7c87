# The README's two commands, for a fresh Debian 12 machine (run as root, or with sudo):
#   make run    install what is missing, build, run dotd in the foreground on its default config
#   make test   install what is missing, build, run every test: unit, integration (a real unbound
#               serving DoT on loopback, kdig, dig, ldns), valgrind, the ASan+UBSan build, and
#               each libFuzzer target for a fixed number of inputs
# Helpers: make deps, make build, make fuzz, make bench (docs/BENCHMARKS.md), make check-format,
# make clean.
# Routers (docs/ROUTER.md), not part of make test:
#   make cross ARCH=mipsel|armhf|arm64   cross-build in build-cross-ARCH, unit tests and an
#                                         end-to-end run under qemu-user (tests/cross/cross.sh)
#   make router-figures                  the sizes and memory figures of docs/ROUTER.md

BUILD      ?= build
SAN_BUILD  ?= build-san
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=

# Debian package names: what the build needs, and what the tests need on top.
BUILD_PKGS := gcc make cmake pkg-config ca-certificates \
	libwolfssl-dev libuv1-dev libldns-dev libyaml-dev libhttp-parser-dev libmnl-dev \
	dns-root-data
TEST_PKGS  := libcunit1-dev unbound knot-dnsutils dnsutils dnsperf openssl valgrind iproute2 \
	python3 python3-prometheus-client clang-format clang libclang-rt-14-dev man-db groff-base \
	faketime ldnsutils nsd shellcheck busybox
# What `make bench` needs on top: the peers of the side-by-side benchmark (tests/bench/side.sh)
# and gnuplot for its plots (gnuplot-nox: the pngcairo terminal without X); perf (linux-perf) for
# its PROFILE=1 phases.
BENCH_PKGS := unbound knot-resolver dnsdist stubby dnsperf dnsutils gnuplot-nox iproute2 \
	util-linux python3 shellcheck linux-perf

.PHONY: run test deps test-deps build san-build fuzz bench check-format clean cross \
	router-figures

run: deps build
	./$(BUILD)/resolver/dotd $(ARGS)

test: test-deps
	$(MAKE) build CMAKE_ARGS="-DDEVELOPER=ON"
	cd $(BUILD) && ctest --output-on-failure -j2
	$(MAKE) san-build
	cd $(SAN_BUILD) && ctest --output-on-failure -j2
	$(MAKE) fuzz
	cd $(FUZZ_BUILD) && ctest -L fuzz --output-on-failure -j2
	$(MAKE) check-format
	@echo "make test: all passed"

deps:
	@./.ci/install-deps $(BUILD_PKGS)

test-deps:
	@./.ci/install-deps $(BUILD_PKGS) $(TEST_PKGS)

build:
	cmake -S . -B $(BUILD) $(CMAKE_ARGS)
	cmake --build $(BUILD) -j$(JOBS)

# The same suite built with AddressSanitizer and UndefinedBehaviorSanitizer.
san-build:
	cmake -S . -B $(SAN_BUILD) -DDEVELOPER=ON -DASAN=ON -DUBSAN=ON -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(SAN_BUILD) -j$(JOBS)

# libFuzzer targets (tests/fuzz, docs/FUZZING.md), built with clang, ASan and UBSan.
fuzz: test-deps
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DFUZZ=ON -DBUILD_TESTS=OFF -DDEVELOPER=ON
	cmake --build $(FUZZ_BUILD) -j$(JOBS)

# Microbenchmarks and the side-by-side benchmark (figures, no pass/fail on time), not part of
# `make test`.
# tests/bench/dnssec.sh: the cost of DNSSEC validation on a miss and a hit, and its memory,
# against the DNSSEC lab (nsd, unbound, ldnsutils, dnsperf: the test packages).
# tests/bench/side.sh: dotd, Unbound, Knot Resolver, dnsdist and Stubby side by side in front of
# one local DoT unbound, with a floor (tests/bench/echo_floor.c); results.md, results.json and
# PNG plots in $(BUILD)/bench (docs/BENCHMARKS.md). SIDE_ARGS: e.g. ROUNDS=1 SECS=2.
# tests/bench/instr.sh: the instructions of a cache hit under callgrind, which repeat where
# timings do not ($(BUILD)/bench/instr).
SIDE_ARGS ?=
bench: test-deps
	@./.ci/install-deps $(BENCH_PKGS)
	$(MAKE) build
	./$(BUILD)/tests/bench/bench_cache
	./$(BUILD)/tests/bench/bench_cachefile
	./$(BUILD)/tests/bench/bench_blocklist
	./$(BUILD)/tests/bench/bench_blocklist 100000
	bash tests/bench/dnssec.sh ./$(BUILD)/resolver/dotd ./$(BUILD)/tests/integration/dotd-probe
	env $(SIDE_ARGS) bash tests/bench/side.sh ./$(BUILD)/resolver/dotd \
		./$(BUILD)/tests/integration/dotd-probe ./$(BUILD)/tests/bench/echo_floor $(BUILD)/bench
	bash tests/bench/instr.sh ./$(BUILD)/resolver/dotd ./$(BUILD)/tests/integration/dotd-probe \
		$(BUILD)/bench/instr

# ARCH is Debian's name: mipsel, armhf or arm64.
cross:
	@if [ -z "$(ARCH)" ]; then echo "usage: make cross ARCH=mipsel|armhf|arm64" >&2; exit 2; fi
	JOBS=$(JOBS) HOST_BUILD=$(BUILD) ./tests/cross/cross.sh $(ARCH)

# Every figure of docs/ROUTER.md: sizes per architecture (after make cross for each), idle and
# loaded RSS, the integration suite under a 64 MB limit (tests/cross/figures.sh).
router-figures: test-deps
	$(MAKE) build CMAKE_ARGS="-DDEVELOPER=ON"
	HOST_BUILD=$(BUILD) ./tests/cross/figures.sh

check-format:
	@files=$$(git ls-files '*.c' '*.h' 2>/dev/null); \
	if [ -n "$$files" ]; then clang-format --dry-run -Werror $$files; fi

clean:
	rm -rf $(BUILD) $(SAN_BUILD) $(FUZZ_BUILD) build-cross-mipsel build-cross-armhf build-cross-arm64
