/*
 * show_status.c — the daemon at a glance (status), the tasks, the domains
 * and their children, as width-aware tables.
 */
#include <string.h>

#include "daemon/masterctl/ctl.h"

static void
print_children(const json_t *children)
{
	static const char *const heads[] = { "TASK", "DOMAIN", "STATE", "PID",
	    "RESTARTS", "REASON" };
	struct table *t;
	const json_t *c;
	char task[24], pid[24], restarts[24];
	size_t i;

	if (json_array_size(children) == 0)
		return;
	t = table_new(6, heads, "lllrrl", 5);
	json_array_foreach(children, i, c) {
		snprintf(task, sizeof(task), "%lld", num(c, "task"));
		snprintf(pid, sizeof(pid), "%lld", num(c, "pid"));
		snprintf(restarts, sizeof(restarts), "%lld",
		    num(c, "restarts"));
		table_add(t, task, str(c, "domain"), str(c, "state"), pid,
		    restarts, json_is_string(json_object_get(c, "reason")) ?
		    str(c, "reason") : "");
	}
	printf("\n");
	table_print(t, out_width());
	table_free(t);
}

/* "sandbox: strict (...)", or off and where it was said. */
static void
print_sandbox(const json_t *s)
{
	const json_t *note;
	size_t i;

	if (!json_is_object(s))
		return;
	if (strcmp(str(s, "mode"), "off") == 0) {
		printf("sandbox: OFF, checks run unconfined (said in %s)\n",
		    str(s, "said"));
		return;
	}
	if (json_is_false(json_object_get(s, "available")))
		printf("sandbox: %s, NOT available\n", str(s, "mode"));
	else
		printf("sandbox: %s (%s)\n", str(s, "mode"), str(s, "summary"));
	json_array_foreach(json_object_get(s, "notes"), i, note)
		printf("  note: %s\n", json_string_value(note));
}

/* One line per provider held down: since when, the next try, why. */
static void
print_providers(const json_t *providers)
{
	const json_t *p;
	char since[16], next[16];
	size_t i;

	json_array_foreach(providers, i, p) {
		fmt_clock(when(p, "since"), since, sizeof(since));
		fmt_clock(when(p, "next_try"), next, sizeof(next));
		printf("provider %s (%s): %s, since %s, next try at %s "
		    "(%lld probe(s) failed): %s\n", str(p, "provider"),
		    str(p, "endpoint"), strcmp(str(p, "state"), "probing") ==
		    0 ? "DOWN, probing now" : "DOWN", since, next,
		    num(p, "failures"), str(p, "reason"));
	}
}

static void
human_status(json_t *r)
{
	const json_t *reg = json_object_get(r, "registry");

	printf("masterd %s (protocol %lld), pid %lld, up %llds%s\n",
	    str(r, "version"), num(r, "protocol"), num(r, "pid"),
	    num(r, "uptime_ms") / 1000,
	    json_is_true(json_object_get(r, "stopping")) ? ", STOPPING" : "");
	printf("state %s, socket %s, %lld client(s)\n", str(r, "state_dir"),
	    str(r, "socket"), num(r, "clients"));
	print_sandbox(json_object_get(r, "sandbox"));
	printf("tasks %lld (%lld active), domains %lld, interface versions "
	    "%lld, open directives %lld\n", num(reg, "tasks"),
	    num(reg, "tasks_active"), num(reg, "domains"),
	    num(reg, "interfaces"), num(reg, "directives_open"));
	print_providers(json_object_get(r, "providers"));
	print_children(json_object_get(r, "children"));
}

int
cmd_status(struct ctl *c, const struct opts *o, int argc, char **argv)
{
	return call_and_print(c, request(c, CTL_STATUS), human_status);
}

static void
human_tasks(json_t *r)
{
	static const char *const heads[] = { "ID", "STATE", "PAUSED",
	    "CREATED", "TEXT" };
	struct table *t = table_new(5, heads, "rllll", 4);
	const json_t *x;
	char id[24], created[32];
	size_t i;

	json_array_foreach(json_object_get(r, "tasks"), i, x) {
		snprintf(id, sizeof(id), "%lld", num(x, "id"));
		fmt_when(when(x, "created"), created, sizeof(created));
		table_add(t, id, str(x, "state"), json_is_true(
		    json_object_get(x, "paused")) ? "yes" : "no", created,
		    str(x, "text"));
	}
	table_print(t, out_width());
	table_free(t);
}

int
cmd_tasks(struct ctl *c, const struct opts *o, int argc, char **argv)
{
	return call_and_print(c, request(c, CTL_TASKS), human_tasks);
}

void
print_domains(const json_t *doms)
{
	static const char *const heads[] = { "TASK", "DOMAIN", "STATE", "PID",
	    "RESTARTS", "REASON" };
	struct table *t = table_new(6, heads, "rllrrl", 5);
	const json_t *d, *ch, *why;
	char task[24], pid[24], restarts[24];
	size_t i;

	json_array_foreach(doms, i, d) {
		ch = json_object_get(d, "child");
		why = json_object_get(ch ? ch : d, "reason");
		snprintf(task, sizeof(task), "%lld", num(d, "task"));
		snprintf(pid, sizeof(pid), "%lld", ch ? num(ch, "pid") : 0);
		snprintf(restarts, sizeof(restarts), "%lld",
		    num(d, "restarts"));
		table_add(t, task, str(d, "name"), ch ? str(ch, "state") :
		    str(d, "state"), pid, restarts, json_is_string(why) ?
		    json_string_value(why) : "");
	}
	table_print(t, out_width());
	table_free(t);
}

static void
human_domains(json_t *r)
{
	print_domains(json_object_get(r, "domains"));
}

int
cmd_domains(struct ctl *c, const struct opts *o, int argc, char **argv)
{
	json_t *req = request(c, CTL_DOMAINS);

	if (with_task(req, argc == 1 ? argv[0] : o->task) != 0)
		return EXIT_USAGE;
	return call_and_print(c, req, human_domains);
}
