/*
 * opcodes.c - the table of supported commands: CDB size, data direction,
 * where the LBA and length fields are, the handler, and the CDB usage bitmap
 * that REPORT SUPPORTED OPERATION CODES returns (SPC-4 6.35.3).
 *
 * The usage bitmap is also the reserved-bit check: scsi.c refuses a CDB with
 * a bit set that the bitmap does not allow (INVALID FIELD IN CDB pointing at
 * that bit), so a bit is added here only when its handler honours or
 * deliberately ignores it.  Byte 0 holds the opcode; for commands with a
 * service action, byte 1's low five bits hold the service action.
 */
#include <stddef.h>

#include "target/scsi/internal.h"

#define FF2 0xff, 0xff
#define FF4 FF2, FF2
#define FF8 FF4, FF4

#define DATA_IN SCSI_DIR_FROM_DEV
#define DATA_OUT SCSI_DIR_TO_DEV
#define NO_DATA SCSI_DIR_NONE

/* Who may run a command while another nexus holds a reservation (pr.c). */
#define PR_ALL (CMD_PR_ALLOWED | CMD_RES2_ALLOWED) /* anyone, under any kind */
#define PR_ANY CMD_PR_ALLOWED                       /* under any persistent type */
#define PR_READ CMD_PR_READ                         /* under WRITE EXCLUSIVE types */

/* Block command with a standard LBA/length layout (SBC-3 4.2.2). */
#define RW(nm, op, len, flags_, dir_, lo, ls, no, ns, fn, ...)                              \
	{ .name = nm, .opcode = op, .sa = -1, .cdb_len = len, .flags = flags_, .dir = dir_,  \
	  .lba_off = lo, .lba_size = ls, .len_off = no, .len_size = ns,                     \
	  .len_unit = (dir_) == NO_DATA ? LEN_NONE : LEN_BLOCKS, .exec = fn,                \
	  .usage = { op, __VA_ARGS__ } }
/* Command whose data is an allocation or parameter list length in bytes. */
#define BYTES(nm, op, sa_, len, flags_, dir_, no, ns, fn, ...)                             \
	{ .name = nm, .opcode = op, .sa = sa_, .cdb_len = len, .flags = flags_, .dir = dir_, \
	  .len_off = no, .len_size = ns, .len_unit = (ns) ? LEN_BYTES : LEN_NONE,           \
	  .exec = fn, .usage = { op, __VA_ARGS__ } }
/* Block command whose data length needs the CDB's bits (fn_len decides). */
#define SPECIAL(nm, op, len, flags_, lo, ls, no, ns, fn_len, fn, ...)                      \
	{ .name = nm, .opcode = op, .sa = -1, .cdb_len = len, .flags = flags_, .dir = DATA_OUT, \
	  .lba_off = lo, .lba_size = ls, .len_off = no, .len_size = ns,                     \
	  .len_unit = LEN_SPECIAL,                                                          \
	  .data_len = fn_len, .exec = fn, .usage = { op, __VA_ARGS__ } }

/* PERSISTENT RESERVE IN: allocation length in bytes 7-8.  OUT: SCOPE and
 * TYPE in byte 2 (checked by pr.c), PARAMETER LIST LENGTH in bytes 5-8,
 * capped by pr_out_data_len so a hostile length allocates nothing. */
#define PRIN_USAGE 0, 0, 0, 0, 0, 0, FF2, 0
#define PROUT(sa_)                                                                          \
	{ .name = "PERSISTENT RESERVE OUT", .opcode = 0x5f, .sa = sa_, .cdb_len = 10,        \
	  .flags = PR_ANY, .dir = DATA_OUT, .len_off = 5, .len_size = 4,                    \
	  .len_unit = LEN_SPECIAL, .data_len = pr_out_data_len, .exec = pr_out,             \
	  .usage = { 0x5f, sa_, 0xff, 0, 0, FF4, 0 } }

