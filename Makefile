# emgw: one non-recursive Makefile.  Targets: all check bench demo install clean
# asan fuzz.  Objects go to build/; tests link every object but main.o.

VERSION   := 0.1.0
PREFIX    ?= /usr/local
SBINDIR   ?= $(PREFIX)/sbin
MANDIR    ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR   ?= /lib/systemd/system
DESTDIR   ?=
B         ?= build

CC        ?= cc
PKG_CONFIG ?= pkg-config
# Cross build: make CROSS=aarch64-linux-gnu (or arm-linux-gnueabihf) uses
# Debian's cross compiler and the target's multiarch -dev packages
# (make cross-deps CROSS=... installs them) and builds into build-$(CROSS).
ifneq ($(CROSS),)
CC        := $(CROSS)-gcc
PKG_CONFIG := $(CROSS)-pkg-config
B         := build-$(CROSS)
endif
PKGS      := sqlite3 inih jansson zlib libcrypto libmodbus libssl
# libgps is not linked: gateway/gnss.c dlopen()s it by the soname of the
# library this build compiles against (the target's, in a cross build), so
# only a gateway with [gnss] maps it and the libdbus and libstdc++ it pulls.
LIBGPS_SONAME := $(shell readelf -d "$$($(PKG_CONFIG) --variable=libdir libgps 2>/dev/null)/libgps.so" \
		   2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
WARN      := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
             -Wpointer-arith -Wcast-qual -Wformat=2
ifneq ($(CI)$(WERROR),)
WARN      += -Werror
endif
OPT       ?= -O2 -g
CFLAGS    ?= $(OPT)
ALL_CFLAGS := -std=c11 -D_DEFAULT_SOURCE -DEMGW_VERSION='"$(VERSION)"' $(WARN) \
             -MMD -MP -I. $(shell $(PKG_CONFIG) --cflags $(PKGS) libgps 2>/dev/null) $(CFLAGS)
LIBS      := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -lpaho-mqtt3as -lpthread -lm

PROTO_SRC := $(sort $(wildcard protocols/*.c))
GW_SRC    := $(sort $(wildcard gateway/*.c))
LIB_OBJ   := $(PROTO_SRC:%.c=$(B)/%.o) $(filter-out $(B)/gateway/main.o,$(GW_SRC:%.c=$(B)/%.o))
UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
SIM_SRC   := $(sort $(wildcard tests/sim/*.c))
SIM_BIN   := $(SIM_SRC:tests/sim/%.c=$(B)/tests/%)
BENCH_SRC := $(sort $(wildcard tests/bench/*.c))
BENCH_BIN := $(BENCH_SRC:tests/bench/%.c=$(B)/bench/%)
FUZZ_SRC  := $(sort $(wildcard tests/fuzz/fuzz_*.c))

.PHONY: all deps check unit integration bench demo install clean asan fuzz fuzz-check \
	format format-check soak
# Keep every object: deleted as intermediates after a first build, they were
# remade (and the simulators relinked under running tests) by the next make,
# which knows them from their .d files.
.SECONDARY:

all: $(B)/emgwd $(SIM_BIN)

# aedes, the second MQTT broker of test_broker2.sh: from the npm registry
# into a cache outside the tree, once; without it that test skips.
deps:
	@./tests/scripts/install-deps.sh
	@./tests/scripts/install-aedes.sh >/dev/null || echo "deps: no aedes: test_broker2 will skip"

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/gateway/gnss.o: ALL_CFLAGS += $(if $(LIBGPS_SONAME),-DEMGW_LIBGPS_SONAME='"$(LIBGPS_SONAME)"')

$(B)/emgwd: $(B)/gateway/main.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/tests/test_%: $(B)/tests/unit/test_%.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(shell $(PKG_CONFIG) --libs cmocka)

$(B)/tests/%: $(B)/tests/sim/%.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/bench/%: $(B)/tests/bench/%.o $(LIB_OBJ)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

unit: $(UNIT_BIN)
	@./tests/scripts/run-unit.sh $(UNIT_BIN)

integration: all
	@./tests/scripts/run-integration.sh $(B)

# Every C file is clang-formatted (.clang-format): format rewrites them,
# format-check lists the ones that differ and fails.
FMT_SRC = $(shell find gateway protocols tests -name '*.[ch]' | sort)
format:
	clang-format -i $(FMT_SRC)
format-check:
	@command -v clang-format >/dev/null || { echo "format-check: no clang-format (make deps)"; exit 1; }
	@bad=$$(clang-format --dry-run $(FMT_SRC) 2>&1 | \
		sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: warning: code should be clang-formatted.*/\1/p' | sort -u); \
	if [ -n "$$bad" ]; then echo "format-check: not clang-formatted (make format):"; \
		echo "$$bad" | sed 's/^/  /'; exit 1; fi

# check: install what is missing, check the format, build with warnings as
# errors, run every test.
# Builds run on every core (NPROC); the steps themselves in order.
NPROC     ?= $(shell nproc 2>/dev/null || echo 2)
check: deps
	@$(MAKE) --no-print-directory format-check
	$(MAKE) --no-print-directory -j$(NPROC) WERROR=1 all $(UNIT_BIN)
	@./tests/scripts/run-unit.sh $(UNIT_BIN)
	$(MAKE) --no-print-directory -j$(NPROC) WERROR=1 $(FUZZ_BIN)
	$(MAKE) --no-print-directory WERROR=1 fuzz-check
	@./tests/scripts/run-integration.sh $(B)

bench: deps all $(BENCH_BIN)
	@./tests/scripts/bench.sh $(B)
	@./tests/scripts/wakeups.sh $(B)

DURATION ?= 0
demo: deps all
	@./tests/scripts/demo.sh $(B) $(DURATION)

# Sanitizer build: every test under ASan/UBSan.
ASAN_MAKE = $(MAKE) --no-print-directory B=build-asan \
	OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" LDFLAGS="-fsanitize=address,undefined"
asan:
	$(ASAN_MAKE) unit

# Soak (not part of check): emgwd from the ASan build for SOAK_SECONDS against
# restarting servers, reloads, commands and hostile input; RSS, descriptors,
# sanitizer reports and records lost are the verdict (tests/scripts/soak.sh).
SOAK_SECONDS ?= 600
soak: deps
	$(ASAN_MAKE) all
	@./tests/scripts/soak.sh build-asan $(SOAK_SECONDS)

# Fuzz targets (libFuzzer, clang): fuzz-check runs each over its seed corpus,
# fuzz runs each for FUZZ_SECONDS.
FUZZ_SECONDS ?= 60
FUZZ_BIN  := $(FUZZ_SRC:tests/fuzz/%.c=$(B)/fuzz/%)
FUZZ_FLAGS := -std=c11 -D_DEFAULT_SOURCE -g -O1 -I. -fsanitize=fuzzer,address,undefined
$(B)/fuzz/%: tests/fuzz/%.c $(PROTO_SRC)
	@mkdir -p $(@D)
	clang $(FUZZ_FLAGS) $(shell $(PKG_CONFIG) --cflags jansson) -o $@ $^ \
		$(shell $(PKG_CONFIG) --libs jansson) -lm
# The config parser is gateway code: it links config.c and log.c, and inih.
FUZZ_CONFIG_PKGS := inih jansson
$(B)/fuzz/fuzz_config: tests/fuzz/fuzz_config.c gateway/config.c gateway/log.c $(PROTO_SRC)
	@mkdir -p $(@D)
	clang $(FUZZ_FLAGS) $(shell $(PKG_CONFIG) --cflags $(FUZZ_CONFIG_PKGS)) -o $@ $^ \
		$(shell $(PKG_CONFIG) --libs $(FUZZ_CONFIG_PKGS)) -lm
# The zones parser lives in gateway/ (it reads GeoJSON with jansson): its
# target links zones.c with what it needs.
$(B)/fuzz/fuzz_zones: tests/fuzz/fuzz_zones.c gateway/zones.c gateway/log.c gateway/clock.c $(PROTO_SRC)
	@mkdir -p $(@D)
	clang $(FUZZ_FLAGS) $(shell $(PKG_CONFIG) --cflags jansson) -o $@ $^ \
		$(shell $(PKG_CONFIG) --libs jansson) -lm
# The key reader: signer.c with OpenSSL (and log.c).
$(B)/fuzz/fuzz_signer: tests/fuzz/fuzz_signer.c gateway/signer.c gateway/log.c $(PROTO_SRC)
	@mkdir -p $(@D)
	clang $(FUZZ_FLAGS) $(shell $(PKG_CONFIG) --cflags jansson libcrypto) -o $@ $^ \
		$(shell $(PKG_CONFIG) --libs jansson libcrypto) -lm
fuzz-check: $(FUZZ_BIN)
	@./tests/scripts/run-fuzz.sh check $(FUZZ_BIN)
fuzz: $(FUZZ_BIN)
	@./tests/scripts/run-fuzz.sh $(FUZZ_SECONDS) $(FUZZ_BIN)

# Target architectures: check-cross builds for each (armhf is skipped where its
# packages cannot be had) and runs the unit and service-free integration tests
# under qemu-user; slow, so not part of check.  deb builds the Debian packages
# under build/deb/, deb-test installs the amd64 one into a debootstrap root.
CROSS_TRIPLETS ?= aarch64-linux-gnu arm-linux-gnueabihf
.PHONY: cross-deps check-cross deb deb-test
cross-deps:
	@./tests/scripts/install-cross.sh $(or $(CROSS),aarch64-linux-gnu)
check-cross: deps all
	@./tests/scripts/check-cross.sh $(B) $(CROSS_TRIPLETS)
deb: deps
	@./tests/scripts/build-deb.sh $(VERSION) $(CROSS_TRIPLETS)
deb-test: deb
	@./tests/scripts/deb-test.sh $(VERSION)

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSCONFDIR)/emgw \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(PREFIX)/lib/sysusers.d $(DESTDIR)$(PREFIX)/lib/tmpfiles.d
	install -m 0755 $(B)/emgwd $(DESTDIR)$(SBINDIR)/emgwd
	install -m 0644 gateway/emgwd.8 $(DESTDIR)$(MANDIR)/man8/emgwd.8
	test -e $(DESTDIR)$(SYSCONFDIR)/emgw/emgw.conf || \
		install -m 0640 config/emgw.conf $(DESTDIR)$(SYSCONFDIR)/emgw/emgw.conf
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		systemd/emgw.service.in > $(DESTDIR)$(UNITDIR)/emgw.service
	install -m 0644 systemd/emgw.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/emgw.conf
	install -m 0644 systemd/emgw.tmpfiles $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/emgw.conf

clean:
	rm -rf build build-asan build-aarch64-linux-gnu build-arm-linux-gnueabihf

-include $(shell find $(B) -name '*.d' -type f 2>/dev/null)
