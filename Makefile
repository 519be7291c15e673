# paddlex-webhook: one Makefile, pkg-config for every library.
#
#   make            build bin/paddlex-webhook
#   make deps       install the Debian packages the build and tests need
#   make test       unit tests, data-driven cases, end-to-end tests
#   make check      make test, then the same suite under ASan+UBSan
#   make asan       build the sanitizer binary into build-asan/

VERSION  := 0.1.0
PROG     := bin/paddlex-webhook
PKGS     := libmicrohttpd jansson libcurl yaml-0.1 openssl gnutls
BUILD    ?= build
CC       ?= cc
OPT      ?= -O2 -g
SAN      ?=
# The libraries' flags are asked of pkg-config on first use, not when the
# Makefile is read: `make deps demo` on a fresh machine installs them first.
PKG_CFLAGS = $(eval PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null))$(PKG_CFLAGS)
PKG_LIBS   = $(eval PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null))$(PKG_LIBS)
CFLAGS   = -std=c11 -D_GNU_SOURCE -DPADDLEX_VERSION='"$(VERSION)"' $(OPT) $(SAN) -Wall -Wextra -Werror -MMD -MP -I. \
            $(PKG_CFLAGS)
LDLIBS   = $(PKG_LIBS) -lpthread
LDFLAGS  := $(SAN)

