/*
 * command.c - SCSI commands over iSCSI (RFC 7143 11.3-11.8): CmdSN order,
 * immediate and unsolicited data, R2T and Data-Out, Data-In with status in
 * the last PDU, SCSI Response with sense and residuals.  (Task management
 * is tmf.c.)
 *
 * Write data is gathered whole into the command's buffer before the command
 * runs (one R2T outstanding, MaxBurstLength at a time); read data is sent
 * from the same buffer in PDUs of the initiator's MaxRecvDataSegmentLength.
 * A command is freed when its response is out and no queued PDU points
 * into its buffer (tx_refs), or, on a dead connection, when cowstore is done.
 * A Data-Out with the wrong DataSN or offset fails its command (DATA PHASE
 * ERROR, once the initiator ends the sequence), not the session: ERL 0 has
 * no recovery R2T, and the other commands of the session are not at fault.
 * With IO statistics on, a READ or WRITE that ends GOOD is counted on its
 * (initiator, volume) stream, timed from the arrival of its command PDU.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/iscsi/internal.h"

/* Expected Data Transfer Length is a 32-bit field from the network and the
 * command's buffer must hold it: target/scsi gets it capped one block above
 * the largest transfer any CDB moves, so that an initiator cannot make us
 * allocate 4 GiB per command, and an overflow still shows as one. */
#define MAX_TRANSFER_LEN ((SCSI_MAX_TRANSFER_BLOCKS + 1) * 512u)

bool cmd_sn_accept(struct conn *c, const uint8_t *bhs)
{
	uint32_t cmd_sn = get_be32(bhs + 24);
	if (pdu_immediate(bhs))
		return true;
	if (cmd_sn != c->exp_cmd_sn)
		return false; /* outside the window or a duplicate: ignored (4.2.2.1) */
	c->exp_cmd_sn++;
	return true;
}

/* The command no longer holds a place in the CmdSN window. */
static void window_release(struct cmd *cmd)
{
	if (cmd->in_window) {
		cmd->in_window = false;
		cmd->c->in_window--;
	}
}

void cmd_free(struct cmd *cmd)
{
	struct conn *c = cmd->c;
	window_release(cmd);
	struct cmd **pp = &c->cmds;
	while (*pp && *pp != cmd)
		pp = &(*pp)->next;
	if (*pp)
		*pp = cmd->next;
	free(cmd->task.data);
	free(cmd);
	c->ncmds--; /* the event loop frees a dead connection at ncmds 0 */
}

/* Free the command if nothing still needs it. */
static void cmd_maybe_free(struct cmd *cmd)
{
	if (cmd->tx_refs == 0 && (cmd->sent_response || (cmd->c->dead && !cmd->executing)))
		cmd_free(cmd);
}

void cmd_tx_done(struct cmd *cmd)
{
	cmd->tx_refs--;
	cmd_maybe_free(cmd);
}

struct cmd *cmd_by_itt(struct conn *c, uint32_t itt)
{
	for (struct cmd *cmd = c->cmds; cmd; cmd = cmd->next)
		if (cmd->itt == itt)
			return cmd;
	return NULL;
}

/* ---- responses -------------------------------------------------------- */

static void put_residual(uint8_t *bhs, uint32_t expected, uint32_t actual)
{
	if (actual > expected) {
		bhs[1] |= 0x04; /* O: overflow */
		put_be32(bhs + 44, actual - expected);
	} else if (actual < expected) {
		bhs[1] |= 0x02; /* U: underflow */
		put_be32(bhs + 44, expected - actual);
	}
}

static void send_data_in(struct cmd *cmd, uint32_t len)
{
	struct conn *c = cmd->c;
	uint32_t max = c->p.max_send_dsl;
	for (uint32_t off = 0; off < len; off += max) {
		uint32_t n = len - off < max ? len - off : max;
		bool last = off + n == len;
		struct txpdu *t = txpdu_new(OP_DATA_IN, last ? 0x81 : 0x00); /* F|S on the last */
		if (!t) {
			conn_fail(c, "out of memory");
			return;
		}
		pdu_put_lun(t->bhs, cmd->task.lun);
		put_be32(t->bhs + 16, cmd->itt);
		put_be32(t->bhs + 20, 0xffffffffu);
		put_be32(t->bhs + 36, cmd->data_sn++);
		put_be32(t->bhs + 40, off);
		t->data = cmd->task.data + off;
		t->data_len = n;
		t->hold = cmd;
		cmd->tx_refs++;
		if (last) {
			t->bhs[3] = cmd->task.status;
			put_residual(t->bhs, cmd->exp_len, cmd->task.data_in_len);
		}
		conn_stamp(c, t->bhs, last);
		conn_queue(c, t);
	}
}

