/*
 * main.c — masterd's start-up, signals and shutdown.
 *
 * Order of start: flags and configuration (fail fast), the sandbox's
 * probe (strict and not available: exit 78; -n stops here), the state
 * directory and its lock, the registry, the control socket, then the
 * children of unfinished tasks; READY=1 only once the socket and registry
 * are up.  Stop: refuse new work, stop every child (shutdown, SIGTERM,
 * SIGKILL), close clients, close the registry.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/paths.h"
#include "common/repo.h"
#include "common/util.h"
#include "daemon/masterd/masterd.h"
#include "daemon/masterd/provider.h"
#include "daemon/masterd/registry.h"
#include "daemon/masterd/setup.h"
#include "daemon/masterd/supervise.h"
#include "daemon/masterd/tasks.h"

#define DEFAULT_CONF MASTERD_SYSCONFDIR "/masterd/masterd.conf"

/* sysexits' EX_CONFIG: the host or the configuration must change before
 * a restart can help. */
#define EXIT_CONFIG 78

struct options {
	const char *conf;
	const char *state_dir;
	const char *socket;
	bool foreground;
	bool check_only;
	int verbose;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: masterd [-fnvV] [-c file] [-d state_dir] [-s socket]\n"
	    "  -f, --foreground       stay in the foreground, log to stderr\n"
	    "  -c, --config file      configuration file (default %s)\n"
	    "  -n, --check            check the configuration and the setup "
	    "(programs,\n"
	    "                         prompts, keys, sandbox) and exit\n"
	    "  -d, --state-dir dir    state directory\n"
	    "  -s, --socket path      control socket\n"
	    "  -v, --verbose          more logging (debug)\n"
	    "  -V, --version          print the version and exit\n"
	    "  -h, --help             print this help and exit\n"
	    "See masterd(8), masterd.conf(5) and masterctl(1).\n",
	    DEFAULT_CONF);
}

