/*
 * setup.c — the setup checks: what a directive will need, found missing
 * by `masterd -n`, at start-up and at each reload rather than at the
 * first directive, each with its fix (setup.h lists the findings).
 *
 * The install (masterd-child, masterd-worker beside it, the prompts the
 * worker reads, each domain's prompt_file) is checked as the relay and
 * the worker will look for it (common/paths.h).  The keys are checked as
 * the worker loads them (common/llm/key.c), without reading more than a
 * key's first line, which is wiped: masterd itself never holds a key.
 * Each provider conf a session may use is checked once: [llm], each
 * [domain]'s override, [critic], [planner], and every fallback they name.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/paths.h"
#include "common/util.h"
#include "daemon/masterd/sandbox.h"
#include "daemon/masterd/setup.h"

#define KEY_READ_MAX	16384	/* key.c's KEY_MAX */

/* The prompts a worker cannot do without (child/worker/prompt.c). */
static const char *const required_prompts[] = {
	"domain", "tools", "json", "critic", "compact", "planner",
};

static void
add(json_t *out, const char *check, const char *level, const char *what,
    const char *error, const char *fix)
{
	json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s*, s:s*}",
	    "check", check, "level", level, "what", what, "error", error,
	    "fix", fix));
}

/* ---------------------------------------------------------- the install */

static void
check_program(json_t *out, const char *check, const char *name,
    const char *path, const char *fix)
{
	char what[PATH_MAX + 64], err[PATH_MAX + 128];
	struct stat st;

	snprintf(what, sizeof(what), "%s %s", name, path);
	if (stat(path, &st) != 0)
		snprintf(err, sizeof(err), "%s", strerror(errno));
	else if (!S_ISREG(st.st_mode))
		snprintf(err, sizeof(err), "not a regular file");
	else if (access(path, X_OK) != 0)
		snprintf(err, sizeof(err), "not executable: %s",
		    strerror(errno));
	else {
		add(out, check, "ok", what, NULL, NULL);
		return;
	}
	add(out, check, "error", what, err, fix);
}

/* The worker the relay starts: masterd-worker beside masterd-child.  A
 * child of another name (a test's stand-in) starts none. */
static char *
relay_worker(const char *child)
{
	const char *slash = strrchr(child, '/');

	if (slash == NULL || strcmp(slash + 1, "masterd-child") != 0)
		return NULL;
	return xasprintf("%.*s/masterd-worker", (int)(slash - child), child);
}

static void
check_prompts(json_t *out, const struct masterd_conf *conf,
    const char *worker)
{
	char *dir, *p, what[PATH_MAX + 64], err[PATH_MAX + 128];
	size_t bad = 0;

	dir = conf->prompts_dir != NULL ? xstrdup(conf->prompts_dir) :
	    paths_prompts(worker);
	snprintf(what, sizeof(what), "prompts %s", dir);
	for (size_t i = 0; i < nitems(required_prompts); i++) {
		p = xasprintf("%s/%s.md", dir, required_prompts[i]);
		if (access(p, R_OK) != 0) {
			if (bad++ == 0)
				snprintf(err, sizeof(err), "cannot read %s: "
				    "%s", p, strerror(errno));
		}
		free(p);
	}
	if (bad == 0)
		add(out, "prompts", "ok", what, NULL, NULL);
	else
		add(out, "prompts", "error", what, err, conf->prompts_dir ?
		    "copy the prompts/ of the source tree there, or remove "
		    "[masterd] prompts_dir to use the installed ones" :
		    "make install (it installs DATADIR/masterd/prompts), or "
		    "set [masterd] prompts_dir to a copy of the source tree's "
		    "prompts/");
	free(dir);
}

