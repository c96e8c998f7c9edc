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

#define MAX_LISTED 1024

static void add_iscsi(struct api_call *c, json_t *items)
{
	size_t n = 0;
	struct iscsi_session_info *s = calloc(MAX_LISTED, sizeof(*s));
	if (!s || iscsi_server_list_sessions(c->m->iscsi, s, MAX_LISTED, &n))
		n = 0;
	for (size_t i = 0; i < n && i < MAX_LISTED; i++) {
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
	size_t n = 0;
	struct nfs_client_info *cl = calloc(MAX_LISTED, sizeof(*cl));
	if (!cl || nfs_server_list_clients(c->m->nfs, cl, MAX_LISTED, &n))
		n = 0;
	for (size_t i = 0; i < n && i < MAX_LISTED; i++) {
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
