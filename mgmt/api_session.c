/*
 * api_session.c - who is connected: iSCSI sessions (host identity: the
 * initiator name) and NFS clients (host identity: the client address), as
 * the servers report them right now.  The window is the session's CmdSN
 * window, the lever the QoS controller moves.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "mgmt/api.h"
#include "target/iscsi/iscsi.h"
#include "target/nfs/nfs.h"

#define ROOM 8 /* sessions that may log in between counting and listing */

struct iscsi_session_info *api_iscsi_sessions(struct mgmt *m, size_t *n)
{
	size_t count = 0;
	*n = 0;
	if (!m->iscsi || iscsi_server_list_sessions(m->iscsi, NULL, 0, &count))
		return NULL;
	struct iscsi_session_info *s = calloc(count + ROOM, sizeof(*s));
	if (s && iscsi_server_list_sessions(m->iscsi, s, count + ROOM, n))
		*n = 0;
	if (*n > count + ROOM)
		*n = count + ROOM; /* more logged in meanwhile: the next look sees them */
	return s;
}

static void add_iscsi(struct api_call *c, json_t *items)
{
	size_t n;
	struct iscsi_session_info *s = api_iscsi_sessions(c->m, &n);
	for (size_t i = 0; i < n; i++) {
		char id[40], isid[13];
		snprintf(id, sizeof(id), "iscsi-%" PRIu64, s[i].session_id);
		for (int k = 0; k < 6; k++)
			sprintf(isid + 2 * k, "%02x", s[i].isid[k]);
		json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i}", "id", id,
						       "protocol", "iscsi", "host", s[i].initiator,
						       "peer", s[i].peer, "target", s[i].target,
						       "isid", isid, "window", (int)s[i].window));
	}
	free(s);
}

static void add_nfs(struct api_call *c, json_t *items)
{
	size_t count = 0, n = 0;
	struct nfs_client_info *cl = NULL;
	if (!nfs_server_list_clients(c->m->nfs, NULL, 0, &count) &&
	    (cl = calloc(count + ROOM, sizeof(*cl))) &&
	    nfs_server_list_clients(c->m->nfs, cl, count + ROOM, &n))
		n = 0;
	if (n > count + ROOM)
		n = count + ROOM;
	for (size_t i = 0; i < n; i++) {
		char id[96], peer[80];
		snprintf(id, sizeof(id), "nfs-%s-%u", cl[i].address, cl[i].port);
		snprintf(peer, sizeof(peer), "%s:%u", cl[i].address, cl[i].port);
		json_array_append_new(
			items, json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:I, s:i}", "id", id, "protocol",
					 "nfs", "host", cl[i].address, "peer", peer, "connected_at",
					 api_time(cl[i].connected_unix_ns), "last_call_at",
					 cl[i].last_call_unix_ns ? api_time(cl[i].last_call_unix_ns)
								 : json_null(),
					 "calls", (json_int_t)cl[i].calls, "outstanding",
					 (int)cl[i].outstanding));
	}
	free(cl);
}

static void list_sessions(struct api_call *c)
{
	json_t *items = json_array();
	if (c->m->iscsi)
		add_iscsi(c, items);
	if (c->m->nfs)
		add_nfs(c, items);
	api_list(c, items, "id");
}

static const struct api_route routes[] = {
	{ "GET", "/api/v1/sessions", 0, ROLE_READ, list_sessions },
};
API_ROUTE_TABLE(api_session_routes, routes);