static void
check_prompt_files(json_t *out, const struct masterd_conf *conf,
    const char *worker)
{
	char *dir, *p, what[PATH_MAX + 64], err[PATH_MAX + 128];

	dir = conf->prompts_dir != NULL ? xstrdup(conf->prompts_dir) :
	    paths_prompts(worker);
	for (size_t i = 0; i < conf->ndomains; i++) {
		const struct domain_conf *d = &conf->domains[i];

		if (d->prompt_file == NULL)
			continue;
		p = d->prompt_file[0] == '/' ? xstrdup(d->prompt_file) :
		    xasprintf("%s/%s", dir, d->prompt_file);
		snprintf(what, sizeof(what), "[domain \"%s\"] prompt_file %s",
		    d->name, p);
		if (access(p, R_OK) == 0) {
			add(out, "prompt_file", "ok", what, NULL, NULL);
		} else {
			snprintf(err, sizeof(err), "%s", strerror(errno));
			add(out, "prompt_file", "error", what, err,
			    "create the file (relative names are under "
			    "prompts_dir), or use prompt = \"...\"");
		}
		free(p);
	}
	free(dir);
}

/* ---------------------------------------------------------- keys */

/* A key's file holds one non-empty line; err says what else it holds. */
static int
key_line_ok(int fd, char *err, size_t errlen)
{
	char buf[KEY_READ_MAX];
	ssize_t n = read(fd, buf, sizeof(buf));
	size_t b = 0, e;
	int rc = -1;

	if (n < 0) {
		snprintf(err, errlen, "cannot read it: %s", strerror(errno));
		return -1;
	}
	e = (size_t)n;
	while (e > 0 && strchr("\r\n \t", buf[e - 1]) != NULL)
		e--;
	while (b < e && (buf[b] == ' ' || buf[b] == '\t'))
		b++;
	if ((size_t)n >= sizeof(buf))
		snprintf(err, errlen, "larger than a key (%d bytes or more)",
		    KEY_READ_MAX);
	else if (b == e)
		snprintf(err, errlen, "it is empty");
	else if (memchr(buf + b, '\n', e - b) != NULL ||
	    memchr(buf + b, '\0', e - b) != NULL)
		snprintf(err, errlen, "it holds more than one line");
	else
		rc = 0;
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

/* A key_file: the worker refuses one that group or others may read;
 * one another user owns is theirs to change under masterd. */
static void
check_key_file(json_t *out, const char *what, const char *path)
{
	char err[512], fix[PATH_MAX + 128];
	struct stat st;
	int fd;

	fix[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		int e = errno;

		snprintf(err, sizeof(err), "key file %s: %s", path,
		    strerror(e));
		snprintf(fix, sizeof(fix), e == ENOENT ? "write the key "
		    "into it: install -m 600 /dev/stdin %s" : "make it "
		    "readable by masterd's user: chown it to that user, "
		    "chmod 600 %s", path);
	} else if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, sizeof(err), "key file %s: not a regular file",
		    path);
		snprintf(fix, sizeof(fix), "name a file holding the key");
	} else if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		snprintf(err, sizeof(err), "key file %s is open to group or "
		    "others (mode %04o): the worker refuses it", path,
		    (unsigned)(st.st_mode & 07777));
		snprintf(fix, sizeof(fix), "chmod 600 %s", path);
	} else if (st.st_uid != geteuid()) {
		snprintf(err, sizeof(err), "key file %s belongs to uid %ld, "
		    "not to masterd's uid %ld", path, (long)st.st_uid,
		    (long)geteuid());
		snprintf(fix, sizeof(fix), "chown it to the user masterd runs "
		    "as (uid %ld)", (long)geteuid());
	} else if (key_line_ok(fd, err, sizeof(err)) != 0) {
		char why[400];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, sizeof(err), "key file %s: %s", path, why);
		snprintf(fix, sizeof(fix), "write the key alone on one line "
		    "into %s", path);
	}
	if (fd >= 0)
		close(fd);
	if (fix[0] == '\0')
		add(out, "key", "ok", what, NULL, NULL);
	else
		add(out, "key", "error", what, err, fix);
}

