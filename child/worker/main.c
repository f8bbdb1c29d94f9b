/*
 * main.c — masterd-worker: one domain's work.
 *
 * Started by masterd-child (relay.c) when its domain has work, with the
 * channel on fd 3; it speaks the child protocol to the relay, which passes
 * everything through to and from the master.  Reads the configuration (the
 * same file as masterd, and the same environment), says hello and ready,
 * answers pings at once whatever else is going on (the model and the
 * checks are asynchronous on this loop), hands the work to work.c (a
 * domain's directives), plan.c (the planner's) or integrate.c (the
 * integrator's), and stops on `shutdown`, SIGTERM or when the relay goes
 * away; it dies with the relay (PR_SET_PDEATHSIG).
 *
 * Exit status CHILD_EXIT_NORESTART (78) tells the master, through the
 * relay, that a restart cannot help: bad arguments, a bad configuration, a
 * protocol mismatch.
 */
#include <sys/prctl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child/worker/checks.h"
#include "child/worker/failover.h"
#include "child/worker/sandbox.h"
#include "child/worker/worker.h"
#include "common/llm/llm.h"
#include "common/log.h"
#include "common/paths.h"
#include "common/redact.h"
#include "common/repo.h"
#include "common/util.h"
#include "proto/child_args.h"
#include "proto/msg.h"
#include "proto/peer.h"



json_int_t
worker_next_id(struct worker *cx)
{
	return ++cx->next_id;
}

/*
 * All of the channel: whatever a message carries, no key leaves in it.  A
 * message over the frame limit is replaced by one saying so (a failed
 * round or plan.result...): the work it reports on still ends, with the
 * reason.
 */
int
worker_send(struct worker *cx, json_t *msg)
{
	json_t *instead;
	int rc;

	redact_json(cx->redact, msg);
	if ((rc = channel_send(&cx->ch, msg)) == CHANNEL_ETOOBIG) {
		instead = peer_too_big_new(&cx->next_id, msg,
		    cx->ch.refused_size, cx->ch.max_frame);
		log_warn("sending a %s saying so in its place",
		    json_string_value(json_object_get(instead, "type")));
		rc = channel_send_new(&cx->ch, instead);
	}
	json_decref(msg);
	return rc;
}

void
worker_redact_checks(const struct worker *cx, const struct check_result *res,
    size_t n)
{
	/* The results are the run's, allocated and freed by it; only their
	 * strings change here, before the callback reads them. */
	struct check_result *w = (struct check_result *)res;

	for (size_t i = 0; i < n; i++) {
		redact_inplace(cx->redact, &w[i].output);
		redact_inplace(cx->redact, &w[i].command);
	}
}

void
worker_progress(struct worker *cx, const char *stage, const char *text)
{
	json_t *m = msg_new(MSG_PROGRESS, worker_next_id(cx));

	json_object_set_new(m, "stage", json_string(stage));
	json_object_set_new(m, "task", json_integer(cx->task));
	if (text != NULL)
		json_object_set_new(m, "text", json_string(text));
	worker_send(cx, m);
}

void
worker_stop(struct worker *cx, int code)
{
	if (cx->stopping)
		return;
	cx->stopping = true;
	cx->exit_code = code;
	work_shutdown(cx);
	integrate_cancel(cx);
	channel_close(&cx->ch, NULL);
	uv_close((uv_handle_t *)&cx->sig_term, NULL);
	uv_close((uv_handle_t *)&cx->progress_timer, NULL);
}

/* ---------------------------------------------------------- messages */

static void
on_msg(struct channel *ch, json_t *msg, void *arg)
{
	struct worker *cx = arg;
	const struct msg_spec *spec;
	int stop;

	spec = peer_parent_msg(ch, &cx->next_id, cx->domain,
	    cx->round != NULL || cx->planning != NULL ||
	    cx->integrating != NULL, msg, &stop);
	if (stop >= 0)
		worker_stop(cx, stop);
	if (spec == NULL)
		return;
	switch (spec->type) {
	case MSG_TASK_ASSIGN:	work_assign(cx, msg); break;
	case MSG_INTERFACE_PEERS: work_peers(cx, msg); break;
	case MSG_DIRECTIVE:
		failover_grant_probe(cx, jget_str(msg, "probe"));
		work_directive(cx, msg);
		break;
	case MSG_PROVIDERS:
		json_decref(cx->providers_down);
		cx->providers_down = json_incref(json_object_get(msg, "down"));
		break;
	case MSG_CANCEL:
		work_cancel(cx, msg);
		integrate_cancel(cx);
		break;
	case MSG_PLAN_REQUEST:
		failover_grant_probe(cx, jget_str(msg, "probe"));
		plan_request(cx, msg);
		break;
	case MSG_INTEGRATE_REQUEST: integrate_request(cx, msg); break;
	default:
		break;
	}
}