LIB_SRCS := $(sort $(filter-out webhook/main.c,$(wildcard webhook/*.c mutators/*.c mutators/json/*.c certs/*.c)))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIB      := $(BUILD)/libpaddlex.a
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

DEB_PKGS := build-essential pkg-config libmicrohttpd-dev libjansson-dev \
            libcurl4-openssl-dev libyaml-dev libssl-dev libgnutls28-dev \
            libcmocka-dev python3 python3-yaml python3-cryptography openssl curl clang libclang-rt-14-dev \
            wrk nginx-light prometheus valgrind
# Debian's interpreter, whatever else is first on PATH: the tests and the
# demo use its python3-yaml.
PYTHON   ?= /usr/bin/python3

.PHONY: all deps demo test unit cases e2e check asan bench clean
.PHONY: fuzz valgrind monitoring-rules
all: $(PROG)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(PROG): $(BUILD)/webhook/main.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS) -lcmocka

# Installs only what is missing; apt-get update runs only when a package is.
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else echo "all packages present"; fi
	@# kubectl (client only: `kubectl kustomize` for the manifest tests): the
	@# machine's own when it has one, else Debian's.
	@command -v kubectl >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubernetes-client; }

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

# The quick start: a self-signed certificate, the server, the PP-OCR example.
demo: deps $(PROG)
	$(PYTHON) examples/demo.py --bin $(PROG) examples/pp-ocr.yaml

cases: $(PROG)
	$(PYTHON) tests/cases/run.py --bin $(PROG)

e2e: $(PROG)
	$(PYTHON) tests/e2e/run.py --bin $(PROG)

# tests/monitoring/paddlex-webhook.rules.yaml, the rules file promtool's unit
# tests load, from the PrometheusRule of manifests/monitoring/ (its spec);
# tests/e2e/test_monitoring.py fails when the two differ.
monitoring-rules:
	$(PYTHON) tests/e2e/test_monitoring.py --write-rules

test: deps
	$(MAKE) unit cases e2e

asan:
	$(MAKE) BUILD=build-asan PROG=build-asan/paddlex-webhook OPT="-O1 -g -fno-omit-frame-pointer" \
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" build-asan/paddlex-webhook

check: test
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	$(MAKE) BUILD=build-asan PROG=build-asan/paddlex-webhook OPT="-O1 -g -fno-omit-frame-pointer" \
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" test

# SPEC §7 figures against nginx in the same run (not part of make test).
bench: deps $(PROG)
	$(PYTHON) tests/bench/bench.py --bin $(PROG)

# libFuzzer targets (tests/fuzz/): the library built by clang with coverage,
# ASan and UBSan into build-fuzz/, one binary per target. Each target first
# replays tests/fuzz/regressions/<target>/ (saved reproducers), then fuzzes
# for FUZZ_SECONDS from seeds made from the test data; a failing replay or a
# new crash fails the target after all targets ran. New crashes land in
# build-fuzz/artifacts/<target>/, the grown corpus in build-fuzz/corpus/.
FUZZ_TARGETS := review configchanges sync yaml $(if $(wildcard mutators/json/jsonparse.c),jsonparse)
FUZZ_SECONDS ?= 60
FUZZ_OPT     ?= -O1 -g -fno-omit-frame-pointer
FUZZ_CFLAGS  = -std=c11 -D_GNU_SOURCE $(FUZZ_OPT) -Wall -Wextra -Werror -I. \
                $(PKG_CFLAGS) \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

fuzz: $(PROG)
	$(MAKE) BUILD=build-fuzz CC=clang OPT="$(FUZZ_OPT)" \
		SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all" build-fuzz/libpaddlex.a
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "clang ... -o build-fuzz/fuzz_$$t tests/fuzz/fuzz_$$t.c build-fuzz/libpaddlex.a"; \
		clang $(FUZZ_CFLAGS) -o build-fuzz/fuzz_$$t tests/fuzz/fuzz_$$t.c build-fuzz/libpaddlex.a $(LDLIBS); \
	done
	rm -rf build-fuzz/seeds
	$(PYTHON) tests/fuzz/seed.py --bin $(PROG) --out build-fuzz/seeds
	@failed=""; for t in $(FUZZ_TARGETS); do \
		if [ -n "$$(ls tests/fuzz/regressions/$$t 2>/dev/null)" ]; then \
			echo "== fuzz_$$t: replay tests/fuzz/regressions/$$t"; \
			build-fuzz/fuzz_$$t -timeout=5 tests/fuzz/regressions/$$t/* || failed="$$failed $$t(replay)"; \
		fi; \
		mkdir -p build-fuzz/corpus/$$t build-fuzz/artifacts/$$t; \
		echo "== fuzz_$$t: $(FUZZ_SECONDS) s"; \
		build-fuzz/fuzz_$$t -max_len=65536 -timeout=5 -max_total_time=$(FUZZ_SECONDS) \
			-dict=tests/fuzz/paddlex.dict -artifact_prefix=build-fuzz/artifacts/$$t/ \
			-print_final_stats=1 build-fuzz/corpus/$$t build-fuzz/seeds/$$t || failed="$$failed $$t"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: FAILED:$$failed"; exit 1; fi; echo "fuzz: no findings"

# The unit tests, then `review mutate|validate` (and validate under
# examples/policy.yaml) on every case review.json and every
# VALGRIND_EVERY-th generated case review, under memcheck: any error or
# leak fails. Uses the plain build ($(BUILD)), no sanitizers.
VALGRIND       ?= valgrind -q --leak-check=full --error-exitcode=1
VALGRIND_EVERY ?= 8

valgrind: $(UNIT_BINS) $(PROG)
	@set -e; for t in $(UNIT_BINS); do echo "== valgrind $$t"; $(VALGRIND) $$t; done
	rm -rf $(BUILD)/valgrind
	$(PYTHON) tests/fuzz/seed.py --bin $(PROG) --out $(BUILD)/valgrind --only review
	@set -e; n=0; for r in tests/cases/*/*/review.json $(BUILD)/valgrind/review/*; do \
		n=$$((n + 1)); \
		case $$r in tests/*) ;; *) [ $$((n % $(VALGRIND_EVERY))) -eq 0 ] || continue ;; esac; \
		echo "== valgrind review mutate|validate $$r"; \
		$(VALGRIND) $(PROG) review mutate < $$r > /dev/null; \
		$(VALGRIND) $(PROG) review validate < $$r > /dev/null; \
		$(VALGRIND) $(PROG) review validate --policy examples/policy.yaml < $$r > /dev/null; \
	done

clean:
	rm -rf build build-* bin

-include $(LIB_OBJS:.o=.d) $(BUILD)/webhook/main.d
