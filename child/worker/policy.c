/*
 * policy.c — what a check run may do, from the configuration: the
 * [checks] limits, the sandbox's mode, the domain's network and
 * variables, the trees it may read and those it must never see (the
 * state directory, every key file, the credentials directory).  And,
 * with `sandbox = off`, which commands may run at all: only those the
 * operator wrote in the configuration, never a model's.
 */
#include <stdlib.h>
#include <string.h>

#include "child/worker/checks.h"
#include "child/worker/worker.h"
#include "common/config.h"
#include "common/log.h"
#include "common/util.h"

static void
hide(struct check_policy *p, const char *path)
{
	if (path == NULL || *path == '\0')
		return;
	for (size_t i = 0; i < p->nhide; i++) {
		if (strcmp(p->hide[i], path) == 0)
			return;
	}
	p->hide = xreallocarray(p->hide, p->nhide + 1, sizeof(*p->hide));
	p->hide[p->nhide++] = xstrdup(path);
}

/* Every key file the configuration names, whoever uses it: a check of
 * one domain must not read the key of another, nor the critic's. */
static void
hide_keys(struct check_policy *p, const struct masterd_conf *c)
{
	hide(p, c->llm.key_file);
	hide(p, c->critic.key_file);
	hide(p, c->planner.key_file);
	for (size_t i = 0; i < c->ndomains; i++)
		hide(p, c->domains[i].llm.key_file);
}

/* Milliseconds of CPU to whole seconds of RLIMIT_CPU, rounded up so
 * that a small limit is not no limit. */
static uint64_t
cpu_seconds(int64_t ms)
{
	return ms <= 0 ? 0 : (uint64_t)(ms + 999) / 1000;
}

void
check_policy_init(struct check_policy *p, const struct worker *cx)
{
	const struct masterd_conf *c = cx->conf;
	const struct domain_conf *d = NULL;
	struct check_limits *lim = &p->lim;

	memset(p, 0, sizeof(*p));
	lim->timeout_ms = (uint64_t)c->check_timeout;
	lim->cpu_seconds = cpu_seconds(c->check_cpu_time);
	lim->memory_bytes = (uint64_t)c->check_memory;
	lim->processes = (uint64_t)c->check_processes;
	lim->file_size = (uint64_t)c->check_file_size;
	lim->tmp_size = (uint64_t)c->check_tmp_size;
	lim->output_max = (size_t)c->check_output;
	lim->sandbox.off = c->sandbox == CONF_SANDBOX_OFF;
	lim->sandbox.read = (const char *const *)c->sandbox_read.v;
	lim->sandbox.nread = c->sandbox_read.n;
	/* The integrator runs every domain's code: no domain's network
	 * nor variables. */
	if (!cx->integrator)
		d = conf_domain(c, cx->domain);
	if (d != NULL) {
		lim->sandbox.network = d->network != 0;
		lim->sandbox.env = (const char *const *)d->env.v;
		lim->sandbox.nenv = d->env.n;
	}
	hide(p, cx->state_dir);
	hide_keys(p, c);
	hide(p, getenv("CREDENTIALS_DIRECTORY"));
	lim->sandbox.hide = (const char *const *)p->hide;
	lim->sandbox.nhide = p->nhide;
}

void
check_policy_free(struct check_policy *p)
{
	for (size_t i = 0; i < p->nhide; i++)
		free(p->hide[i]);
	free(p->hide);
	memset(p, 0, sizeof(*p));
}

static bool
listed(const struct strlist *l, const char *command)
{
	for (size_t i = 0; l != NULL && i < l->n; i++) {
		if (strcmp(l->v[i], command) == 0)
			return true;
	}
	return false;
}

bool
check_policy_allows(const struct worker *cx, const char *command)
{
	const struct domain_conf *d;

	if (cx->conf->sandbox != CONF_SANDBOX_OFF)
		return true;
	if (cx->integrator)
		return listed(&cx->conf->integration_checks, command);
	d = conf_domain(cx->conf, cx->domain);
	return d != NULL && listed(&d->checks, command);
}

size_t
check_policy_keep(struct worker *cx, char **cmds, size_t n,
    bool warn)
{
	size_t kept = 0, len = 0;
	char *names = NULL;

	for (size_t i = 0; i < n; i++) {
		if (check_policy_allows(cx, cmds[i])) {
			cmds[kept++] = cmds[i];
			continue;
		}
		if (!warn)
			continue;
		names = xrealloc(names, len + strlen(cmds[i]) + 5);
		len += (size_t)sprintf(names + len, "%s\"%s\"",
		    len > 0 ? ", " : "", cmds[i]);
	}
	if (names != NULL) {
		log_warn("sandbox = off: not running %s: only the commands "
		    "of the configuration run unconfined", names);
		worker_progress(cx, "sandbox", "sandbox = off: commands "
		    "not written in the configuration are not run");
		free(names);
	}
	return kept;
}
