# Slate - top-level build.
#
#   make run     install what is missing, build (with the web console), start
#                slated on ./var
#   make test    install, build, run every test (unit tests twice: plain and
#                under ASan+UBSan), print one closing "N passed, N failed"
#   make bench   run the benchmarks under bench/ (cowstore, iscsi, nfs, qos)
#   make fuzz    long libFuzzer runs: FUZZ_SECONDS (default 600) per target
#
# Each module is a static library built from its folder's .c files; programs
# link the libraries they need.  build/ holds the optimized build,
# build/asan/ the sanitizer build of the same sources and build/fuzz/ the
# libFuzzer build (clang, coverage + ASan + UBSan).

CC      ?= cc
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Wshadow -Wno-unused-parameter -fno-strict-aliasing \
	   -I. -D_GNU_SOURCE
LDLIBS  := -lmicrohttpd -ljansson -lrocksdb -lisal -lpmem -luring -lcrypto -lpthread -lm
ASAN    := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# libFuzzer is clang's; the fuzz build is the ASAN build plus its coverage
FUZZCC  := clang

B  := build
BA := build/asan
BF := build/fuzz

# Modules, each a static library; a program links them in this order
# (a module depends only on those after it).
MODULES  := mgmt target/iscsi target/nfs target/scsi qos sched cowstore
MOD_LIBS  = $(foreach m,$(MODULES),$(1)/lib/lib$(subst /,_,$(m)).a)
# mgmt/ctl.h is slatectl's alone (no module includes it)
HEADERS  := $(filter-out mgmt/ctl.h,$(wildcard $(addsuffix /*.h,$(MODULES))))

UNIT_SRC   := $(wildcard tests/unit/*/*.c tests/unit/*/*/*.c)
UNIT_HDRS  := tests/harness.h $(wildcard tests/unit/*/*.h tests/unit/*/*/*.h)
UNIT_BIN   := $(patsubst tests/unit/%.c,$(B)/tests/unit/%,$(UNIT_SRC))
UNIT_ASAN  := $(patsubst tests/unit/%.c,$(BA)/tests/unit/%,$(UNIT_SRC))
INTEG_C    := $(wildcard tests/integration/*.c)
INTEG_BIN  := $(patsubst tests/integration/%.c,$(B)/tests/integration/%,$(INTEG_C))
# Integration programs that a script drives (with a server's address) rather
# than tests that run on their own: built with the rest, not run by make test.
INTEG_DRIVEN := $(B)/tests/integration/nfs_api
INTEG_RUN  := $(filter-out $(INTEG_DRIVEN),$(INTEG_BIN))
INTEG_SH   := $(wildcard tests/integration/*.sh)

FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN   := $(patsubst tests/fuzz/%.c,$(BF)/tests/fuzz/%,$(FUZZ_SRC))

PROGRAMS := $(B)/slated $(B)/slate-store $(B)/slatectl $(B)/bench/cowstore-bench \
	    $(B)/bench/iscsi-load \
	    $(B)/bench/qos-bench

.PHONY: all deps run test unit check-asan bench fuzz clean web
all: $(PROGRAMS) $(UNIT_BIN) $(INTEG_BIN)

deps:
	@sh packaging/deps.sh

# ---- libraries -----------------------------------------------------------
# mgmt/ holds the programs' main files beside its library's sources; the
# OpenAPI document is generated C (mgmt/openapi/embed.py) in that library.
CTL_SRC := mgmt/slatectl.c $(wildcard mgmt/ctl_*.c)
PROGRAM_SRC := mgmt/slated.c mgmt/store_tool.c mgmt/store_nfs.c $(CTL_SRC)
OPENAPI_PARTS := $(sort $(filter-out mgmt/openapi/base.json,$(wildcard mgmt/openapi/*.json)))
GEN_OPENAPI := $(B)/gen/mgmt/openapi_doc.c
$(GEN_OPENAPI): mgmt/openapi/embed.py mgmt/openapi/base.json $(OPENAPI_PARTS)
	@mkdir -p $(dir $@)
	python3 mgmt/openapi/embed.py $@ mgmt/openapi/base.json $(OPENAPI_PARTS)
$(B)/obj/gen/%.o: $(B)/gen/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<
$(BA)/obj/gen/%.o: $(B)/gen/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ASAN) -c -o $@ $<
$(BF)/obj/gen/%.o: $(B)/gen/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(FUZZCC) $(CFLAGS) $(ASAN) -fsanitize=fuzzer-no-link -c -o $@ $<
MODULE_SRC = $(filter-out $(PROGRAM_SRC),$(wildcard $(1)/*.c))
MODULE_GEN = $(if $(filter mgmt,$(1)),$(2)/obj/gen/mgmt/openapi_doc.o)

define module_lib
$(2)/lib/lib$(subst /,_,$(1)).a: $(patsubst %.c,$(2)/obj/%.o,$(call MODULE_SRC,$(1))) $(call MODULE_GEN,$(1),$(2))
	@mkdir -p $$(dir $$@)
	rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach d,$(B) $(BA) $(BF),$(foreach m,$(MODULES),$(eval $(call module_lib,$(m),$(d)))))

$(B)/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<
$(BA)/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ASAN) -c -o $@ $<
$(BF)/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(FUZZCC) $(CFLAGS) $(ASAN) -fsanitize=fuzzer-no-link -c -o $@ $<

# ---- programs ------------------------------------------------------------
$(B)/slated: mgmt/slated.c $(call MOD_LIBS,$(B))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)
$(B)/slate-store: mgmt/store_tool.c mgmt/store_nfs.c mgmt/store_tool.h $(call MOD_LIBS,$(B))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $(filter-out %.h,$^) $(LDLIBS)
# slatectl is a client of the REST API only: libcurl and jansson, no module
$(B)/slatectl: $(CTL_SRC) mgmt/ctl.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $(CTL_SRC) -lcurl -ljansson
$(B)/bench/cowstore-bench: bench/cowstore_bench.c $(call MOD_LIBS,$(B))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)
# qos_stream_record's cost per call (bench/qos_bench.c prints its own table)
$(B)/bench/qos-bench: bench/qos_bench.c $(call MOD_LIBS,$(B))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)
# the iSCSI load generator (issue 6's hosts): libiscsi only, no Slate module
$(B)/bench/iscsi-load: bench/iscsi_load.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ -liscsi -lm
# bench/nfs.sh's metadata client: libnfs only, no Slate module
$(B)/bench/nfs-meta: bench/nfs_meta.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) -lnfs

# ---- web console ---------------------------------------------------------
# web/ holds the console's own files; npm ci brings the pinned libraries
# (package-lock.json) into web/node_modules, only when the lock is newer
# than what is installed. build/web/ is what slated serves (the web/ folder
# beside build/slated): the console's files and uPlot's built files.
WEB_SRC := web/index.html web/favicon.svg $(wildcard web/css/*.css web/js/*.js)
WEB_OUT := $(patsubst web/%,$(B)/web/%,$(WEB_SRC))
WEB_VENDOR := $(B)/web/vendor/uPlot.esm.js $(B)/web/vendor/uPlot.min.css
web: $(WEB_OUT) $(WEB_VENDOR)
web/node_modules/.package-lock.json: web/package-lock.json web/package.json
	cd web && npm ci --no-audit --no-fund
	@touch $@
$(B)/web/%: web/%
	@mkdir -p $(dir $@)
	cp $< $@
$(B)/web/vendor/%: web/node_modules/.package-lock.json
	@mkdir -p $(dir $@)
	cp web/node_modules/uplot/dist/$* $@

# ---- tests ---------------------------------------------------------------
$(B)/tests/unit/%: tests/unit/%.c $(UNIT_HDRS) $(call MOD_LIBS,$(B))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(call MOD_LIBS,$(B)) $(LDLIBS)
$(BA)/tests/unit/%: tests/unit/%.c $(UNIT_HDRS) $(call MOD_LIBS,$(BA))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ASAN) -o $@ $< $(call MOD_LIBS,$(BA)) $(LDLIBS)
$(B)/tests/integration/%: tests/integration/%.c tests/harness.h $(call MOD_LIBS,$(B))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(call MOD_LIBS,$(B)) $(LDLIBS)
# nfs_api is a libnfs client (tests/integration/nfs_clients.sh runs it)
$(B)/tests/integration/nfs_api: tests/integration/nfs_client.h tests/integration/nfs_checks.h \
	tests/integration/nfs_modes.h
$(B)/tests/integration/nfs_api: LDLIBS += -lnfs
# the reconfiguration and volume-move tests drive the servers with libiscsi /
# libnfs clients
$(B)/tests/unit/target/iscsi/test_reconf $(BA)/tests/unit/target/iscsi/test_reconf \
$(B)/tests/unit/target/iscsi/test_hold $(BA)/tests/unit/target/iscsi/test_hold: \
	LDLIBS += -liscsi
$(B)/tests/unit/target/nfs/test_reconf $(BA)/tests/unit/target/nfs/test_reconf: \
	LDLIBS += -lnfs

$(BF)/tests/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz_server.h $(call MOD_LIBS,$(BF))
	@mkdir -p $(dir $@)
	$(FUZZCC) $(CFLAGS) $(ASAN) -fsanitize=fuzzer -o $@ $< $(call MOD_LIBS,$(BF)) $(LDLIBS)

test: deps
	@$(MAKE) --no-print-directory all web $(UNIT_ASAN) $(FUZZ_BIN)
	@ASAN_OPTIONS=detect_leaks=1 tests/run.sh all $(UNIT_BIN) $(UNIT_ASAN) $(INTEG_RUN) \
		$(INTEG_SH) tests/fuzz/run.sh

check-asan: deps
	@$(MAKE) --no-print-directory $(UNIT_ASAN)
	@tests/run.sh asan $(UNIT_ASAN)

fuzz: deps
	@$(MAKE) --no-print-directory $(FUZZ_BIN)
	@tests/fuzz/run.sh --long

run: deps
	@$(MAKE) --no-print-directory $(B)/slated $(B)/slatectl web
	$(B)/slated --data ./var

# nfs-meta and iscsi-load are made in the sub-make, after deps has installed
# libnfs-dev and libiscsi-dev
bench: deps
	@$(MAKE) --no-print-directory all $(B)/bench/nfs-meta $(B)/bench/iscsi-load
	bench/cowstore.sh
	bench/iscsi.sh
	bench/nfs.sh
	bench/qos.sh

clean:
	rm -rf build