static const struct scsi_cmd commands[] = {
	/* SPC-4 */
	BYTES("TEST UNIT READY", 0x00, -1, 6, PR_ANY, NO_DATA, 0, 0, spc_test_unit_ready,
	      0, 0, 0, 0, 0),
	BYTES("REQUEST SENSE", 0x03, -1, 6, CMD_ANY_LUN | CMD_NO_UA | PR_ALL, DATA_IN, 4, 1,
	      spc_request_sense, 0x01, 0, 0, 0xff, 0),
	BYTES("INQUIRY", 0x12, -1, 6, CMD_ANY_LUN | CMD_NO_UA | PR_ALL, DATA_IN, 3, 2,
	      spc_inquiry, 0x01, 0xff, FF2, 0),
	BYTES("MODE SELECT(6)", 0x15, -1, 6, 0, DATA_OUT, 4, 1, spc_mode_select,
	      0x11, 0, 0, 0xff, 0),
	BYTES("MODE SENSE(6)", 0x1a, -1, 6, PR_READ, DATA_IN, 4, 1, spc_mode_sense,
	      0x08, 0xff, 0xff, 0xff, 0),
	BYTES("START STOP UNIT", 0x1b, -1, 6, 0, NO_DATA, 0, 0, spc_start_stop_unit,
	      0x01, 0, 0x0f, 0xf7, 0),
	BYTES("PREVENT ALLOW MEDIUM REMOVAL", 0x1e, -1, 6, 0, NO_DATA, 0, 0,
	      spc_prevent_allow, 0, 0, 0, 0x03, 0),
	BYTES("MODE SELECT(10)", 0x55, -1, 10, 0, DATA_OUT, 7, 2, spc_mode_select,
	      0x11, 0, 0, 0, 0, 0, FF2, 0),
	BYTES("MODE SENSE(10)", 0x5a, -1, 10, PR_READ, DATA_IN, 7, 2, spc_mode_sense,
	      0x18, 0xff, 0xff, 0, 0, 0, FF2, 0),
	BYTES("REPORT LUNS", 0xa0, -1, 12, CMD_ANY_LUN | CMD_NO_UA | PR_ALL, DATA_IN, 6, 4,
	      spc_report_luns, 0, 0xff, 0, 0, 0, FF4, 0, 0),
	BYTES("REPORT TARGET PORT GROUPS", 0xa3, 0x0a, 12, PR_ALL, DATA_IN, 6, 4, spc_report_tpgs,
	      0xe0 | 0x0a, 0, 0, 0, 0, FF4, 0, 0),
	BYTES("EXTENDED COPY(LID1)", 0x83, 0x00, 16, 0, DATA_OUT, 10, 4, spc_extended_copy,
	      0x00, 0, 0, 0, 0, 0, 0, 0, 0, FF4, 0, 0),
	BYTES("RECEIVE COPY RESULTS(COPY STATUS)", 0x84, 0x00, 16, PR_READ, DATA_IN, 10, 4,
	      spc_copy_status, 0x00, 0xff, 0, 0, 0, 0, 0, 0, 0, FF4, 0, 0),
	BYTES("RECEIVE COPY RESULTS(OPERATING PARAMETERS)", 0x84, 0x03, 16, PR_READ, DATA_IN,
	      10, 4, spc_copy_operating_parameters, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, FF4, 0, 0),
	BYTES("REPORT SUPPORTED OPERATION CODES", 0xa3, 0x0c, 12, PR_ALL, DATA_IN, 6, 4,
	      spc_report_opcodes, 0x0c, 0x87, 0xff, FF2, FF4, 0, 0),

	/* SPC-4 persistent reservations; SPC-2 RESERVE and RELEASE */
	BYTES("PERSISTENT RESERVE IN", 0x5e, 0x00, 10, PR_ANY, DATA_IN, 7, 2, pr_in, PRIN_USAGE),
	BYTES("PERSISTENT RESERVE IN", 0x5e, 0x01, 10, PR_ANY, DATA_IN, 7, 2, pr_in, PRIN_USAGE),
	BYTES("PERSISTENT RESERVE IN", 0x5e, 0x02, 10, PR_ANY, DATA_IN, 7, 2, pr_in, PRIN_USAGE),
	BYTES("PERSISTENT RESERVE IN", 0x5e, 0x03, 10, PR_ANY, DATA_IN, 7, 2, pr_in, PRIN_USAGE),
	PROUT(0x00), PROUT(0x01), PROUT(0x02), PROUT(0x03), PROUT(0x04), PROUT(0x05), PROUT(0x06),
	BYTES("RESERVE(6)", 0x16, -1, 6, PR_ANY, NO_DATA, 0, 0, pr_reserve2, 0, 0, 0, 0, 0),
	BYTES("RELEASE(6)", 0x17, -1, 6, PR_ALL, NO_DATA, 0, 0, pr_release2, 0, 0, 0, 0, 0),
	BYTES("RESERVE(10)", 0x56, -1, 10, PR_ANY, NO_DATA, 0, 0, pr_reserve2,
	      0, 0, 0, 0, 0, 0, 0, 0, 0),
	BYTES("RELEASE(10)", 0x57, -1, 10, PR_ALL, NO_DATA, 0, 0, pr_release2,
	      0, 0, 0, 0, 0, 0, 0, 0, 0),

	/* SBC-3: reads and writes (RDPROTECT/WRPROTECT unsupported: not in the bitmaps) */
	RW("READ(6)", 0x08, 6, PR_READ, DATA_IN, 1, 3, 4, 1, sbc_read, 0x1f, FF2, 0xff, 0),
	RW("WRITE(6)", 0x0a, 6, CMD_WRITES, DATA_OUT, 1, 3, 4, 1, sbc_write, 0x1f, FF2, 0xff, 0),
	RW("READ(10)", 0x28, 10, PR_READ, DATA_IN, 2, 4, 7, 2, sbc_read, 0x1e, FF4, 0x1f, FF2, 0),
	RW("WRITE(10)", 0x2a, 10, CMD_WRITES, DATA_OUT, 2, 4, 7, 2, sbc_write,
	   0x1a, FF4, 0x1f, FF2, 0),
	RW("READ(12)", 0xa8, 12, PR_READ, DATA_IN, 2, 4, 6, 4, sbc_read, 0x1e, FF4, FF4, 0x1f, 0),
	RW("WRITE(12)", 0xaa, 12, CMD_WRITES, DATA_OUT, 2, 4, 6, 4, sbc_write,
	   0x1a, FF4, FF4, 0x1f, 0),
	RW("READ(16)", 0x88, 16, PR_READ, DATA_IN, 2, 8, 10, 4, sbc_read, 0x1e, FF8, FF4, 0x1f, 0),
	RW("WRITE(16)", 0x8a, 16, CMD_WRITES, DATA_OUT, 2, 8, 10, 4, sbc_write,
	   0x1a, FF8, FF4, 0x1f, 0),
	RW("WRITE AND VERIFY(10)", 0x2e, 10, CMD_WRITES, DATA_OUT, 2, 4, 7, 2, sbc_write_verify,
	   0x12, FF4, 0x1f, FF2, 0),
	RW("WRITE AND VERIFY(12)", 0xae, 12, CMD_WRITES, DATA_OUT, 2, 4, 6, 4, sbc_write_verify,
	   0x12, FF4, FF4, 0x1f, 0),
	RW("WRITE AND VERIFY(16)", 0x8e, 16, CMD_WRITES, DATA_OUT, 2, 8, 10, 4, sbc_write_verify,
	   0x12, FF8, FF4, 0x1f, 0),
	RW("WRITE ATOMIC(16)", 0x9c, 16, CMD_WRITES, DATA_OUT, 2, 8, 12, 2, sbc_write_atomic,
	   0x18, FF8, FF2, FF2, 0x1f, 0),
	RW("ORWRITE(16)", 0x8b, 16, CMD_WRITES, DATA_OUT, 2, 8, 10, 4, sbc_orwrite,
	   0x18, FF8, FF4, 0x1f, 0),
	SPECIAL("VERIFY(10)", 0x2f, 10, PR_READ, 2, 4, 7, 2, sbc_verify_data_len, sbc_verify,
		0x16, FF4, 0x1f, FF2, 0),
	SPECIAL("VERIFY(12)", 0xaf, 12, PR_READ, 2, 4, 6, 4, sbc_verify_data_len, sbc_verify,
		0x16, FF4, FF4, 0x1f, 0),
	SPECIAL("VERIFY(16)", 0x8f, 16, PR_READ, 2, 8, 10, 4, sbc_verify_data_len, sbc_verify,
		0x16, FF8, FF4, 0x1f, 0),
	SPECIAL("COMPARE AND WRITE", 0x89, 16, CMD_WRITES, 2, 8, 13, 1, sbc_caw_data_len,
		sbc_compare_and_write, 0x1a, FF8, 0, 0, 0, 0xff, 0x1f, 0),

	/* SBC-3: capacity, cache, provisioning */
	{ .name = "READ CAPACITY(10)", .opcode = 0x25, .sa = -1, .cdb_len = 10, .flags = PR_ALL,
	  .dir = DATA_IN,
	  .lba_off = 2, .lba_size = 4, .len_unit = LEN_SPECIAL, .data_len = sbc_rc10_data_len,
	  .exec = sbc_read_capacity10, .usage = { 0x25, 0, FF4, 0, 0, 0x01, 0 } },
	BYTES("READ CAPACITY(16)", 0x9e, 0x10, 16, PR_ALL, DATA_IN, 10, 4, sbc_read_capacity16,
	      0x10, FF8, FF4, 0x01, 0),
	BYTES("GET LBA STATUS", 0x9e, 0x12, 16, PR_ANY, DATA_IN, 10, 4, sbc_get_lba_status,
	      0x12, FF8, FF4, 0, 0),
	BYTES("READ DEFECT DATA(10)", 0x37, -1, 10, PR_READ, DATA_IN, 7, 2, sbc_read_defect_data,
	      0, 0x1f, 0, 0, 0, 0, FF2, 0),
	BYTES("READ DEFECT DATA(12)", 0xb7, -1, 12, PR_READ, DATA_IN, 6, 4, sbc_read_defect_data,
	      0x1f, FF4, FF4, 0, 0),
	RW("SYNCHRONIZE CACHE(10)", 0x35, 10, 0, NO_DATA, 2, 4, 7, 2, sbc_sync_cache,
	   0x06, FF4, 0x1f, FF2, 0),
	RW("SYNCHRONIZE CACHE(16)", 0x91, 16, 0, NO_DATA, 2, 8, 10, 4, sbc_sync_cache,
	   0x06, FF8, FF4, 0x1f, 0),
	RW("PRE-FETCH(10)", 0x34, 10, PR_READ, NO_DATA, 2, 4, 7, 2, sbc_prefetch,
	   0x02, FF4, 0x1f, FF2, 0),
	RW("PRE-FETCH(16)", 0x90, 16, PR_READ, NO_DATA, 2, 8, 10, 4, sbc_prefetch,
	   0x02, FF8, FF4, 0x1f, 0),
	SPECIAL("WRITE SAME(10)", 0x41, 10, CMD_WRITES, 2, 4, 7, 2, sbc_write_same_data_len,
		sbc_write_same, 0x08, FF4, 0x1f, FF2, 0),
	SPECIAL("WRITE SAME(16)", 0x93, 16, CMD_WRITES, 2, 8, 10, 4, sbc_write_same_data_len,
		sbc_write_same, 0x09, FF8, FF4, 0x1f, 0),
	BYTES("UNMAP", 0x42, -1, 10, CMD_WRITES, DATA_OUT, 7, 2, sbc_unmap,
	      0, 0, 0, 0, 0, 0x1f, FF2, 0),
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

size_t cmd_count(void) { return NCOMMANDS; }

const struct scsi_cmd *cmd_at(size_t i) { return i < NCOMMANDS ? &commands[i] : NULL; }

const struct scsi_cmd *cmd_find(uint8_t opcode, int sa)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (commands[i].opcode == opcode && commands[i].sa == sa)
			return &commands[i];
	return NULL;
}