static void
check_credential(json_t *out, const char *what, const char *name, bool here)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char path[PATH_MAX], err[PATH_MAX + 128], fix[256];
	int fd;

	snprintf(fix, sizeof(fix), "LoadCredential=%s:/path/to/key (or "
	    "LoadCredentialEncrypted=) in masterd.service", name);
	if (dir == NULL || *dir == '\0') {
		if (here) {
			add(out, "key", "warning", what, "not checked: "
			    "$CREDENTIALS_DIRECTORY is set only in the "
			    "service systemd starts", fix);
			return;
		}
		add(out, "key", "error", what, "$CREDENTIALS_DIRECTORY is not "
		    "set: masterd was not started with the credential", fix);
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		snprintf(err, sizeof(err), "credential %s: %s", name,
		    strerror(errno));
		add(out, "key", "error", what, err, fix);
		return;
	}
	if (key_line_ok(fd, err, sizeof(err)) != 0) {
		char why[400];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, sizeof(err), "credential %s: %s", name, why);
		add(out, "key", "error", what, err, "put the key alone on one "
		    "line in the credential's file");
	} else {
		add(out, "key", "ok", what, NULL, NULL);
	}
	close(fd);
}

static void
check_key_env(json_t *out, const char *what, const char *var)
{
	const char *v = getenv(var);
	char err[256];

	if (v != NULL && *v != '\0' && strchr(v, '\n') == NULL) {
		add(out, "key", "ok", what, NULL, NULL);
		return;
	}
	snprintf(err, sizeof(err), "environment variable %s, named by "
	    "key_env, is %s in masterd's environment", var, v == NULL ||
	    *v == '\0' ? "not set" : "more than one line");
	add(out, "key", "error", what, err, "set it where masterd starts "
	    "(systemd: Environment= or EnvironmentFile= in a drop-in, "
	    "systemctl edit masterd), or use key_file or key_credential");
}

/* No key source: the API's variable, which a local server may go
 * without; the public endpoint will refuse every call. */
static void
check_default_key(json_t *out, const char *what, const struct llm_conf *l)
{
	const char *var = conf_provider_default_key_env(l->provider);
	const char *v = getenv(var);
	char err[256], fix[256];

	if (v != NULL && *v != '\0') {
		add(out, "key", "ok", what, NULL, NULL);
		return;
	}
	if (l->base_url != NULL && *l->base_url != '\0') {
		add(out, "key", "ok", what, NULL, NULL);	/* none needed */
		return;
	}
	snprintf(err, sizeof(err), "no key: none of key_env, key_file, "
	    "key_credential is set and %s is not, so the public endpoint "
	    "will refuse every call", var);
	snprintf(fix, sizeof(fix), "set key_file (a 0600 file), "
	    "key_credential or key_env, or export %s", var);
	add(out, "key", "warning", what, err, fix);
}

/* One provider conf's key, unless an earlier conf had the same source. */
static void
check_key(json_t *out, json_t *seen, const char *label,
    const struct llm_conf *l, bool here)
{
	char endpoint[320], source[PATH_MAX + 64], what[PATH_MAX + 512];

	conf_llm_endpoint(l, endpoint, sizeof(endpoint));
	if (l->key_credential != NULL)
		snprintf(source, sizeof(source), "key_credential %s",
		    l->key_credential);
	else if (l->key_file != NULL)
		snprintf(source, sizeof(source), "key_file %s", l->key_file);
	else if (l->key_env != NULL)
		snprintf(source, sizeof(source), "key_env %s", l->key_env);
	else
		snprintf(source, sizeof(source), "no key source, %s",
		    conf_provider_default_key_env(l->provider));
	snprintf(what, sizeof(what), "%s key (%s; %s)", label, source,
	    endpoint);
	if (json_object_get(seen, what + strlen(label)) != NULL)
		return;
	json_object_set_new(seen, what + strlen(label), json_true());
	if (l->key_credential != NULL)
		check_credential(out, what, l->key_credential, here);
	else if (l->key_file != NULL)
		check_key_file(out, what, l->key_file);
	else if (l->key_env != NULL)
		check_key_env(out, what, l->key_env);
	else
		check_default_key(out, what, l);
}

