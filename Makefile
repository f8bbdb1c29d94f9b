# masterd — GNU Makefile.
#
# Objects and binaries go under $(BUILD) (default build/), never into the
# source tree.  Every library comes from pkg-config.  New .c files are picked
# up by wildcard: a file joins the program or library of its folder, a
# tests/unit/test_*.c becomes a cmocka test binary, a tests/fuzz/fuzz_*.c a
# libFuzzer target.
#
#   make            build masterd, masterd-child, masterd-worker, masterctl
#   make check      install missing packages, build, run every test
#   make sanitize   the whole test suite built with ASan+UBSan
#   make fuzz       every libFuzzer target for FUZZ_TIME seconds each
#   make install    honours PREFIX and DESTDIR

PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
SBINDIR     ?= $(PREFIX)/sbin
LIBEXECDIR  ?= $(PREFIX)/libexec
DATADIR     ?= $(PREFIX)/share
MANDIR      ?= $(DATADIR)/man
SYSCONFDIR  ?= /etc
UNITDIR     ?= $(PREFIX)/lib/systemd/system
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
DESTDIR     ?=

BUILD       ?= build
CC          ?= cc
WERROR      ?= -Werror
OPTFLAGS    ?= -O2 -g
EXTRA_CFLAGS  ?=
EXTRA_LDFLAGS ?=
FUZZ_TIME   ?= 60

PKGS = libuv libcurl jansson libgit2 sqlite3 libseccomp

# Recursively expanded on purpose: pkg-config runs when a recipe needs the
# flags, which is after `make deps` has installed the packages.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_CFLAGS = $(shell pkg-config --cflags cmocka 2>/dev/null)
CMOCKA_LIBS   = $(shell pkg-config --libs cmocka 2>/dev/null)

CPPFLAGS_ALL = -D_GNU_SOURCE -I. \
	-DMASTERD_PREFIX='"$(PREFIX)"' \
	-DMASTERD_SBINDIR='"$(SBINDIR)"' \
	-DMASTERD_LIBEXECDIR='"$(LIBEXECDIR)"' \
	-DMASTERD_DATADIR='"$(DATADIR)/masterd"' \
	-DMASTERD_SYSCONFDIR='"$(SYSCONFDIR)"'
CFLAGS_ALL = -std=c17 -Wall -Wextra $(WERROR) -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wno-unused-parameter -Wno-format-truncation \
	$(OPTFLAGS) \
	$(CPPFLAGS_ALL) $(PKG_CFLAGS) $(EXTRA_CFLAGS) $(CFLAGS)
# --as-needed: each program records only the libraries it calls.  masterd
# needs no libcurl and masterctl no libgit2 or libcurl; every library left
# out is memory and start-up time saved in each process.
LDLIBS_ALL = -Wl,--as-needed $(PKG_LIBS) -lm $(EXTRA_LDFLAGS) $(LDFLAGS)

