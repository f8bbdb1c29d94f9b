/*
 * notify.c — the systemd notification protocol, spoken natively: datagrams
 * of "KEY=VALUE" lines to $NOTIFY_SOCKET (READY=1, STATUS=, STOPPING=1,
 * RELOADING=1, WATCHDOG=1), with no dependency on libsystemd.  Without
 * $NOTIFY_SOCKET every call is a no-op.  Children change state in
 * bursts (a task of a thousand domains starts): their STATUS= lines are
 * gathered into one, sent a moment later (notify_status_soon).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "daemon/masterd/masterd.h"
#include "daemon/masterd/supervise.h"

static void
on_watchdog(uv_timer_t *t)
{
	notify_send(t->data, "WATCHDOG=1");
}

/* WATCHDOG_USEC applies to us only if WATCHDOG_PID is unset or ours. */
static uint64_t
watchdog_usec(void)
{
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	unsigned long long v;

	if (usec == NULL || sscanf(usec, "%llu", &v) != 1 || v == 0)
		return 0;
	if (pid != NULL && atol(pid) != (long)getpid())
		return 0;
	return v;
}

void
notify_init(struct masterd *md)
{
	const char *path = getenv("NOTIFY_SOCKET");
	uint64_t usec = watchdog_usec();

	if (path != NULL && (path[0] == '/' || path[0] == '@')) {
		md->notify_path = strdup(path);
		md->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (md->notify_fd < 0)
			log_warn("notify: socket: %s", strerror(errno));
		uv_timer_init(md->loop, &md->status_soon);
		md->status_soon.data = md;
		md->status_soon_on = true;
	}
	/* Children must not inherit our notification channel. */
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	if (md->notify_path == NULL || usec == 0)
		return;
	uv_timer_init(md->loop, &md->watchdog);
	md->watchdog.data = md;
	/* Half the interval, as sd_watchdog_enabled(3) recommends. */
	uv_timer_start(&md->watchdog, on_watchdog, usec / 2000, usec / 2000);
	md->watchdog_on = true;
	log_info("systemd watchdog every %llu ms",
	    (unsigned long long)(usec / 2000));
}

void
notify_close(struct masterd *md)
{
	if (md->watchdog_on) {
		uv_close((uv_handle_t *)&md->watchdog, NULL);
		md->watchdog_on = false;
	}
	if (md->status_soon_on) {
		uv_close((uv_handle_t *)&md->status_soon, NULL);
		md->status_soon_on = false;
	}
	if (md->notify_fd >= 0)
		close(md->notify_fd);
	md->notify_fd = -1;
}

static void
send_datagram(int fd, const char *path, const char *text)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t plen = strlen(path);
	socklen_t salen;

	if (fd < 0 || plen >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, plen);
	if (sa.sun_path[0] == '@')	/* abstract namespace */
		sa.sun_path[0] = '\0';
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
	if (sendto(fd, text, strlen(text), MSG_DONTWAIT | MSG_NOSIGNAL,
	    (struct sockaddr *)&sa, salen) < 0)
		log_debug("notify: %s", strerror(errno));
}

void
notify_send(struct masterd *md, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	if (md->notify_path == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	send_datagram(md->notify_fd, md->notify_path, text);
}

/*
 * STATUS= is one line, what `systemctl status` shows: the tasks running
 * (and paused), the children in each state and those working, the tokens
 * and cost of every task so far (planners included), the providers down,
 * a setup problem, then the domains that need a look.  The same numbers
 * as the `metrics` request (metrics.c).
 */
void
notify_status(struct masterd *md)
{
	unsigned count[CHILD_FATAL + 1] = { 0 };
	struct metrics_totals m;
	char line[512];
	size_t o;
	struct child *c;

	if (md->notify_path == NULL)
		return;
	if (md->status_soon_on)
		uv_timer_stop(&md->status_soon);	/* this one says it */
	metrics_totals(md, &m);
	TAILQ_FOREACH(c, &md->children, entry)
		count[c->state]++;
	o = (size_t)snprintf(line, sizeof(line), "%s%zu task%s running",
	    md->stopping ? "stopping; " : "", m.tasks_running,
	    m.tasks_running == 1 ? "" : "s");
	if (m.tasks_paused > 0)
		o += (size_t)snprintf(line + o, sizeof(line) - o,
		    ", %zu paused", m.tasks_paused);
	if (o < sizeof(line))
		o += (size_t)snprintf(line + o, sizeof(line) - o,
		    "; %zu domains", md->nchildren);
	for (int s = CHILD_STOPPED; s <= CHILD_FATAL; s++) {
		if (count[s] == 0 || o >= sizeof(line))
			continue;
		o += (size_t)snprintf(line + o, sizeof(line) - o, ", %u %s",
		    count[s], child_state_name((enum child_state)s));
	}
	if (o < sizeof(line))
		o += (size_t)snprintf(line + o, sizeof(line) - o,
		    ", %zu working; %lld tokens, cost %.4f; %zu provider%s "
		    "down%s", m.domains_working, (long long)m.tokens, m.cost,
		    m.providers_down, m.providers_down == 1 ? "" : "s",
		    md->setup_problem != NULL ? "; setup problem: tasks "
		    "paused (masterd -n)" : "");
	/* Name the domains that need a look, as far as the line allows. */
	TAILQ_FOREACH(c, &md->children, entry) {
		if (c->state != CHILD_FATAL && c->state != CHILD_BACKOFF)
			continue;
		if (o >= sizeof(line))
			break;
		o += (size_t)snprintf(line + o, sizeof(line) - o, "; %s/%lld %s",
		    c->name, (long long)c->task, child_state_name(c->state));
	}
	notify_send(md, "STATUS=%s", line);
}

static void
on_status_soon(uv_timer_t *t)
{
	notify_status(t->data);
}

/* How long state changes are gathered into one STATUS= line: nothing a
 * person reading `systemctl status` could tell from at once. */
#define STATUS_GATHER_MS 100

void
notify_status_soon(struct masterd *md)
{
	if (md->notify_path == NULL || !md->status_soon_on ||
	    uv_is_active((uv_handle_t *)&md->status_soon))
		return;
	uv_timer_start(&md->status_soon, on_status_soon, STATUS_GATHER_MS, 0);
}
