# The README's two commands, for a fresh Debian 12 machine (run as root, or with sudo):
#   make run    install what is missing, build, run dotd in the foreground on its default config
#   make test   install what is missing, build, run every test: unit, integration (a real unbound
#               serving DoT on loopback, kdig, dig, ldns), valgrind, the ASan+UBSan build, and
#               each libFuzzer target for a fixed number of inputs
# Helpers: make deps, make build, make fuzz, make bench, make check-format, make clean.
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

# Microbenchmarks (figures, no pass/fail on time). The side-by-side yardstick against Stubby,
# Unbound, dnsdist and Knot Resolver is docs/ARCHITECTURE.md's "Benchmarks" (dnsperf).
# tests/bench/dnssec.sh: the cost of DNSSEC validation on a miss and a hit, and its memory,
# against the DNSSEC lab (nsd, unbound, ldnsutils, dnsperf: the test packages).
bench: test-deps
	$(MAKE) build
	./$(BUILD)/tests/bench/bench_cache
	./$(BUILD)/tests/bench/bench_cachefile
	./$(BUILD)/tests/bench/bench_blocklist
	./$(BUILD)/tests/bench/bench_blocklist 100000
	bash tests/bench/dnssec.sh ./$(BUILD)/resolver/dotd ./$(BUILD)/tests/integration/dotd-probe

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