static void
check_chain(json_t *out, json_t *seen, const struct masterd_conf *conf,
    const char *role, const char *domain, bool here)
{
	struct llm_chain ch;
	char label[80];

	conf_llm_chain(conf, role, domain, &ch);
	for (size_t i = 0; i < ch.n; i++) {
		if (i > 0)
			snprintf(label, sizeof(label), "[llm \"%s\"]",
			    ch.name[i]);
		else if (strcmp(role, "domain") != 0)
			snprintf(label, sizeof(label), "[%s]", role);
		else if (domain != NULL)
			snprintf(label, sizeof(label), "[domain \"%s\"]",
			    domain);
		else
			snprintf(label, sizeof(label), "[llm]");
		check_key(out, seen, label, &ch.conf[i], here);
	}
}

json_t *
setup_check_keys(const struct masterd_conf *conf, bool here)
{
	json_t *out = json_array(), *seen = json_object();

	check_chain(out, seen, conf, "domain", NULL, here);
	for (size_t i = 0; i < conf->ndomains; i++)
		check_chain(out, seen, conf, "domain", conf->domains[i].name,
		    here);
	check_chain(out, seen, conf, "critic", NULL, here);
	check_chain(out, seen, conf, "planner", NULL, here);
	json_decref(seen);
	return out;
}

json_t *
setup_check(const struct masterd_conf *conf, const char *child, bool here)
{
	json_t *out = json_array(), *keys;
	char *worker;

	check_program(out, "child", "masterd-child", child, conf->child_path ?
	    "fix [masterd] child_path, or remove it to use the installed "
	    "masterd-child" : "make install (with the PREFIX masterd was "
	    "built for), or set [masterd] child_path");
	if ((worker = relay_worker(child)) != NULL)
		check_program(out, "worker", "masterd-worker", worker,
		    "install masterd-worker beside masterd-child (make "
		    "install puts both in LIBEXECDIR/masterd)");
	else
		worker = sandbox_worker_path(conf);
	check_prompts(out, conf, worker);
	check_prompt_files(out, conf, worker);
	free(worker);
	keys = setup_check_keys(conf, here);
	json_array_extend(out, keys);
	json_decref(keys);
	return out;
}

/* ---------------------------------------------------------- verdicts */

static size_t
count_errors(const json_t *findings, bool keys)
{
	const json_t *f;
	size_t i, n = 0;

	json_array_foreach(findings, i, f) {
		if (strcmp(jget_str(f, "level"), "error") == 0 &&
		    (strcmp(jget_str(f, "check"), "key") == 0) == keys)
			n++;
	}
	return n;
}

size_t
setup_install_errors(const json_t *findings)
{
	return count_errors(findings, false);
}

size_t
setup_key_errors(const json_t *findings)
{
	return count_errors(findings, true);
}

char *
setup_key_problem(const json_t *findings)
{
	const json_t *f;
	size_t i;

	json_array_foreach(findings, i, f) {
		if (strcmp(jget_str(f, "check"), "key") == 0 &&
		    strcmp(jget_str(f, "level"), "error") == 0)
			return xasprintf("setup: %s: %s; fix: %s",
			    jget_str(f, "what"), jget_str(f, "error"),
			    jget_str(f, "fix"));
	}
	return NULL;
}

void
setup_print(FILE *fp, const json_t *findings)
{
	const json_t *f;
	size_t i;

	json_array_foreach(findings, i, f) {
		const char *level = jget_str(f, "level");

		if (strcmp(level, "ok") == 0) {
			fprintf(fp, "ok: %s\n", jget_str(f, "what"));
			continue;
		}
		fprintf(fp, "%s: %s: %s\n  fix: %s\n", level,
		    jget_str(f, "what"), jget_str(f, "error"),
		    jget_str(f, "fix"));
	}
}

void
setup_log(const json_t *findings, const char *prefix)
{
	const json_t *f;
	size_t i;

	json_array_foreach(findings, i, f) {
		const char *level = jget_str(f, "level");

		if (strcmp(level, "ok") == 0)
			continue;
		if (strcmp(level, "error") == 0)
			log_err("%s%s: %s; fix: %s", prefix,
			    jget_str(f, "what"), jget_str(f, "error"),
			    jget_str(f, "fix"));
		else
			log_warn("%s%s: %s; fix: %s", prefix,
			    jget_str(f, "what"), jget_str(f, "error"),
			    jget_str(f, "fix"));
	}
}
