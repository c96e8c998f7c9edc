/*
 * ctl_table.c - slatectl's command table: one row per API resource (its
 * path, the member naming an item, its table's columns, how key=value
 * words become members, its verbs).  ctl.h says how a row is read.
 *
 * The paths and member names follow the OpenAPI parts in mgmt/openapi/
 * (tests/integration/slatectl.sh drives every row against slated); a table
 * falls back to every member it is given when its columns do not match.
 */
#include "mgmt/ctl.h"

/* Members that are always strings, even when a value is all digits. */
const char ctl_common_hints[] =
	"name$ password$ user$ path$ chap_user$ chap_secret$ role$ expires_in$ size>size_bytes";

#define LIST { "list", "GET", "", NULL, V_LIST, NULL, NULL }
#define SHOW(item) { "show", "GET", "/" item, NULL, 0, NULL, NULL }
#define CREATE(args, pairs) { "create", "POST", "", args, V_CREATES | V_PAIRS, pairs, NULL }
#define UPDATE(item, pairs) { "update", "PATCH", "/" item, NULL, V_PAIRS | V_NEEDS_PAIRS, pairs, NULL }
#define DELETE(item) { "delete", "DELETE", "/" item, NULL, 0, NULL, NULL }

const struct ctl_resource ctl_resources[] = {
	{ "pools", "/pools", "name",
	  "name primary capacity_bytes used_bytes free_bytes saved_bytes volumes snapshots "
	  "load.latency_us load.oio",
	  "", "the storage pools: capacity, space, load, scrub",
	  { LIST, SHOW("{pool}"),
	    { "scrub", "POST", "/{pool}/scrub", NULL, V_TASK, NULL, NULL } } },
	{ "volumes", "/volumes", "name",
	  "name pool size_bytes used_bytes unique_bytes snapshots clones created_at",
	  "new>name pool$", "thin volumes",
	  { LIST, SHOW("{name}"), CREATE("name", "size=SIZE [pool=POOL]"),
	    { "resize", "PATCH", "/{name}", NULL, V_PAIRS | V_NEEDS_PAIRS, "size=SIZE", NULL },
	    DELETE("{name}"),
	    { "copy", "POST", "/{name}/copy", NULL, V_CREATES | V_TASK | V_PAIRS | V_NEEDS_PAIRS,
	      "new=NEWNAME", NULL },
	    { "move", "POST", "/{name}/move", NULL, V_TASK | V_PAIRS | V_NEEDS_PAIRS, "pool=POOL",
	      NULL } } },
	{ "snapshots", "/volumes/{volume}/snapshots", "name",
	  "name volume size_bytes unique_bytes shared_bytes clones created_at",
	  "", "snapshots of a volume",
	  { LIST, SHOW("{snapshot}"), CREATE("name:SNAPSHOT", NULL), DELETE("{snapshot}"),
	    { "rollback", "POST", "/{snapshot}/rollback", NULL, V_PAIRS, "[delete_newer=true]", NULL },
	    { "clone", "POST", "/{snapshot}/clone", "name:NEWNAME", V_CREATES, NULL, NULL } } },
	{ "vms", "/vms", "name", "name volumes files qos_policy created_at",
	  "volumes[] files[] qos_policy$", "VMs: groups of volumes and files snapshotted together",
	  { LIST, SHOW("{name}"),
	    CREATE("name", "volumes=VOL,... [files=PATH,...] [qos_policy=POLICY]"),
	    UPDATE("{name}", "key=value..."), DELETE("{name}") } },
	{ "vm-snapshots", "/vms/{vm}/snapshots", "name", "name vm volumes files created_at",
	  "", "snapshots of a whole VM",
	  { LIST, SHOW("{snapshot}"), CREATE("name:SNAPSHOT", NULL), DELETE("{snapshot}"),
	    { "rollback", "POST", "/{snapshot}/rollback", NULL, V_PAIRS, "[delete_newer=true]", NULL },
	    { "clone", "POST", "/{snapshot}/clone", "name:NEWVM", V_CREATES, NULL, NULL } } },
	{ "targets", "/targets", "iqn", "iqn luns acl chap.user mutual_chap.user",
	  "acl[] iqn$ chap_user>chap.user chap_secret>chap.secret mutual_user>mutual_chap.user "
	  "mutual_secret>mutual_chap.secret", "iSCSI targets",
	  { LIST, SHOW("{iqn}"),
	    CREATE("iqn", "[acl=IQN,...] [chap_user=USER chap_secret=SECRET] "
			  "[mutual_user=USER mutual_secret=SECRET]"),
	    UPDATE("{iqn}", "[acl=...] [chap_user= chap_secret=] (an empty user removes CHAP)"),
	    DELETE("{iqn}") } },
	{ "iscsi-discovery", "/iscsi-discovery", "chap", "chap.user mutual_chap.user",
	  "chap_user>chap.user chap_secret>chap.secret mutual_user>mutual_chap.user "
	  "mutual_secret>mutual_chap.secret", "CHAP for iSCSI discovery sessions",
	  { { "show", "GET", "", NULL, 0, NULL, NULL },
	    { "set", "PUT", "", NULL, V_PAIRS | V_NEEDS_PAIRS,
	      "chap_user=USER chap_secret=SECRET (an empty user removes it)", NULL } } },
	{ "luns", "/targets/{iqn}/luns", "lun", "lun volume",
	  "lun# volume$", "LUNs of an iSCSI target",
	  { LIST, SHOW("{lun}"),
	    { "add", "POST", "", "lun volume", V_CREATES, NULL, NULL },
	    { "remove", "DELETE", "/{lun}", NULL, 0, NULL, NULL } } },
	{ "portals", "/portals", "portal", "portal",
	  "portal$", "iSCSI portals (ADDR:PORT)",
	  { LIST, { "add", "POST", "", "portal:ADDR:PORT", V_CREATES, NULL, NULL },
	    { "remove", "DELETE", "/{portal}", NULL, 0, NULL, NULL } } },
	{ "exports", "/exports", "id", "id path clients",
	  "clients[]", "NFS exports (clients in exports(5) syntax)",
	  { LIST, SHOW("{id}"), CREATE("path", "clients='HOST(OPTIONS) ...'"),
	    { "update", "PUT", "/{id}", NULL, V_PAIRS | V_NEEDS_PAIRS, "clients=...", NULL },
	    DELETE("{id}") } },
	{ "files", "/files", "id", "id name type size_bytes used_bytes mtime",
	  "", "files under NFS exports, and their snapshots",
	  { { "list", "GET", "", "?path:DIR", V_LIST, NULL, NULL }, SHOW("{id}"),
	    { "snapshots", "GET", "/{id}/snapshots", NULL, V_LIST, NULL,
	      "name size_bytes unique_bytes created_at" },
	    { "snapshot", "POST", "/{id}/snapshots", "name:SNAPSHOT", V_CREATES, NULL, NULL },
	    { "rollback", "POST", "/{id}/snapshots/{snapshot}/rollback", NULL, 0, NULL, NULL },
	    { "delete-snapshot", "DELETE", "/{id}/snapshots/{snapshot}", NULL, 0, NULL, NULL },
	    { "clone", "POST", "/{id}/clone", "path:NEWPATH", V_CREATES, NULL, NULL } } },
	{ "schedules", "/schedules", "name",
	  "name target minute hour day_of_month month day_of_week retention enabled",
	  "target@ keep_last>retention.keep_last keep_for>retention.keep_for minute$ hour$ "
	  "day_of_month$ month$ day_of_week$ timezone$ name_pattern$",
	  "snapshot schedules (cron fields, retention)",
	  { LIST, SHOW("{name}"),
	    CREATE("name", "target=vm:NAME|volume:NAME minute=M hour=H [day_of_month=D month=M "
			   "day_of_week=W timezone=TZ keep_last=N keep_for=P7D name_pattern=P "
			   "enabled=true catch_up=true]"),
	    UPDATE("{name}", "key=value..."), DELETE("{name}"),
	    { "run", "POST", "/{name}/run", NULL, 0, NULL, NULL } } },
	{ "qos-policies", "/qos-policies", "name", "name shares reservation_iops limit_iops",
	  "", "QoS policies for VMs",
	  { LIST, SHOW("{name}"), CREATE("name", "shares=N [reservation_iops=N limit_iops=N]"),
	    UPDATE("{name}", "key=value..."), DELETE("{name}") } },
	{ "qos-hosts", "/qos-hosts", "host", "host shares", "",
	  "shares of hosts (initiator names, NFS client addresses; others have 1000)",
	  { LIST, { "set", "PUT", "/{host}", NULL, V_PAIRS | V_NEEDS_PAIRS, "shares=N", NULL },
	    DELETE("{host}") } },
	{ "qos-settings", "/qos-settings", "latency_threshold_us",
	  "latency_threshold_us period_ms", "", "the appliance's QoS settings",
	  { { "show", "GET", "", NULL, 0, NULL, NULL },
	    { "update", "PATCH", "", NULL, V_PAIRS | V_NEEDS_PAIRS,
	      "[latency_threshold_us=N (0: automatic)] [period_ms=N]", NULL } } },
	{ "sessions", "/sessions", "id", "id protocol host peer target window calls",
	  "", "iSCSI sessions and NFS clients connected now",
	  { LIST } },
	{ "stats", "/stats", "series", "time", "series$ since$",
	  "IO statistics, per second or per minute",
	  { { "show", "GET", "", "?series:SERIES", V_PAIRS, "[resolution=1|60] [since=TIME]",
	      NULL } } },
	{ "events", "/events", "id", "time severity type object message",
	  "severity$ type$ since$", "what happened, newest first",
	  { { "list", "GET", "", NULL, V_LIST | V_PAIRS, "[severity=S] [type=T] [since=TIME]", NULL },
	    SHOW("{id}") } },
	{ "tasks", "/tasks", "id", "id kind object state progress_pct created_at result",
	  "", "long operations since slated started",
	  { LIST, SHOW("{id}") } },
	{ "users", "/users", "name", "name role created_at",
	  "", "users (password=- reads it from standard input)",
	  { LIST, SHOW("{name}"), CREATE("name", "role=admin|read-only password=PASSWORD"),
	    UPDATE("{name}", "[role=ROLE] [password=PASSWORD]"), DELETE("{name}") } },
	{ "tokens", "/tokens", "id", "id name user role created_at expires_at",
	  "", "API tokens (the secret is shown once, when made)",
	  { LIST, SHOW("{id}"),
	    { "create", "POST", "", "name", V_CREATES | V_PAIRS | V_SECRET,
	      "[role=read-only] [expires_in=P30D]", NULL },
	    DELETE("{id}") } },
	{ "health", "/health", "status", "status time", "", "is the API up",
	  { { "show", "GET", "", NULL, V_PUBLIC, NULL, NULL } } },
	{ "login", "/login", "id", "id", "",
	  "trade USER and a password (standard input) for a token",
	  { { "", "POST", "", "user", V_PUBLIC | V_PASSWORD, NULL, NULL } } },
};
const size_t ctl_nresources = sizeof(ctl_resources) / sizeof(ctl_resources[0]);
