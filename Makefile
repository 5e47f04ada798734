# The README's two commands: `make demo` and `make test`. Both install what is
# missing (Debian packages, npm test tools), build, and run.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build test test-asan demo release install package bench clean fuzz

all: build

deps:
	@missing=$$(grep -v '^\s*#' .ci/debian-packages.txt | grep -v '^\s*$$' | while read p; do \
	    dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q 'install ok installed' || echo "$$p"; done); \
	if [ -n "$$missing" ]; then \
	    echo "Installing missing Debian packages:" $$missing; \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@# Debian's nodejs has no npm (nodesource's does): install Debian's npm only when no npm exists.
	@if [ -f tests/tools/package.json ] && ! command -v npm >/dev/null; then \
	    $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends npm; \
	fi
	@if [ -f tests/tools/package.json ]; then \
	    (cd tests/tools && [ -d node_modules ] && [ node_modules -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error); \
	fi

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 900

# The same suite under AddressSanitizer + UBSan, in its own build folder
# (not in CI until it has passed end to end once). -O1 -g1: about half the compile time of
# -O2 -g, with file:line in every report (and no -Wmaybe-uninitialized: GCC
# 12 reports false ones in <regex> under the sanitizers). Any report fails:
# ASan and UBSan abort the process at the first one (-fno-sanitize-recover,
# halt_on_error, abort_on_error). ASan reports, also from an mlo a test
# started in the background (a server, a router), are written to
# $(ASAN_BUILD_DIR)/sanitizer-reports/, printed at the end, and fail the
# target; UBSan reports (in a combined build it ignores log_path) go to the
# process's stderr. Leak reports are off: the CLI's long-lived caches
# are freed by exit(). verify_asan_link_order=0: the fault-injection shims
# (tests/cli/*_shim.c) are preloaded ahead of the ASan runtime.
ASAN_BUILD_DIR ?= build-asan
ASAN_REPORTS = $(abspath $(ASAN_BUILD_DIR))/sanitizer-reports
$(ASAN_BUILD_DIR)/build.ninja:
	cmake -S . -B $(ASAN_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMLO_SANITIZE=address,undefined \
	    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG -Wno-maybe-uninitialized" \
	    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG"

test-asan: deps $(ASAN_BUILD_DIR)/build.ninja
	cmake --build $(ASAN_BUILD_DIR) -j $(JOBS)
	rm -rf $(ASAN_REPORTS) && mkdir -p $(ASAN_REPORTS)
	cd $(ASAN_BUILD_DIR) && \
	    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1:verify_asan_link_order=0:log_path=$(ASAN_REPORTS)/asan \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:abort_on_error=1 \
	    ctest --output-on-failure -j $(JOBS) --timeout 1800 $(CTEST_ARGS); rc=$$?; \
	if [ -n "$$(ls -A $(ASAN_REPORTS))" ]; then \
	    echo "sanitizer reports ($(ASAN_REPORTS)):"; tail -n +1 $(ASAN_REPORTS)/*; exit 1; fi; \
	exit $$rc

demo: build
	MLO="$(CURDIR)/$(BUILD_DIR)/mlo" bash examples/demo/run.sh

# `make install` and `make package` use their own Release build without tests,
# installed stripped. Measured 2026-12-04: the Release binary is 15.2 MB, 13.3 MB
# stripped (sqlite3, yaml-cpp, zstd and libstdc++ are linked in for start-up
# speed, issue 14); the RelWithDebInfo test build is ~290 MB.
RELEASE_DIR ?= build-release
$(RELEASE_DIR)/build.ninja:
	cmake -S . -B $(RELEASE_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DMLO_BUILD_TESTS=OFF

release: $(RELEASE_DIR)/build.ninja
	cmake --build $(RELEASE_DIR) -j $(JOBS)

install: release
	$(SUDO) cmake --install $(RELEASE_DIR) --strip

package: release
	cd $(RELEASE_DIR) && cpack -G DEB && dpkg-deb --info mlo_*.deb

bench: build
	@for b in tests/bench/*.sh; do case $$b in */lib_*) continue;; esac; echo "== $$b"; MLO="$(CURDIR)/$(BUILD_DIR)/mlo" bash $$b || exit 1; done

# libFuzzer targets (tests/fuzz), FUZZ_SECONDS each, one process each
# (FUZZ_TARGETS="pointer pack" picks some), in a clang ASan+UBSan build.
# What crashes lands in tests/fuzz/crashes/NAME/, which `make test` replays;
# every target runs even when one crashes, and the summary gives each one's
# executions. The growing corpus stays in build-fuzz/corpus/NAME.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= $(basename $(notdir $(filter-out %/replay_main.cpp,$(wildcard tests/fuzz/*.cpp))))
fuzz:
	cmake -S . -B build-fuzz -G Ninja -DMLO_FUZZ=ON -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
	cmake --build build-fuzz -j $(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))
	@failed=; for n in $(FUZZ_TARGETS); do mkdir -p build-fuzz/corpus/$$n tests/fuzz/crashes/$$n; \
	    build-fuzz/tests/fuzz/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -timeout=20 -rss_limit_mb=2048 -max_len=16384 \
	        -artifact_prefix=tests/fuzz/crashes/$$n/ build-fuzz/corpus/$$n tests/fuzz/corpus/$$n \
	        >build-fuzz/fuzz_$$n.log 2>&1 || failed="$$failed $$n"; \
	    echo "fuzz $$n: $$(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' build-fuzz/fuzz_$$n.log || echo CRASHED), $$(ls tests/fuzz/crashes/$$n | wc -l) crash input(s)"; \
	done; [ -z "$$failed" ] || { echo "crashed:$$failed (logs: build-fuzz/fuzz_NAME.log)"; exit 1; }

clean:
	rm -rf $(BUILD_DIR) $(RELEASE_DIR)