static void send_scsi_response(struct cmd *cmd)
{
	struct conn *c = cmd->c;
	struct txpdu *t = txpdu_new(OP_SCSI_RSP, 0x80);
	if (!t) {
		conn_fail(c, "out of memory");
		return;
	}
	t->bhs[3] = cmd->task.status;
	put_be32(t->bhs + 16, cmd->itt);
	put_be32(t->bhs + 36, cmd->is_write ? cmd->r2t_sn : cmd->data_sn); /* ExpDataSN */
	/* 11.4.5.2: the residual compares the initiator's EDTL with what the
	 * command would move: for a write, what its CDB asks for, whatever
	 * part of it was sent (overflow when the EDTL is the smaller). */
	uint32_t wanted = cmd->is_write ? cmd->cdb_data_len : cmd->task.data_in_len;
	if (cmd->task.status == SCSI_STATUS_GOOD || cmd->is_write)
		put_residual(t->bhs, cmd->exp_len, wanted);
	if (cmd->task.sense_len && (t->own_data = malloc(2 + cmd->task.sense_len))) {
		t->own_data[0] = (uint8_t)(cmd->task.sense_len >> 8);
		t->own_data[1] = (uint8_t)cmd->task.sense_len;
		memcpy(t->own_data + 2, cmd->task.sense, cmd->task.sense_len);
		t->data = t->own_data;
		t->data_len = 2 + cmd->task.sense_len;
	}
	conn_stamp(c, t->bhs, true);
	conn_queue(c, t);
}

/* A READ or WRITE ended: count it on its (initiator, volume) stream. */
static void record_io(struct cmd *cmd)
{
	struct conn *c = cmd->c;
	const struct scsi_task *task = &cmd->task;
	size_t nslots = sizeof(c->streams) / sizeof(c->streams[0]);
	struct stream_slot *slot = &c->streams[task->lun % nslots];
	if (!slot->stream || slot->lun != task->lun || slot->volume_id != task->io_volume_id) {
		struct qos_stream *s = qos_stats_stream(c->srv->stats, c->initiator,
							task->io_volume_id);
		if (!s)
			return; /* out of memory: this IO goes uncounted */
		*slot = (struct stream_slot){ task->lun, task->io_volume_id, s };
	}
	qos_stream_record(slot->stream, task->io_kind == SCSI_IO_WRITE, task->io_bytes,
			  qos_now_ns() - cmd->received_ns);
}

static void command_done(struct scsi_task *task)
{
	struct cmd *cmd = task->priv;
	struct conn *c = cmd->c;
	if (task->io_kind != SCSI_IO_NONE && cmd->received_ns)
		record_io(cmd);
	cmd->executing = false;
	cmd->sent_response = true;
	window_release(cmd);
	if (cmd->tmf) { /* aborted: no response (11.5.1), but the TMF's may go now */
		tmf_task_ended(cmd->tmf);
	} else if (!c->dead) {
		uint32_t len = task->data_in_len < cmd->exp_len ? task->data_in_len : cmd->exp_len;
		if (!cmd->is_write && task->status == SCSI_STATUS_GOOD && !task->sense_len && len)
			send_data_in(cmd, len);
		else
			send_scsi_response(cmd);
	}
	cmd_maybe_free(cmd);
}

static void execute(struct cmd *cmd)
{
	cmd->executing = true;
	cmd->task.done = command_done;
	cmd->task.priv = cmd;
	cmd->task.nexus_id = cmd->c->nexus_id;
	scsi_task_execute(cmd->c->target->scsi, &cmd->task);
}

/* ---- write data ------------------------------------------------------- */

static void send_r2t(struct cmd *cmd)
{
	struct conn *c = cmd->c;
	uint32_t want = cmd->data_len - cmd->r2t_offset;
	if (want > c->p.max_burst)
		want = c->p.max_burst;
	struct txpdu *t = txpdu_new(OP_R2T, 0x80);
	if (!t) {
		conn_fail(c, "out of memory");
		return;
	}
	cmd->ttt = conn_next_ttt(c);
	pdu_put_lun(t->bhs, cmd->task.lun);
	put_be32(t->bhs + 16, cmd->itt);
	put_be32(t->bhs + 20, cmd->ttt);
	put_be32(t->bhs + 36, cmd->r2t_sn++);
	put_be32(t->bhs + 40, cmd->r2t_offset);
	put_be32(t->bhs + 44, want);
	cmd->r2t_offset += want;
	cmd->data_sn = 0; /* DataSN restarts with every R2T sequence */
	conn_stamp(c, t->bhs, false);
	conn_queue(c, t);
}

/* All data in: run; else ask for the next burst once the last one is in. */
static void write_progress(struct cmd *cmd, bool sequence_end)
{
	if (cmd->received == cmd->data_len)
		execute(cmd);
	else if (sequence_end && cmd->received == cmd->r2t_offset)
		send_r2t(cmd);
}

/* The command ends without running: DATA PHASE ERROR (the session goes on). */
static void end_bad_transfer(struct cmd *cmd)
{
	scsi_task_data_phase_error(&cmd->task);
	cmd->task.priv = cmd;
	command_done(&cmd->task);
}

