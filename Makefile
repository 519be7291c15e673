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
CFLAGS   := -std=c11 -D_GNU_SOURCE -DPADDLEX_VERSION='"$(VERSION)"' $(OPT) $(SAN) -Wall -Wextra -Werror -MMD -MP -I. \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
LDFLAGS  := $(SAN)

LIB_SRCS := $(sort $(filter-out webhook/main.c,$(wildcard webhook/*.c mutators/*.c certs/*.c)))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIB      := $(BUILD)/libpaddlex.a
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

DEB_PKGS := build-essential pkg-config libmicrohttpd-dev libjansson-dev \
            libcurl4-openssl-dev libyaml-dev libssl-dev libgnutls28-dev \
            libcmocka-dev python3 python3-yaml openssl curl clang libclang-rt-14-dev \
            wrk nginx-light
# Debian's interpreter, whatever else is first on PATH: the tests and the
# demo use its python3-yaml.
PYTHON   ?= /usr/bin/python3

.PHONY: all deps demo test unit cases e2e check asan bench clean
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

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

# The quick start: a self-signed certificate, the server, the PP-OCR example.
demo: deps $(PROG)
	$(PYTHON) examples/demo.py --bin $(PROG) examples/pp-ocr.yaml

cases: $(PROG)
	$(PYTHON) tests/cases/run.py --bin $(PROG)

e2e: $(PROG)
	$(PYTHON) tests/e2e/run.py --bin $(PROG)

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

clean:
	rm -rf build build-* bin

-include $(LIB_OBJS:.o=.d) $(BUILD)/webhook/main.d