static const struct option long_options[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "state-dir", required_argument, NULL, 'd' },
	{ "foreground", no_argument, NULL, 'f' },
	{ "help", no_argument, NULL, 'h' },
	{ "check", no_argument, NULL, 'n' },
	{ "socket", required_argument, NULL, 's' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static int
parse_flags(int argc, char **argv, struct options *o)
{
	int ch;

	while ((ch = getopt_long(argc, argv, "c:d:fhns:vV", long_options,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':	o->conf = optarg; break;
		case 'd':	o->state_dir = optarg; break;
		case 'f':	o->foreground = true; break;
		case 'n':	o->check_only = true; break;
		case 's':	o->socket = optarg; break;
		case 'v':	o->verbose++; break;
		case 'V':
			printf("masterd %s (protocol %d)\n", MASTERD_VERSION,
			    PROTO_VERSION);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -1;
	}
	return 0;
}

/* Flag paths may be relative; the daemon never changes its mind later. */
static char *
absolute(const char *path)
{
	char cwd[PATH_MAX], *s;

	if (path[0] == '/')
		return strdup(path);
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return NULL;
	if (asprintf(&s, "%s/%s", cwd, path) < 0)
		return NULL;
	return s;
}

static int
replace_path(char **field, const char *flag)
{
	char *p;

	if (flag == NULL)
		return 0;
	if ((p = absolute(flag)) == NULL)
		return -1;
	free(*field);
	*field = p;
	return 0;
}

static struct masterd_conf *
load_config(const struct options *o, const char **used)
{
	struct masterd_conf *conf;
	const char *path = o->conf;
	char *errors;

	if (path == NULL && access(DEFAULT_CONF, F_OK) == 0)
		path = DEFAULT_CONF;
	*used = path;
	if (conf_load(path, &conf, &errors) != 0) {
		fprintf(stderr, "masterd: configuration errors:\n%s", errors);
		free(errors);
		return NULL;
	}
	if (replace_path(&conf->state_dir, o->state_dir) != 0 ||
	    replace_path(&conf->control_socket, o->socket) != 0) {
		conf_free(conf);
		return NULL;
	}
	return conf;
}

/*
 * The child binary: configured, or beside masterd (the build tree), or
 * the installed one, in the prefix masterd runs from (common/paths.h).
 */
static char *
find_child(const struct masterd_conf *conf)
{
	char *self, *p;

	if (conf->child_path != NULL)
		return strdup(conf->child_path);
	if ((self = paths_self_dir()) != NULL) {
		p = xasprintf("%s/masterd-child", self);
		free(self);
		if (access(p, X_OK) == 0)
			return p;
		free(p);
	}
	return paths_libexec(MASTERD_SBINDIR, "masterd-child");
}

static int
mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -1;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* One masterd per state directory, enforced by a lock on a file in it. */
static int
lock_state_dir(struct masterd *md)
{
	char path[PATH_MAX], pid[32];
	int fd;

	snprintf(path, sizeof(path), "%s/masterd.lock", md->conf->state_dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		log_err("%s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);

		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		log_err("state directory %s is in use by another masterd "
		    "(pid %s)", md->conf->state_dir, n > 0 ? pid : "?");
		close(fd);
		return -1;
	}
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 ||
	    pwrite(fd, pid, strlen(pid), 0) != (ssize_t)strlen(pid))
		log_warn("%s: cannot record pid", path);
	md->lock_fd = fd;
	return 0;
}

/* Files a crash left while a connection fetched or sent them: backup
 * copies, packs, and the repository an import was building. */
static void
remove_stale_fetches(const char *dir)
{
	static const char *const patterns[] = { "backup-*.db", "pack-*.pack",
	    "import-*.pack", "import-*.taken", "import-*.git",
	    "pushto-*.pack" };
	char pattern[PATH_MAX];
	glob_t g;

	for (size_t p = 0; p < nitems(patterns); p++) {
		snprintf(pattern, sizeof(pattern), "%s/%s", dir, patterns[p]);
		if (glob(pattern, 0, NULL, &g) != 0)
			continue;
		for (size_t i = 0; i < g.gl_pathc; i++)
			if (remove_tree(g.gl_pathv[i]) != 0)
				log_warn("%s: cannot remove it: %s",
				    g.gl_pathv[i], strerror(errno));
		globfree(&g);
	}
}

/*
 * The state directory holds the registry, the repositories and their
 * hooks and config, and the copy of the configuration the children read:
 * whoever can write it runs code as masterd.  It must be masterd's own and
 * closed to everyone else.
 */
static int
check_state_dir(const char *dir)
{
	struct stat st;

	if (stat(dir, &st) != 0) {
		log_err("state directory %s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		log_err("state directory %s is not a directory", dir);
		return -1;
	}
	if (st.st_uid != geteuid()) {
		log_err("state directory %s belongs to uid %ld, not to "
		    "masterd's uid %ld: not starting", dir, (long)st.st_uid,
		    (long)geteuid());
		return -1;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		log_err("state directory %s can be written by others (mode "
		    "%04o): not starting; make it private (chmod 0700 %s) or "
		    "choose another (-d)", dir, (unsigned)(st.st_mode & 07777),
		    dir);
		return -1;
	}
	return 0;
}

static int
open_state(struct masterd *md)
{
	char path[PATH_MAX], err[256];

	if (mkdir_p(md->conf->state_dir, 0700) != 0) {
		log_err("cannot create state directory %s: %s",
		    md->conf->state_dir, strerror(errno));
		return -1;
	}
	if (check_state_dir(md->conf->state_dir) != 0)
		return -1;
	if (lock_state_dir(md) != 0)
		return -1;
	remove_stale_fetches(md->conf->state_dir);
	snprintf(path, sizeof(path), "%s/masterd.db", md->conf->state_dir);
	if ((md->reg = registry_open(path, err, sizeof(err))) == NULL) {
		log_err("registry %s: %s", path, err);
		return -1;
	}
	checkpoint_init(md, path);
	return 0;
}

/*
 * The children read the configuration masterd accepted, not whatever the
 * file holds when they start: a copy in the state directory, replaced only
 * when a reload is accepted.
 */
static int
publish_config(struct masterd *md)
{
	char path[PATH_MAX], tmp[PATH_MAX], buf[65536];
	int in = -1, out = -1, rc = -1;
	ssize_t n;

	if (md->conf_path == NULL)
		return 0;
	snprintf(path, sizeof(path), "%s/children.conf", md->conf->state_dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((in = open(md->conf_path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    (out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) < 0)
		goto out;
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if (write(out, buf, (size_t)n) != n)
			goto out;
	}
	if (n < 0 || fsync(out) != 0 || close(out) != 0) {
		out = -1;
		goto out;
	}
	out = -1;
	if (rename(tmp, path) != 0)
		goto out;
	free(md->child_conf);
	md->child_conf = strdup(path);
	rc = 0;
out:
	if (rc != 0)
		log_err("cannot copy %s for the children: %s", md->conf_path,
		    strerror(errno));
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return rc;
}

/*
 * The sandbox's verdict for conf in v: strict is probed (off is not:
 * nothing needs it).  Whether masterd may run checks under it.
 */
static bool
judge_sandbox(const struct masterd_conf *conf, struct sandbox_verdict *v)
{
	char *worker;

	sandbox_verdict_init(v, conf);
	if (conf->sandbox == CONF_SANDBOX_STRICT) {
		worker = sandbox_worker_path(conf);
		sandbox_probe(worker, conf, SANDBOX_PROBE_TIMEOUT_MS, v);
		free(worker);
	}
	return sandbox_ok(v);
}

/* ---------------------------------------------------------- setup */

/* A key's problem (or none) as the running one: said once when it
 * changes; the tasks follow (tasks_setup_gate). */
static void
set_setup_problem(struct masterd *md, char *problem)
{
	if (problem == NULL && md->setup_problem != NULL)
		log_notice("setup: the keys are fine again");
	else if (problem != NULL && (md->setup_problem == NULL ||
	    strcmp(problem, md->setup_problem) != 0))
		log_err("%s; the tasks wait paused until it is fixed",
		    problem);
	free(md->setup_problem);
	md->setup_problem = problem;
}

/*
 * conf's setup, said in the log: false when its programs or prompts are
 * missing (nothing could run); a key's problem becomes md's, which
 * pauses the tasks rather than failing them.
 */
static bool
setup_accept(struct masterd *md, const struct masterd_conf *conf,
    const char *child, const char *prefix)
{
	json_t *findings = setup_check(conf, child, false);
	bool ok = setup_install_errors(findings) == 0;

	setup_log(findings, prefix);
	if (ok)
		set_setup_problem(md, setup_key_problem(findings));
	json_decref(findings);
	return ok;
}

/* Each tick: a key may come or go without a reload. */
static void
setup_recheck(struct masterd *md)
{
	json_t *findings = setup_check_keys(md->conf, false);
	char *problem = setup_key_problem(findings);

	json_decref(findings);
	if ((problem == NULL) == (md->setup_problem == NULL) &&
	    (problem == NULL || strcmp(problem, md->setup_problem) == 0)) {
		free(problem);
		return;
	}
	set_setup_problem(md, problem);
	tasks_setup_gate(md);
	notify_status(md);
}

/* ---------------------------------------------------------- signals */

/* Where state and the socket live cannot move under a live daemon. */
static void
keep_fixed(char **field, const char *running, const char *key)
{
	if (*field != NULL && strcmp(*field, running) != 0)
		log_warn("reload: %s changed to %s; it takes effect only "
		    "after a restart", key, *field);
	free(*field);
	*field = strdup(running);
}

/*
 * Re-read the configuration (SIGHUP, or `masterctl reload`): 0 and the
 * keys that changed, or -1 and why, the running configuration kept.
 */
int
masterd_reload(struct masterd *md, json_t **changed, char **error)
{
	struct masterd_conf *conf;
	struct sandbox_verdict sv;
	char *errors, *line, *save = NULL, *child;

	*changed = NULL;
	*error = NULL;
	notify_send(md, "RELOADING=1");
	if (conf_load(md->conf_path, &conf, &errors) != 0) {
		*error = xstrdup(errors != NULL ? errors : "cannot load");
		for (line = strtok_r(errors, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			log_err("reload refused: %s", line);
		log_err("reload refused: keeping the running configuration");
		free(errors);
		notify_send(md, "READY=1");
		return -1;
	}
	/* A configuration that cannot be strict is as bad as a bad one;
	 * so is one whose programs or prompts are missing (its keys'
	 * problem becomes the running one only when it is taken). */
	child = find_child(conf);
	if (!judge_sandbox(conf, &sv) || !setup_accept(md, conf, child,
	    "reload refused: ")) {
		if (!sandbox_ok(&sv))
			sandbox_log(&sv, "reload refused: ");
		log_err("reload refused: keeping the running configuration");
		*error = xstrdup("the sandbox cannot be strict with this "
		    "configuration (see the log)");
		sandbox_verdict_free(&sv);
		free(child);
		conf_free(conf);
		notify_send(md, "READY=1");
		return -1;
	}
	sandbox_verdict_free(&md->sandbox);
	md->sandbox = sv;
	if (sv.mode == CONF_SANDBOX_OFF)
		sandbox_log(&sv, "reload: ");
	keep_fixed(&conf->state_dir, md->conf->state_dir, "state_dir");
	keep_fixed(&conf->control_socket, md->conf->control_socket,
	    "control_socket");
	conf_free(md->conf);
	md->conf = conf;
	log_set_level(md->verbose ? LOG_DEBUG : conf->log_level);
	*changed = confdiff_files(md->child_conf, md->conf_path);
	publish_config(md);
	if (child != NULL && strcmp(child, md->child_path) != 0)
		log_notice("reload: children start from %s from now on", child);
	free(md->child_path);
	md->child_path = child;
	providers_reload(md);
	tasks_setup_gate(md);
	log_notice("configuration reloaded from %s",
	    md->conf_path ? md->conf_path : "(defaults)");
	notify_send(md, "READY=1");
	notify_status(md);
	return 0;
}

static void
reload(struct masterd *md)
{
	json_t *changed;
	char *error;

	masterd_reload(md, &changed, &error);
	json_decref(changed);
	free(error);
}

static void
on_signal(uv_signal_t *s, int signum)
{
	struct masterd *md = s->data;

	if (signum == SIGHUP) {
		reload(md);
		return;
	}
	if (md->stopping && signum == SIGINT) {
		log_warn("second interrupt: stopping now");
		uv_stop(md->loop);
		return;
	}
	masterd_stop(md, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

static void
on_all_children_stopped(struct masterd *md)
{
	control_close(md);
	uv_close((uv_handle_t *)&md->sig_term, NULL);
	uv_close((uv_handle_t *)&md->sig_int, NULL);
	uv_close((uv_handle_t *)&md->sig_hup, NULL);
	uv_close((uv_handle_t *)&md->stop_timer, NULL);
	uv_close((uv_handle_t *)&md->tick, NULL);
	uv_close((uv_handle_t *)&md->integrate, NULL);
	uv_close((uv_handle_t *)&md->wake, NULL);
	notify_close(md);
}

/* The operator's notification commands may still be telling a task's
 * end: they finish (or meet their timeout) before the loop closes. */
static void
on_children_stopped(struct masterd *md)
{
	hooks_drain(md, on_all_children_stopped);
}

static void
on_stop_deadline(uv_timer_t *t)
{
	struct masterd *md = t->data;

	log_err("children did not stop in time; exiting anyway");
	md->exit_code = 1;
	uv_stop(md->loop);
}

void
masterd_stop(struct masterd *md, const char *why)
{
	if (md->stopping)
		return;
	md->stopping = true;
	uv_timer_stop(&md->tick);
	log_notice("stopping: %s", why);
	notify_send(md, "STOPPING=1");
	notify_status(md);
	/* shutdown, SIGTERM after half the grace, SIGKILL after the rest. */
	uv_timer_start(&md->stop_timer, on_stop_deadline,
	    (uint64_t)md->conf->stop_grace + 5000, 0);
	children_stop_all(md, on_children_stopped);
}

json_int_t
masterd_next_id(struct masterd *md)
{
	return ++md->next_id;
}

/* ---------------------------------------------------------- main */

#define TICK_MS 5000

static void
on_tick(uv_timer_t *t)
{
	struct masterd *md = t->data;

	if (!md->stopping) {
		setup_recheck(md);
		tasks_tick(md);
		providers_tick(md);
		prune_tick(md);
		/* Work and spending change between children's states. */
		notify_status(md);
	}
}

static int
start(struct masterd *md)
{
	uv_signal_init(md->loop, &md->sig_term);
	uv_signal_init(md->loop, &md->sig_int);
	uv_signal_init(md->loop, &md->sig_hup);
	md->sig_term.data = md->sig_int.data = md->sig_hup.data = md;
	uv_signal_start(&md->sig_term, on_signal, SIGTERM);
	uv_signal_start(&md->sig_int, on_signal, SIGINT);
	uv_signal_start(&md->sig_hup, on_signal, SIGHUP);
	uv_timer_init(md->loop, &md->stop_timer);
	md->stop_timer.data = md;
	uv_timer_init(md->loop, &md->tick);
	md->tick.data = md;
	signal(SIGPIPE, SIG_IGN);
	notify_init(md);
	if (open_state(md) != 0 || publish_config(md) != 0 ||
	    control_start(md) != 0)
		return -1;
	md->started_ms = uv_now(md->loop);
	providers_load(md);
	tasks_resume_all(md);
	uv_timer_start(&md->tick, on_tick, TICK_MS, TICK_MS);
	notify_send(md, "READY=1\nMAINPID=%ld", (long)getpid());
	notify_status(md);
	log_notice("masterd %s ready: state %s, socket %s, child %s",
	    MASTERD_VERSION, md->conf->state_dir, md->conf->control_socket,
	    md->child_path);
	return 0;
}

static void
close_any(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void
finish(struct masterd *md)
{
	/* After a forced stop some handles are still open. */
	uv_walk(md->loop, close_any, NULL);
	uv_run(md->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(md->loop) != 0)
		log_warn("event loop closed with handles still open");
	control_remove_socket(md);
	tasks_close(md);
	providers_free(md);
	backup_free(md);	/* before the registry it copies */
	hooks_free(md);
	pack_free(md);
	pushto_free(md);
	import_free(md);
	prune_free(md);
	checkpoint_free(md);	/* before the registry: its close is last */
	registry_close(md->reg);
	if (md->lock_fd > 0)
		close(md->lock_fd);
	free(md->notify_path);
	free(md->child_path);
	free(md->child_conf);
	free(md->conf_path);
	free(md->setup_problem);
	sandbox_verdict_free(&md->sandbox);
	conf_free(md->conf);
}

/*
 * -n: the configuration, then everything a directive will need, each
 * finding with its fix, then the sandbox's verdict.  Exit 0 only when
 * nothing is in error (warnings pass).
 */
static int
check_only(struct masterd *md, const char *used, bool sandbox_good)
{
	json_t *findings = setup_check(md->conf, md->child_path, true);
	size_t errors = setup_install_errors(findings) +
	    setup_key_errors(findings);

	printf("masterd: configuration %s is valid (%zu domains)\n",
	    used ? used : "(defaults)", md->conf->ndomains);
	setup_print(stdout, findings);
	sandbox_print(stdout, &md->sandbox);
	if (errors > 0)
		printf("masterd: %zu setup error%s: fix %s above\n", errors,
		    errors == 1 ? "" : "s", errors == 1 ? "it" : "them");
	json_decref(findings);
	sandbox_verdict_free(&md->sandbox);
	free(md->child_path);
	conf_free(md->conf);
	return sandbox_good && errors == 0 ? 0 : 1;
}

static bool
under_systemd(void)
{
	return getenv("INVOCATION_ID") != NULL ||
	    getenv("NOTIFY_SOCKET") != NULL;
}

/*
 * Each domain costs masterd a socket and a pipe or two, and each relay
 * and worker its own: systemd's soft default of 1,024 open files runs
 * out near a thousand domains.  The soft limit goes up to the hard one
 * (the unit's LimitNOFILE=); children inherit it.
 */
static void
raise_nofile(void)
{
	struct rlimit rl;
	rlim_t was;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	was = rl.rlim_cur;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		log_warn("open files: cannot raise the limit from %llu to %llu: "
		    "%s", (unsigned long long)was,
		    (unsigned long long)rl.rlim_max, strerror(errno));
		return;
	}
	log_info("open files: limit raised from %llu to %llu",
	    (unsigned long long)was, (unsigned long long)rl.rlim_max);
}

int
main(int argc, char **argv)
{
	struct options o = { 0 };
	struct masterd md = { 0 };
	uv_loop_t loop;
	const char *used;
	bool ok;

	if (util_harden_process() != 0)
		return 1;
	util_init();
	log_init("masterd", LOG_INFO);
	if (parse_flags(argc, argv, &o) != 0)
		return 2;
	if ((md.conf = load_config(&o, &used)) == NULL)
		return 1;
	/* Before daemon(3): the verdict and the exit status reach whoever
	 * started masterd. */
	ok = judge_sandbox(md.conf, &md.sandbox);
	md.child_path = find_child(md.conf);
	if (o.check_only)
		return check_only(&md, used, ok);
	log_set_level(o.verbose ? LOG_DEBUG : md.conf->log_level);
	sandbox_log(&md.sandbox, "");
	if (!ok) {
		log_err("not starting: no check may run unconfined; fix the "
		    "above, or set [masterd] sandbox = off to run checks "
		    "unconfined");
		sandbox_verdict_free(&md.sandbox);
		free(md.child_path);
		conf_free(md.conf);
		return EXIT_CONFIG;
	}
	if (!setup_accept(&md, md.conf, md.child_path, "")) {
		log_err("not starting: every domain would fail; fix the "
		    "above (masterd -n checks again)");
		sandbox_verdict_free(&md.sandbox);
		free(md.child_path);
		free(md.setup_problem);
		conf_free(md.conf);
		return EXIT_CONFIG;
	}
	/* daemon(3) moves to /: a reload must find the same file. */
	md.conf_path = used ? absolute(used) : NULL;
	md.verbose = o.verbose;
	md.foreground = o.foreground || under_systemd();
	md.lock_fd = -1;
	md.notify_fd = -1;
	TAILQ_INIT(&md.children);
	TAILQ_INIT(&md.clients);
	if (!md.foreground) {
		if (daemon(0, 0) != 0) {
			log_err("daemon: %s", strerror(errno));
			return 1;
		}
		log_use_syslog();
		/* Children inherit /dev/null as stderr: they log the same way. */
		setenv("MASTERD_LOG_SYSLOG", "1", 1);
	}
	/*
	 * Whatever the operator's umask, nothing masterd or its children
	 * create (repositories, hooks, refs, worktrees) is writable by
	 * others; a stricter umask is kept.
	 */
	umask(umask(0) | 022);
	raise_nofile();
	repo_global_init();
	uv_loop_init(&loop);
	md.loop = &loop;
	if (start(&md) != 0) {
		md.exit_code = 1;
		masterd_stop(&md, "start-up failed");
	}
	uv_run(md.loop, UV_RUN_DEFAULT);
	log_notice("stopped");
	finish(&md);
	repo_global_shutdown();
	return md.exit_code;
}
