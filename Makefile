# Slate - top-level build.
#
#   make run     install what is missing, build, start slated on ./var
#   make test    install, build, run every test (unit tests twice: plain and
#                under ASan+UBSan), print one closing "N passed, N failed"
#   make bench   run the benchmarks under bench/
#   make fuzz    long libFuzzer runs (later issues)
#
# Each module is a static library built from its folder's .c files; programs
# link the libraries they need.  build/ holds the optimized build and
# build/asan/ the sanitizer build of the same sources.

CC      ?= cc
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Wshadow -Wno-unused-parameter -fno-strict-aliasing \
	   -I. -D_GNU_SOURCE
LDLIBS  := -lrocksdb -lisal -lpmem -luring -lpthread -lm
ASAN    := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

B  := build
BA := build/asan

COWSTORE_SRC := $(wildcard cowstore/*.c)
COWSTORE_HDR := $(wildcard cowstore/*.h)

UNIT_SRC   := $(wildcard tests/unit/*/*.c)
UNIT_BIN   := $(patsubst tests/unit/%.c,$(B)/tests/unit/%,$(UNIT_SRC))
UNIT_ASAN  := $(patsubst tests/unit/%.c,$(BA)/tests/unit/%,$(UNIT_SRC))
INTEG_C    := $(wildcard tests/integration/*.c)
INTEG_BIN  := $(patsubst tests/integration/%.c,$(B)/tests/integration/%,$(INTEG_C))
INTEG_SH   := $(wildcard tests/integration/*.sh)

PROGRAMS := $(B)/slated $(B)/slate-store $(B)/bench/cowstore-bench

.PHONY: all deps run test unit check-asan bench clean
all: $(PROGRAMS) $(UNIT_BIN) $(INTEG_BIN)

deps:
	@sh packaging/deps.sh

# ---- libraries -----------------------------------------------------------
$(B)/lib/libcowstore.a: $(patsubst %.c,$(B)/obj/%.o,$(COWSTORE_SRC))
	@mkdir -p $(dir $@)
	ar rcs $@ $^
$(BA)/lib/libcowstore.a: $(patsubst %.c,$(BA)/obj/%.o,$(COWSTORE_SRC))
	@mkdir -p $(dir $@)
	ar rcs $@ $^

$(B)/obj/%.o: %.c $(COWSTORE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<
$(BA)/obj/%.o: %.c $(COWSTORE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ASAN) -c -o $@ $<

# ---- programs ------------------------------------------------------------
$(B)/slated: mgmt/slated.c $(B)/lib/libcowstore.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)
$(B)/slate-store: mgmt/store_tool.c $(B)/lib/libcowstore.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)
$(B)/bench/cowstore-bench: bench/cowstore_bench.c $(B)/lib/libcowstore.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# ---- tests ---------------------------------------------------------------
$(B)/tests/unit/%: tests/unit/%.c tests/harness.h $(B)/lib/libcowstore.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(B)/lib/libcowstore.a $(LDLIBS)
$(BA)/tests/unit/%: tests/unit/%.c tests/harness.h $(BA)/lib/libcowstore.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ASAN) -o $@ $< $(BA)/lib/libcowstore.a $(LDLIBS)
$(B)/tests/integration/%: tests/integration/%.c tests/harness.h $(B)/lib/libcowstore.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(B)/lib/libcowstore.a $(LDLIBS)

test: deps
	@$(MAKE) --no-print-directory all $(UNIT_ASAN)
	@ASAN_OPTIONS=detect_leaks=1 tests/run.sh all $(UNIT_BIN) $(UNIT_ASAN) $(INTEG_BIN) $(INTEG_SH)

check-asan: deps
	@$(MAKE) --no-print-directory $(UNIT_ASAN)
	@tests/run.sh asan $(UNIT_ASAN)

run: deps
	@$(MAKE) --no-print-directory $(B)/slated
	$(B)/slated --data ./var

bench: deps
	@$(MAKE) --no-print-directory all
	bench/cowstore.sh

clean:
	rm -rf build