bool cmd_opcode_has_sa(uint8_t opcode)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (commands[i].opcode == opcode)
			return commands[i].sa >= 0;
	return false;
}

const struct scsi_cmd *cmd_lookup(const uint8_t *cdb, bool *bad_sa)
{
	*bad_sa = false;
	if (!cmd_opcode_has_sa(cdb[0]))
		return cmd_find(cdb[0], -1);
	const struct scsi_cmd *cmd = cmd_find(cdb[0], cdb[1] & 0x1f);
	*bad_sa = cmd == NULL;
	return cmd;
}

uint64_t cmd_lba(const struct scsi_cmd *cmd, const uint8_t *cdb)
{
	uint64_t lba = get_be(cdb + cmd->lba_off, cmd->lba_size);
	return cmd->cdb_len == 6 ? lba & 0x1fffff : lba; /* 21 bits in a 6-byte CDB */
}

uint32_t cmd_len_field(const struct scsi_cmd *cmd, const uint8_t *cdb)
{
	uint32_t len = (uint32_t)get_be(cdb + cmd->len_off, cmd->len_size);
	if (cmd->cdb_len == 6 && cmd->len_unit == LEN_BLOCKS && len == 0)
		return 256; /* READ(6)/WRITE(6): 0 means 256 blocks (SBC-3 5.8) */
	return len;
}

uint32_t cmd_data_len(const struct scsi_cmd *cmd, const uint8_t *cdb)
{
	switch (cmd->len_unit) {
	case LEN_BYTES:
		return cmd->len_size ? cmd_len_field(cmd, cdb) : 0;
	case LEN_BLOCKS: {
		uint32_t blocks = cmd_len_field(cmd, cdb);
		return blocks > MAX_TRANSFER_BLOCKS ? 0 : blocks * BLOCK_BYTES;
	}
	case LEN_SPECIAL:
		return cmd->data_len(cdb);
	case LEN_NONE:
		break;
	}
	return 0;
}

void scsi_cdb_info(const uint8_t *cdb, uint8_t cdb_len, struct scsi_cdb_info *info)
{
	bool bad_sa;
	const struct scsi_cmd *cmd = cdb_len ? cmd_lookup(cdb, &bad_sa) : NULL;
	info->known = cmd && cdb_len >= cmd->cdb_len;
	info->dir = SCSI_DIR_NONE;
	info->data_len = 0;
	if (!info->known)
		return;
	info->data_len = cmd_data_len(cmd, cdb);
	if (info->data_len)
		info->dir = cmd->dir;
}