static void
on_close(struct channel *ch, const char *why, void *arg)
{
	struct worker *cx = arg;

	(void)ch;
	if (why != NULL)
		log_err("channel to masterd-child: %s", why);
	/* The relay is gone: nobody would take our results. */
	worker_stop(cx, cx->exit_code);
}

static const struct channel_ops ops = {
	.on_msg = on_msg,
	.on_bad = NULL,
	.on_close = on_close,
};

static void
on_sigterm(uv_signal_t *s, int signum)
{
	(void)signum;
	log_info("SIGTERM");
	worker_stop(s->data, 0);
}

/* ---------------------------------------------------------- setup */

static char *
fmt(const char *f, const char *a, const char *b)
{
	char *s;

	if (asprintf(&s, f, a, b) < 0)
		return NULL;
	return s;
}

/*
 * The prompts: configured, else those of the source tree the binary was
 * built in, else the installed ones of the prefix it runs from
 * (common/paths.h; masterd -n names the same directory).
 */
static char *
find_prompts(const struct worker *cx)
{
	if (cx->conf->prompts_dir != NULL)
		return strdup(cx->conf->prompts_dir);
	return paths_prompts(cx->self);
}

static char *
self_path(void)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);

	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	return strdup(buf);
}

/*
 * Every key this worker may send, whatever its role: the domain's (or the
 * planner's) session and its summaries, the critic's.  Loaded now, before
 * any check runs, even by an integrator that never opens a session.
 */
static void
load_secrets(struct worker *cx)
{
	static const char *const roles[] = { "domain", "critic", "planner" };
	struct llm_conf c;

	cx->redact = redact_new();
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		conf_llm_role(cx->conf, roles[i], cx->domain, &c);
		llm_conf_redact_key(&c, cx->redact);
	}
	/* And those of the fallbacks any of them may go over to. */
	for (size_t i = 0; i < cx->conf->nproviders; i++) {
		if (conf_llm_named(cx->conf, cx->conf->providers[i].name,
		    &c) == 0)
			llm_conf_redact_key(&c, cx->redact);
	}
}

static int
setup(struct worker *cx, const struct child_args *a)
{
	char *errors, tid[32];

	if (conf_load(a->config, &cx->conf, &errors) != 0) {
		log_err("configuration: %s", errors);
		free(errors);
		return -1;
	}
	snprintf(tid, sizeof(tid), "%lld", (long long)cx->task);
	cx->self = self_path();
	cx->state_dir = strdup(a->state);
	cx->task_dir = fmt("%s/tasks/%s", a->state, tid);
	cx->gitdir = fmt("%s/%s", cx->task_dir, "repo.git");
	cx->worktree = fmt("%s/domains/%s", cx->task_dir, cx->domain);
	cx->session_path = fmt("%s/sessions/%s.json", cx->task_dir,
	    cx->domain);
	cx->integration_dir = fmt("%s/%s", cx->task_dir, "integration");
	if (cx->self == NULL || cx->task_dir == NULL || cx->gitdir == NULL ||
	    cx->worktree == NULL || cx->session_path == NULL ||
	    cx->integration_dir == NULL)
		return -1;
	cx->prompts_dir = find_prompts(cx);
	conf_llm(cx->conf, cx->domain, &cx->llm);
	load_secrets(cx);
	cx->max_rounds = 4;
	cx->max_invalid = 3;
	cx->max_tool_calls = (int)cx->conf->max_tool_calls;
	cx->history_tokens = cx->llm.history_tokens;
	cx->tools = cx->llm.tools != 0;
	cx->directive_turn = (size_t)-1;
	cx->fo = xcalloc(1, sizeof(*cx->fo));
	failover_init(cx->fo, cx, cx->planner ? "planner" : "domain");
	cx->providers_down = json_array();
	cx->queue = json_array();
	cx->pending = json_array();
	cx->shown = json_object();
	cx->changed = json_object();
	cx->asked = json_array();
	cx->recent = json_object();
	return 0;
}

