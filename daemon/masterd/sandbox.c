/*
 * sandbox.c — masterd's knowledge of the checks' sandbox: it runs
 * `masterd-worker --sandbox-probe` (the worker builds the sandbox, so the
 * worker says whether it can, as the checks' user under the same unit),
 * keeps the verdict, and says it: `masterd -n`, the log at start-up and
 * reload, `masterctl status`.  With `sandbox = strict` a verdict that is
 * not "available" stops masterd before it is ready: no check ever runs
 * unconfined by surprise.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "common/log.h"
#include "common/paths.h"
#include "common/util.h"
#include "daemon/masterd/sandbox.h"

/* More than any verdict: a probe that says this much is broken. */
#define PROBE_OUTPUT_MAX	(256 * 1024)

/* ---------------------------------------------------------- the worker */

/* dir(file)/name when it is executable; malloc'd, or NULL. */
static char *
beside(const char *file, const char *name)
{
	const char *slash = strrchr(file, '/');
	char *p;

	if (slash == NULL)
		return NULL;
	p = xasprintf("%.*s/%s", (int)(slash - file), file, name);
	if (access(p, X_OK) == 0)
		return p;
	free(p);
	return NULL;
}

/*
 * Beside masterd first: the build tree, and tests whose child_path is a
 * fake child; then beside the configured child (the worker the relay
 * starts); then the installed one, in the prefix masterd runs from.
 */
char *
sandbox_worker_path(const struct masterd_conf *conf)
{
	char self[PATH_MAX], *p;
	ssize_t n;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		if ((p = beside(self, "masterd-worker")) != NULL)
			return p;
	}
	if (conf->child_path != NULL &&
	    (p = beside(conf->child_path, "masterd-worker")) != NULL)
		return p;
	return paths_libexec(MASTERD_SBINDIR, "masterd-worker");
}

/* ---------------------------------------------------------- verdicts */

void
sandbox_verdict_init(struct sandbox_verdict *v,
    const struct masterd_conf *conf)
{
	memset(v, 0, sizeof(*v));
	v->mode = conf->sandbox;
	if (conf->sandbox_said != NULL)
		v->said = xstrdup(conf->sandbox_said);
	else if (conf->file != NULL)
		v->said = xstrdup(conf->file);
	v->missing = json_array();
	v->notes = json_array();
}

void
sandbox_verdict_free(struct sandbox_verdict *v)
{
	free(v->said);
	free(v->summary);
	json_decref(v->missing);
	json_decref(v->notes);
	memset(v, 0, sizeof(*v));
}

bool
sandbox_ok(const struct sandbox_verdict *v)
{
	return v->mode == CONF_SANDBOX_OFF || v->available;
}

static void
add_missing(struct sandbox_verdict *v, const char *name, const char *error,
    const char *fix)
{
	json_array_append_new(v->missing, json_pack("{s:s, s:s, s:s}", "name",
	    name, "error", error, "fix", fix));
}

/* The probe could not say: strict is not known to work, so it does not. */
static void
probe_failed(struct sandbox_verdict *v, const char *worker,
    const char *error)
{
	char *fix = xasprintf("run `%s --sandbox-probe` by hand to see why, "
	    "or set [masterd] sandbox = off to run checks unconfined",
	    worker != NULL ? worker : "masterd-worker");

	v->probed = true;
	v->available = false;
	json_array_clear(v->missing);
	add_missing(v, "sandbox probe", error, fix);
	free(fix);
}

static const char *
str_or(const json_t *o, const char *key, const char *def)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL && *s != '\0' ? s : def;
}

void
sandbox_parse(const char *worker, const char *out, int status,
    struct sandbox_verdict *v)
{
	json_t *j = json_loads(out != NULL ? out : "", 0, NULL), *x;
	char why[128];
	size_t i;