# One folder per program or library.  A library is every .c of its folder;
# a program is its folder's objects linked with the libraries below it.  A
# program's main() lives in its folder's main.c (relay.c for
# the one-file programs); tests link the program folders as archives, from
# which the linker takes only the members a test calls, never a main().
UNIT_SRC   = $(wildcard tests/unit/test_*.c)
FUZZ_SRC   = $(wildcard tests/fuzz/fuzz_*.c)
BENCH_SRC  = $(wildcard tests/bench/bench_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
# $(call lib,NAME) is the archive built from the .c files of a folder.
lib = $(BUILD)/lib$(1).a

# folder                  archive name
LIB_DIRS = proto:proto common:common common/llm:llm \
	daemon/masterd:masterd daemon/masterctl:masterctl \
	child/relay:relay child/worker:worker

define folder_lib
$(call lib,$(2)): $(call obj,$(wildcard $(1)/*.c))
	@mkdir -p $$(dir $$@)
	rm -f $$@ && $$(AR) rcs $$@ $$^
endef
$(foreach d,$(LIB_DIRS),$(eval $(call folder_lib,$(word 1,$(subst :, ,$(d))),$(word 2,$(subst :, ,$(d))))))

MASTERD    = $(BUILD)/masterd
MASTERCTL  = $(BUILD)/masterctl
CHILD      = $(BUILD)/masterd-child
WORKER     = $(BUILD)/masterd-worker
UNIT_BINS  = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
FUZZ_BINS  = $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
BENCH_BINS = $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

# What each program links, its own folder first; proto before common,
# which it calls.  masterd loads no
# libcurl, the relay neither libcurl nor libgit2 (--as-needed drops what a
# program does not call).
MASTERD_LIBS   = $(call lib,masterd) $(call lib,proto) $(call lib,common)
MASTERCTL_LIBS = $(call lib,masterctl) $(call lib,proto) $(call lib,common)
CHILD_LIBS     = $(call lib,relay) $(call lib,proto) $(call lib,common)
WORKER_LIBS    = $(call lib,worker) $(call lib,llm) $(call lib,proto) \
	$(call lib,common)
# Tests and benchmarks may call into any folder.
TEST_LIBS = $(call lib,masterctl) $(call lib,masterd) $(call lib,worker) \
	$(call lib,relay) $(call lib,llm) $(call lib,proto) $(call lib,common)

PROGRAMS = $(MASTERD) $(MASTERCTL) $(CHILD) $(WORKER)

.PHONY: FORCE all check test test-build unit e2e deps fuzz-deps sanitize sanitize-build fuzz fuzz-build bench demo soak-full \
	install uninstall clean
.DEFAULT_GOAL := all
# Keep test and fuzz objects between builds.
.SECONDARY:

all: $(PROGRAMS)

# The objects that compile the install paths in are rebuilt when a path
# changes (`make && make install PREFIX=/usr` installs binaries built for
# /usr): the stamp is rewritten only when its text changes.
PATHS_STAMP = $(BUILD)/paths.stamp
PATHS_NOW = $(PREFIX):$(SBINDIR):$(LIBEXECDIR):$(DATADIR):$(SYSCONFDIR)
PATHS_OBJS = $(call obj,common/paths.c daemon/masterd/main.c \
	daemon/masterd/sandbox.c child/worker/main.c)
$(PATHS_STAMP): FORCE
	@mkdir -p $(dir $@)
	@echo '$(PATHS_NOW)' | cmp -s - $@ 2>/dev/null || \
		echo '$(PATHS_NOW)' >$@
$(PATHS_OBJS): $(PATHS_STAMP)
FORCE:

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c -o $@ $<

$(BUILD)/obj/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(CMOCKA_CFLAGS) -MMD -MP -c -o $@ $<

$(MASTERD): $(call obj,daemon/masterd/main.c) $(MASTERD_LIBS)
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

$(MASTERCTL): $(call obj,daemon/masterctl/main.c) $(MASTERCTL_LIBS)
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

$(CHILD): $(call obj,child/relay/relay.c) $(CHILD_LIBS)
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

$(WORKER): $(call obj,child/worker/main.c) $(WORKER_LIBS)
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

# Every unit test links testutil.o, every benchmark benchlib.o: helpers
# named so that the test_* and bench_* wildcards leave them out.
$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o \
    $(BUILD)/obj/tests/unit/testutil.o $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(CMOCKA_LIBS) $(LDLIBS_ALL)

$(BUILD)/bench/%: $(BUILD)/obj/tests/bench/%.o \
    $(BUILD)/obj/tests/bench/benchlib.o $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -fsanitize=fuzzer -o $@ $^ $(LDLIBS_ALL)

# ---------------------------------------------------------------- tests

# `check` is the README's test command: packages first, then a recursive
# make so that pkg-config sees what `deps` installed.
# Both passes at once (tools/check.sh says why that is safe).
check: deps
	@MAKE="$(MAKE)" sh tools/check.sh

test: test-build
	@BUILD=$(BUILD) sh tests/run

# What the suite runs, built; tools/check.sh runs it in shards.
test-build: all $(UNIT_BINS) $(BENCH_BINS)

unit: $(UNIT_BINS)
	@BUILD=$(BUILD) TESTS_ONLY=unit sh tests/run

e2e: all
	@BUILD=$(BUILD) TESTS_ONLY=e2e sh tests/run

SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
sanitize:
	+$(MAKE) --no-print-directory BUILD=build/sanitize OPTFLAGS="-O1 -g" \
		EXTRA_CFLAGS="$(SAN_FLAGS)" EXTRA_LDFLAGS="$(SAN_FLAGS)" test
sanitize-build:
	+$(MAKE) --no-print-directory BUILD=build/sanitize OPTFLAGS="-O1 -g" \
		EXTRA_CFLAGS="$(SAN_FLAGS)" EXTRA_LDFLAGS="$(SAN_FLAGS)" test-build

fuzz: fuzz-deps
	+$(MAKE) --no-print-directory BUILD=build/fuzz CC=clang OPTFLAGS="-O1 -g" \
		EXTRA_CFLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -Wno-unknown-warning-option" \
		EXTRA_LDFLAGS="-fsanitize=address,undefined" fuzz-build
	@FUZZ_TIME=$(FUZZ_TIME) sh tests/fuzz/run build/fuzz/fuzz

fuzz-build: $(FUZZ_BINS)

# The full soak: 30 tasks of 3 domains with faults (make check runs 6).
soak-full: all
	@BUILD=$(BUILD) SOAK_TASKS=30 sh tests/soak/soak.sh

bench: all $(BENCH_BINS)
	@BUILD=$(BUILD) sh tests/bench/run

demo: deps
	+$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) sh tests/demo.sh

# ---------------------------------------------------------------- packages

DEB_BUILD = make gcc pkg-config libuv1-dev libcurl4-openssl-dev \
	libjansson-dev libgit2-dev libsqlite3-dev libcmocka-dev libseccomp-dev
# python3: the test LLM server and the scripted children; git: to inspect
# the task repositories; systemd: systemd-analyze, which checks the units;
# valgrind: the leak check of the soak test; sqlite3: integrity checks.
DEB_TEST  = python3 systemd git valgrind sqlite3
DEB_FUZZ  = clang libclang-rt-dev
deps:
	@sh tools/deps.sh $(DEB_BUILD) $(DEB_TEST)

fuzz-deps:
	@sh tools/deps.sh $(DEB_BUILD) $(DEB_FUZZ)

# ---------------------------------------------------------------- install

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
		$(DESTDIR)$(LIBEXECDIR)/masterd
	install -m 755 $(MASTERD) $(DESTDIR)$(SBINDIR)/masterd
	install -m 755 $(MASTERCTL) $(DESTDIR)$(BINDIR)/masterctl
	install -m 755 $(CHILD) $(DESTDIR)$(LIBEXECDIR)/masterd/masterd-child
	install -m 755 $(WORKER) $(DESTDIR)$(LIBEXECDIR)/masterd/masterd-worker
	if [ -d systemd ]; then \
		install -d $(DESTDIR)$(UNITDIR); \
		for u in systemd/*.service systemd/*.socket; do \
			[ -f "$$u" ] || continue; \
			sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
				"$$u" > $(DESTDIR)$(UNITDIR)/$${u##*/}; \
			chmod 644 $(DESTDIR)$(UNITDIR)/$${u##*/}; \
		done; \
	fi
	if [ -d docs/man ]; then \
		for p in docs/man/*.[1-8]; do \
			[ -f "$$p" ] || continue; s=$${p##*.}; \
			install -d $(DESTDIR)$(MANDIR)/man$$s; \
			install -m 644 "$$p" $(DESTDIR)$(MANDIR)/man$$s/; \
		done; \
	fi
	if [ -f tools/masterctl.bash ]; then \
		install -d $(DESTDIR)$(BASHCOMPDIR); \
		install -m 644 tools/masterctl.bash $(DESTDIR)$(BASHCOMPDIR)/masterctl; \
	fi
	if [ -d prompts ]; then \
		install -d $(DESTDIR)$(DATADIR)/masterd/prompts; \
		install -m 644 prompts/* $(DESTDIR)$(DATADIR)/masterd/prompts/; \
	fi
	if [ -f masterd.conf.example ]; then \
		install -d $(DESTDIR)$(DATADIR)/doc/masterd; \
		install -m 644 masterd.conf.example $(DESTDIR)$(DATADIR)/doc/masterd/; \
	fi

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/masterd $(DESTDIR)$(BINDIR)/masterctl
	rm -rf $(DESTDIR)$(LIBEXECDIR)/masterd $(DESTDIR)$(DATADIR)/masterd
	rm -rf $(DESTDIR)$(DATADIR)/doc/masterd
	rm -f $(DESTDIR)$(UNITDIR)/masterd.service $(DESTDIR)$(UNITDIR)/masterd.socket
	rm -f $(DESTDIR)$(BASHCOMPDIR)/masterctl
	rm -f $(DESTDIR)$(MANDIR)/man8/masterd.8 $(DESTDIR)$(MANDIR)/man1/masterctl.1
	rm -f $(DESTDIR)$(MANDIR)/man5/masterd.conf.5

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