/*
 * A worker killed mid-commit leaves git's lock files on its branch and
 * worktree; nobody else writes them, and its successor is this process.
 */
static void
clear_stale_locks(struct worker *cx)
{
	char err[512];

	if (cx->planner || cx->integrator)
		return;
	if (repo_clear_stale_locks(cx->gitdir, cx->domain, err,
	    sizeof(err)) < 0)
		log_warn("%s", err);
}

static void
teardown(struct worker *cx)
{
	json_decref(cx->assign);
	json_decref(cx->peers);
	json_decref(cx->published);
	json_decref(cx->declared);
	json_decref(cx->own_iface);
	json_decref(cx->pending);
	json_decref(cx->shown);
	json_decref(cx->changed);
	json_decref(cx->asked);
	json_decref(cx->recent);
	json_decref(cx->queue);
	json_decref(cx->providers_down);
	if (cx->fo != NULL)
		failover_free(cx->fo);
	free(cx->fo);
	free(cx->self);
	free(cx->state_dir);
	free(cx->task_dir);
	free(cx->gitdir);
	free(cx->worktree);
	free(cx->session_path);
	free(cx->integration_dir);
	free(cx->prompts_dir);
	redact_free(cx->redact);
	conf_free(cx->conf);
}

int
main(int argc, char **argv)
{
	struct worker cx = { 0 };
	struct child_args a = { 0 };
	uv_loop_t loop;
	char ident[64];

	util_init();
	/*
	 * The sandbox's modes come first, dumpable: they unshare a user
	 * namespace and write their own /proc/self/uid_map, which a process
	 * that is not dumpable cannot open (root owns it).  They hold no
	 * secret: the checks runner gives the reaper the allow-list
	 * environment and the command replaces it; the probe runs nothing.
	 * _exit: the reaper has a user namespace of its own by then, where
	 * LeakSanitizer's tracer cannot attach, and nothing to flush.
	 */
	if (argc > 1 && strcmp(argv[1], "--exec-check") == 0)
		_exit(checkexec_main(argc, argv));
	if (argc > 1 && strcmp(argv[1], "--sandbox-probe") == 0)
		return sandbox_probe_main(argc, argv);
	if (util_harden_process() != 0)
		return CHILD_EXIT_NORESTART;
	if (child_args_parse(argc, argv, "masterd-worker", &a) != 0)
		return CHILD_EXIT_NORESTART;
	/* Work nobody can take any more: die with the relay. */
	if (a.parent != NULL && (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 ||
	    getppid() != (pid_t)atoll(a.parent)))
		return CHILD_EXIT_NORESTART;
	cx.domain = a.domain;
	cx.task = atoll(a.task);
	cx.planner = a.role != NULL && strcmp(a.role, "planner") == 0;
	cx.integrator = a.role != NULL && strcmp(a.role, "integrator") == 0;
	snprintf(ident, sizeof(ident), "masterd-worker/%s", cx.domain);
	log_init(ident, getenv("MASTERD_CHILD_DEBUG") ? LOG_DEBUG : LOG_INFO);
	if (getenv("MASTERD_LOG_SYSLOG") != NULL)
		log_use_syslog();
	signal(SIGPIPE, SIG_IGN);
	if (setup(&cx, &a) != 0) {
		teardown(&cx);
		return CHILD_EXIT_NORESTART;
	}
	llm_global_init();
	repo_global_init();
	clear_stale_locks(&cx);
	uv_loop_init(&loop);
	cx.loop = &loop;
	if (peer_parent_open(&loop, &cx.ch, &ops, &cx) != 0)
		return CHILD_EXIT_NORESTART;
	uv_signal_init(&loop, &cx.sig_term);
	cx.sig_term.data = &cx;
	uv_signal_start(&cx.sig_term, on_sigterm, SIGTERM);
	uv_timer_init(&loop, &cx.progress_timer);
	cx.progress_timer.data = &cx;
	if ((cx.engine = llm_engine_new(&loop)) == NULL) {
		log_err("cannot start the HTTP engine");
		return CHILD_EXIT_NORESTART;
	}
	llm_engine_set_redact(cx.engine, cx.redact);
	uv_run(&loop, UV_RUN_DEFAULT);
	if (cx.engine != NULL) {
		llm_engine_free(cx.engine);
		uv_run(&loop, UV_RUN_DEFAULT);
	}
	uv_loop_close(&loop);
	teardown(&cx);
	repo_global_shutdown();
	llm_global_cleanup();
	return cx.exit_code;
}