	if (!json_is_object(j) ||
	    !json_is_boolean(json_object_get(j, "strict"))) {
		snprintf(why, sizeof(why), "the probe gave no verdict (exit "
		    "status %d)", status);
		probe_failed(v, worker, why);
		json_decref(j);
		return;
	}
	v->probed = true;
	/* Both must agree: a verdict without its status is not trusted. */
	v->available = json_is_true(json_object_get(j, "strict")) &&
	    status == 0;
	free(v->summary);
	v->summary = json_is_string(json_object_get(j, "summary")) ?
	    xstrdup(str_or(j, "summary", "")) : NULL;
	json_array_clear(v->missing);
	json_array_foreach(json_object_get(j, "missing"), i, x)
		add_missing(v, str_or(x, "name", "?"), str_or(x, "error",
		    "missing"), str_or(x, "fix", "(no fix known)"));
	json_array_clear(v->notes);
	json_array_foreach(json_object_get(j, "notes"), i, x) {
		if (json_is_string(x))
			json_array_append(v->notes, x);
	}
	if (!v->available && json_array_size(v->missing) == 0) {
		snprintf(why, sizeof(why), "the probe says strict is not "
		    "available (exit status %d) but not why", status);
		probe_failed(v, worker, why);
	}
	json_decref(j);
}

/* ---------------------------------------------------------- the probe */

struct probe {
	uv_process_t proc;
	uv_pipe_t out;
	uv_timer_t timer;
	char *buf;
	size_t len;
	bool exited;
	bool out_closed;
	bool timed_out;
	bool too_long;
	int64_t status;
	int term_signal;
};

/* The deadline holds until the process has exited and its output ended. */
static void
maybe_done(struct probe *p)
{
	if (p->exited && p->out_closed && !uv_is_closing((uv_handle_t *)
	    &p->timer))
		uv_close((uv_handle_t *)&p->timer, NULL);
}

static void
close_out(struct probe *p)
{
	if (p->out_closed)
		return;
	p->out_closed = true;
	uv_close((uv_handle_t *)&p->out, NULL);
	maybe_done(p);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	buf->base = malloc(suggested);
	buf->len = buf->base != NULL ? suggested : 0;
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct probe *p = s->data;

	if (n > 0 && p->len + (size_t)n <= PROBE_OUTPUT_MAX) {
		p->buf = xrealloc(p->buf, p->len + (size_t)n + 1);
		memcpy(p->buf + p->len, buf->base, (size_t)n);
		p->len += (size_t)n;
		p->buf[p->len] = '\0';
	} else if (n > 0) {
		p->too_long = true;
	}
	free(buf->base);
	if (n < 0 || p->too_long)
		close_out(p);
}

static void
on_probe_exit(uv_process_t *proc, int64_t status, int term_signal)
{
	struct probe *p = proc->data;

	p->exited = true;
	p->status = status;
	p->term_signal = term_signal;
	uv_close((uv_handle_t *)proc, NULL);
	maybe_done(p);
}

static void
on_deadline(uv_timer_t *t)
{
	struct probe *p = t->data;

	p->timed_out = true;
	if (!p->exited)
		uv_process_kill(&p->proc, SIGKILL);
	/* A grandchild may hold the pipe: stop listening. */
	close_out(p);
}

static int
probe_spawn(uv_loop_t *loop, struct probe *p, const char *worker)
{
	char *args[] = { (char *)worker, "--sandbox-probe", NULL };
	uv_stdio_container_t stdio[3] = {
		{ .flags = UV_IGNORE },
		{ .flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE,
		  .data.stream = (uv_stream_t *)&p->out },
		{ .flags = UV_INHERIT_FD, .data.fd = 2 },
	};
	uv_process_options_t opt = {
		.exit_cb = on_probe_exit, .file = worker, .args = args,
		.stdio = stdio, .stdio_count = 3,
	};

	uv_pipe_init(loop, &p->out, 0);
	p->out.data = p->proc.data = p->timer.data = p;
	uv_timer_init(loop, &p->timer);
	return uv_spawn(loop, &p->proc, &opt);
}

/* What went wrong, when the run itself did: NULL if it answered. */
static const char *
probe_trouble(const struct probe *p, uint64_t timeout_ms, char *buf,
    size_t len)
{
	if (p->timed_out && (!p->exited || p->term_signal == SIGKILL))
		snprintf(buf, len, "the probe did not answer in %llu ms",
		    (unsigned long long)timeout_ms);
	else if (p->too_long)
		snprintf(buf, len, "the probe said more than %d bytes",
		    PROBE_OUTPUT_MAX);
	else if (p->term_signal != 0)
		snprintf(buf, len, "the probe was killed by signal %d (%s)",
		    p->term_signal, strsignal(p->term_signal));
	else
		return NULL;
	return buf;
}

