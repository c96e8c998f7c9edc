/*
 * tasks.c - long operations: a request that starts one answers 202 with
 * the task and a Location, and the work runs in its own thread, reporting
 * progress in percent.  Tasks are kept in memory (TASKS_KEPT, oldest
 * finished ones dropped first); a task running when the daemon stops is
 * waited for.  Its result is also an event.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/api.h"

#define TASKS_KEPT 256

struct api_task {
	uint64_t id;
	char kind[32];
	char object[128];
	atomic_int progress_pct;
	atomic_int state;          /* TASK_* */
	int64_t created_ns, finished_ns;
	char result[256];          /* written by the task thread before state leaves RUNNING */
	pthread_t thread;
	bool joined;
	struct mgmt *m;
	api_task_fn fn;
	void *arg;
};

enum { TASK_RUNNING, TASK_SUCCEEDED, TASK_FAILED };

struct api_tasks {
	uint64_t next_id;
	size_t count;
	struct api_task *list[TASKS_KEPT];
};

void api_task_progress(struct api_task *t, int pct)
{
	atomic_store(&t->progress_pct, pct < 0 ? 0 : pct > 100 ? 100 : pct);
}

int api_tasks_create(struct mgmt *m)
{
	m->tasks = calloc(1, sizeof(*m->tasks));
	return m->tasks ? 0 : -ENOMEM;
}

static void *run_task(void *arg)
{
	struct api_task *t = arg;
	char result[sizeof(t->result)] = "";
	int rc = t->fn(t->m, t->arg, t, result, sizeof(result));
	free(t->arg);
	t->arg = NULL;
	snprintf(t->result, sizeof(t->result), "%s", result[0] ? result : rc ? strerror(-rc) : "done");
	t->finished_ns = api_now_ns(t->m);
	if (!rc)
		api_task_progress(t, 100);
	atomic_store(&t->state, rc ? TASK_FAILED : TASK_SUCCEEDED);
	mgmt_event(t->m, rc ? "error" : "info", "task", t->object, "task %" PRIu64 " (%s of %s) %s: %s",
		   t->id, t->kind, t->object, rc ? "failed" : "finished", t->result);
	return NULL;
}

/* Under m->lock: make room by dropping the oldest finished task. */
static int make_room(struct api_tasks *tasks)
{
	if (tasks->count < TASKS_KEPT)
		return 0;
	for (size_t i = 0; i < tasks->count; i++) {
		struct api_task *t = tasks->list[i];
		if (atomic_load(&t->state) == TASK_RUNNING)
			continue;
		if (!t->joined)
			pthread_join(t->thread, NULL);
		free(t);
		memmove(&tasks->list[i], &tasks->list[i + 1],
			(tasks->count - i - 1) * sizeof(tasks->list[0]));
		tasks->count--;
		return 0;
	}
	return -EBUSY;
}

int api_task_start(struct mgmt *m, const char *kind, const char *object, api_task_fn fn,
		   void *arg, uint64_t *id_out)
{
	struct api_task *t = calloc(1, sizeof(*t));
	if (!t) {
		free(arg);
		return -ENOMEM;
	}
	snprintf(t->kind, sizeof(t->kind), "%s", kind);
	snprintf(t->object, sizeof(t->object), "%s", object);
	t->m = m;
	t->fn = fn;
	t->arg = arg;
	t->created_ns = api_now_ns(m);
	pthread_mutex_lock(&m->lock);
	int rc = make_room(m->tasks);
	if (!rc) {
		t->id = ++m->tasks->next_id;
		rc = -pthread_create(&t->thread, NULL, run_task, t);
	}
	if (!rc)
		m->tasks->list[m->tasks->count++] = t;
	pthread_mutex_unlock(&m->lock);
	if (rc) {
		free(arg);
		free(t);
		return rc;
	}
	*id_out = t->id;
	return 0;
}

/* Wait for every task (the daemon is stopping; no new one starts, since
 * HTTP has stopped). */
void api_tasks_join(struct mgmt *m)
{
	if (!m->tasks)
		return;
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->tasks->count; i++) {
		struct api_task *t = m->tasks->list[i];
		if (!t->joined) {
			pthread_mutex_unlock(&m->lock); /* the task may record an event */
			pthread_join(t->thread, NULL);
			pthread_mutex_lock(&m->lock);
			t->joined = true;
		}
	}
	pthread_mutex_unlock(&m->lock);
}

void api_tasks_stop(struct mgmt *m)
{
	if (!m->tasks)
		return;
	api_tasks_join(m);
	for (size_t i = 0; i < m->tasks->count; i++)
		free(m->tasks->list[i]);
	free(m->tasks);
	m->tasks = NULL;
}

/* Under m->lock. */
static json_t *task_json(const struct api_task *t)
{
	static const char *const states[] = { "running", "succeeded", "failed" };
	int state = atomic_load(&t->state);
	json_t *j = json_pack("{s:I, s:s, s:s, s:s, s:i, s:o, s:o}", "id", (json_int_t)t->id,
			      "kind", t->kind, "object", t->object, "state", states[state],
			      "progress_pct", atomic_load(&t->progress_pct), "created_at",
			      api_time(t->created_ns), "finished_at",
			      state == TASK_RUNNING ? json_null() : api_time(t->finished_ns));
	if (j && state != TASK_RUNNING)
		json_object_set_new(j, "result", json_string(t->result));
	return j;
}

json_t *api_task_json(struct mgmt *m, uint64_t id)
{
	json_t *j = NULL;
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->tasks->count && !j; i++)
		if (m->tasks->list[i]->id == id)
			j = task_json(m->tasks->list[i]);
	pthread_mutex_unlock(&m->lock);
	return j;
}

static void list_tasks(struct api_call *c)
{
	json_t *out = json_array();
	pthread_mutex_lock(&c->m->lock);
	for (size_t i = 0; i < c->m->tasks->count; i++)
		json_array_append_new(out, task_json(c->m->tasks->list[i]));
	pthread_mutex_unlock(&c->m->lock);
	api_list(c, out, "id");
}

static void get_task(struct api_call *c)
{
	char *end;
	uint64_t id = strtoull(c->params[0], &end, 10);
	json_t *j = *end ? NULL : api_task_json(c->m, id);
	if (!j)
		api_problem(c, 404, "not-found", "id", "no task %.64s (tasks are kept in memory "
			    "until the daemon restarts)", c->params[0]);
	else
		api_json(c, 200, j);
}

static const struct api_route routes[] = {
	{ "GET", "/api/v1/tasks", 0, ROLE_READ, list_tasks },
	{ "GET", "/api/v1/tasks/{id}", 0, ROLE_READ, get_task },
};
API_ROUTE_TABLE(api_task_routes, routes);