void data_out_handle(struct conn *c, const struct pdu *pdu)
{
	const uint8_t *bhs = pdu->bhs;
	struct cmd *cmd = cmd_by_itt(c, get_be32(bhs + 16));
	uint32_t offset = get_be32(bhs + 40), data_sn = get_be32(bhs + 36);
	bool final = bhs[1] & 0x80;
	if (!cmd || !cmd->is_write || cmd->executing || cmd->sent_response) {
		conn_reject(c, bhs, REJECT_INVALID_PDU_FIELD);
		return;
	}
	if (!cmd->bad_data && (offset != cmd->received || data_sn != cmd->data_sn ||
			       pdu->data_len > cmd->data_len - offset)) {
		fprintf(stderr, "iscsi: %s (%s): Data-Out of ITT 0x%x out of order or past "
			"the expected length (DataSN %u, offset %u); the command fails\n",
			c->peer, c->initiator, cmd->itt, data_sn, offset);
		cmd->bad_data = true;
	}
	if (cmd->bad_data) { /* ERL 0 has no recovery R2T: the rest of the sequence is dropped */
		if (final)
			end_bad_transfer(cmd);
		return;
	}
	if (pdu->data_len)
		memcpy(cmd->task.data + offset, pdu->data, pdu->data_len);
	cmd->received += pdu->data_len;
	cmd->data_sn++;
	if (cmd->received > cmd->r2t_offset) /* unsolicited data counts as asked for */
		cmd->r2t_offset = cmd->received;
	write_progress(cmd, final);
}

/* ---- SCSI Command ----------------------------------------------------- */

static struct cmd *cmd_new(struct conn *c, const uint8_t *bhs)
{
	struct cmd *cmd = calloc(1, sizeof(*cmd));
	if (!cmd)
		return NULL;
	cmd->c = c;
	cmd->itt = get_be32(bhs + 16);
	cmd->cmd_sn = get_be32(bhs + 24);
	cmd->exp_len = get_be32(bhs + 20);
	cmd->task.lun = pdu_lun(bhs);
	memcpy(cmd->task.cdb, bhs + 32, 16);
	cmd->task.cdb_len = 16;
	if (c->srv->stats)
		cmd->received_ns = qos_now_ns();
	cmd->next = c->cmds;
	c->cmds = cmd;
	c->ncmds++;
	return cmd;
}

void command_handle(struct conn *c, const struct pdu *pdu)
{
	const uint8_t *bhs = pdu->bhs;
	struct scsi_cdb_info info;
	if (!cmd_sn_accept(c, bhs))
		return;
	struct cmd *cmd = cmd_new(c, bhs);
	if (!cmd) {
		conn_fail(c, "out of memory");
		return;
	}
	if (!pdu_immediate(bhs)) {
		cmd->in_window = true;
		c->in_window++;
	}
	scsi_cdb_info(cmd->task.cdb, cmd->task.cdb_len, &info);
	cmd->is_write = info.known && info.dir == SCSI_DIR_TO_DEV;
	/* Data moves only as far as both the CDB and the initiator say. */
	cmd->cdb_data_len = info.data_len;
	cmd->data_len = info.data_len < cmd->exp_len ? info.data_len : cmd->exp_len;
	cmd->task.transfer_len = cmd->exp_len < MAX_TRANSFER_LEN ? cmd->exp_len : MAX_TRANSFER_LEN;
	size_t buf_len = info.data_len > cmd->task.transfer_len ? info.data_len
							       : cmd->task.transfer_len;
	/* Data-out: zeroed, so a short transfer reads as zeros past what came.
	 * Data-in: target/scsi writes every byte it reports in data_in_len (a
	 * READ fills all its blocks, other commands copy their response), and
	 * only those are sent; not zeroing 1 MiB per read is worth it. */
	cmd->task.data = !buf_len ? NULL : cmd->is_write ? calloc(1, buf_len) : malloc(buf_len);
	if (buf_len && !cmd->task.data) {
		cmd_free(cmd);
		conn_fail(c, "out of memory");
		return;
	}
	if (!cmd->is_write || cmd->data_len == 0) {
		execute(cmd);
		return;
	}
	uint32_t immediate = pdu->data_len < cmd->data_len ? pdu->data_len : cmd->data_len;
	if (immediate) /* without a data segment pdu->data is NULL */
		memcpy(cmd->task.data, pdu->data, immediate);
	cmd->received = immediate;
	/* With InitialR2T=No the initiator may send up to FirstBurstLength
	 * unsolicited; with Yes, only the immediate data. */
	uint32_t unsolicited = c->p.initial_r2t ? immediate : c->p.first_burst;
	cmd->r2t_offset = unsolicited < cmd->data_len ? unsolicited : cmd->data_len;
	write_progress(cmd, cmd->received == cmd->r2t_offset);
}

/* ---- teardown --------------------------------------------------------- */

/* The connection died: free what waits for data; a command held by a
 * volume move ends now (its done() frees it); one that runs ends later. */
void commands_abort_all(struct conn *c)
{
	struct cmd *cmd = c->cmds, *next;
	for (; cmd; cmd = next) {
		next = cmd->next;
		cmd->tx_refs = 0; /* the connection's queued PDUs are gone */
		if (!cmd->executing)
			cmd_free(cmd);
		else
			scsi_task_abort(c->target->scsi, &cmd->task);
	}
}