void
sandbox_probe(const char *worker, const struct masterd_conf *conf,
    uint64_t timeout_ms, struct sandbox_verdict *v)
{
	struct probe p = { 0 };
	uv_loop_t loop;
	char why[PATH_MAX + 64];
	int rc;

	sandbox_verdict_free(v);
	sandbox_verdict_init(v, conf);
	if (uv_loop_init(&loop) != 0) {
		probe_failed(v, worker, "cannot start an event loop");
		return;
	}
	if ((rc = probe_spawn(&loop, &p, worker)) != 0) {
		snprintf(why, sizeof(why), "cannot run %s: %s", worker,
		    uv_strerror(rc));
		uv_close((uv_handle_t *)&p.out, NULL);
		uv_close((uv_handle_t *)&p.timer, NULL);
		uv_close((uv_handle_t *)&p.proc, NULL);
		uv_run(&loop, UV_RUN_DEFAULT);
		uv_loop_close(&loop);
		probe_failed(v, worker, why);
		return;
	}
	uv_read_start((uv_stream_t *)&p.out, on_alloc, on_read);
	uv_timer_start(&p.timer, on_deadline, timeout_ms, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	if (probe_trouble(&p, timeout_ms, why, sizeof(why)) != NULL)
		probe_failed(v, worker, why);
	else
		sandbox_parse(worker, p.buf, (int)p.status, v);
	free(p.buf);
}

/* ---------------------------------------------------------- saying it */

void
sandbox_print(FILE *f, const struct sandbox_verdict *v)
{
	const json_t *x;
	size_t i;

	if (v->mode == CONF_SANDBOX_OFF) {
		fprintf(f, "sandbox: off — checks run unconfined (said in "
		    "%s)\n", v->said != NULL ? v->said : "the configuration");
		return;
	}
	if (!v->available) {
		fprintf(f, "sandbox: strict is NOT available here:\n");
		json_array_foreach(v->missing, i, x)
			fprintf(f, "  %s: %s; fix: %s\n", str_or(x, "name", "?"),
			    str_or(x, "error", ""), str_or(x, "fix", ""));
		return;
	}
	fprintf(f, "sandbox: strict (%s)\n", v->summary != NULL ? v->summary :
	    "available");
	json_array_foreach(v->notes, i, x)
		fprintf(f, "  note: %s\n", json_string_value(x));
}

void
sandbox_log(const struct sandbox_verdict *v, const char *prefix)
{
	const json_t *x;
	size_t i;

	if (v->mode == CONF_SANDBOX_OFF) {
		log_warn("%ssandbox = off: check commands and the code they "
		    "run are not confined (said in %s)", prefix,
		    v->said != NULL ? v->said : "the configuration");
		return;
	}
	if (v->available) {
		log_info("%ssandbox: strict (%s)", prefix, v->summary != NULL ?
		    v->summary : "available");
		json_array_foreach(v->notes, i, x)
			log_notice("%ssandbox: %s", prefix,
			    json_string_value(x));
		return;
	}
	json_array_foreach(v->missing, i, x)
		log_err("%ssandbox: strict is not available: %s: %s; fix: %s",
		    prefix, str_or(x, "name", "?"), str_or(x, "error", ""),
		    str_or(x, "fix", ""));
}

json_t *
sandbox_json(const struct sandbox_verdict *v)
{
	json_t *o = json_object();

	json_object_set_new(o, "mode", json_string(conf_sandbox_name(
	    v->mode)));
	/* Off is not probed: whether strict would work is not known. */
	json_object_set_new(o, "available", v->probed ?
	    json_boolean(v->available) : json_null());
	json_object_set_new(o, "summary", v->summary != NULL ?
	    json_string(v->summary) : json_null());
	json_object_set_new(o, "notes", v->notes != NULL ?
	    json_deep_copy(v->notes) : json_array());
	if (v->mode == CONF_SANDBOX_OFF && v->said != NULL)
		json_object_set_new(o, "said", json_string(v->said));
	return o;
}
