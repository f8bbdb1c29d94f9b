/*
 * key.c — where an API key comes from, and the headers that carry it.
 *
 * One source per provider conf: an environment variable (key_env, or the
 * API's default such as OPENAI_API_KEY), a file (key_file, refused when
 * its group or others may read it), or a systemd credential
 * ($CREDENTIALS_DIRECTORY/<key_credential>).  Without any configured
 * source and with the default variable unset, no key is sent: a local
 * server needs none.  The key's bytes are wiped before their memory is
 * freed; messages name the source, never the key.  A caller that keeps
 * keys out of what it sends and stores gets them through
 * llm_conf_redact_key.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "common/llm/impl.h"
#include "common/redact.h"

#define KEY_MAX	16384

void
llm_key_free(char *key)
{
	if (key == NULL)
		return;
	explicit_bzero(key, strlen(key));
	free(key);
}

/* The key without surrounding whitespace (files end in a newline). */
static char *
key_dup(const char *s, size_t n)
{
	char *k;

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' ||
	    s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	if (n == 0 || memchr(s, '\n', n) != NULL || memchr(s, '\0', n) != NULL)
		return NULL;
	k = xmalloc(n + 1);
	memcpy(k, s, n);
	k[n] = '\0';
	return k;
}

static int
key_from_file(const char *path, bool check_mode, char **key, char *err,
    size_t errlen)
{
	char buf[KEY_MAX];
	struct stat st;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		snprintf(err, errlen, "key file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "key file %s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (check_mode && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		snprintf(err, errlen, "key file %s is open to group or others "
		    "(mode %04o): chmod 600 it", path,
		    (unsigned)(st.st_mode & 07777));
		close(fd);
		return -1;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		snprintf(err, errlen, "key file %s: %s", path, n < 0 ?
		    strerror(errno) : "too large");
		explicit_bzero(buf, sizeof(buf));
		return -1;
	}
	*key = key_dup(buf, (size_t)n);
	explicit_bzero(buf, sizeof(buf));
	if (*key == NULL) {
		snprintf(err, errlen, "key file %s holds no single-line key",
		    path);
		return -1;
	}
	return 0;
}

static int
key_from_credential(const char *name, char **key, char **source,
    char *err, size_t errlen)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char path[4096];

	if (dir == NULL || *dir == '\0') {
		snprintf(err, errlen, "credential %s: CREDENTIALS_DIRECTORY is "
		    "not set (LoadCredential= in the unit)", name);
		return -1;
	}
	if (strchr(name, '/') != NULL) {
		snprintf(err, errlen, "credential %s: a name, not a path",
		    name);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	/* systemd makes the file readable by the service alone. */
	if (key_from_file(path, false, key, err, errlen) != 0)
		return -1;
	*source = xasprintf("credential %s", name);
	return 0;
}

int
llm_key_load(const struct llm_conf *c, const struct llm_api *api,
    char **key, char **source, char *err, size_t errlen)
{
	const char *var = c->key_env != NULL ? c->key_env :
	    api->default_key_env;
	const char *v;

	*key = *source = NULL;
	/* A key where a name belongs: neither looked up nor echoed. */
	if (c->key_env != NULL && !conf_key_env_ok(c->key_env)) {
		snprintf(err, errlen, KEY_ENV_NOT_A_NAME);
		return -1;
	}
	if (c->key_credential != NULL)
		return key_from_credential(c->key_credential, key, source,
		    err, errlen);
	if (c->key_file != NULL) {
		if (key_from_file(c->key_file, true, key, err, errlen) != 0)
			return -1;
		*source = xasprintf("key file %s", c->key_file);
		return 0;
	}
	v = getenv(var);
	*source = xasprintf("environment variable %s", var);
	if (v == NULL || *v == '\0') {
		/* Named in the conf: a missing key is a mistake. */
		if (c->key_env != NULL) {
			snprintf(err, errlen, "environment variable %s, named "
			    "by key_env, is not set", var);
			free(*source);
			*source = NULL;
			return -1;
		}
		return 0;
	}
	if ((*key = key_dup(v, strlen(v))) == NULL) {
		snprintf(err, errlen, "environment variable %s holds no "
		    "single-line key", var);
		return -1;
	}
	return 0;
}

int
llm_header_add(struct curl_slist **h, const char *name, const char *prefix,
    const char *value)
{
	char *line = xasprintf("%s: %s%s", name, prefix, value);
	struct curl_slist *n = curl_slist_append(*h, line);

	explicit_bzero(line, strlen(line));
	free(line);
	if (n == NULL)
		return -1;
	*h = n;
	return 0;
}

int
llm_bearer_headers(const struct llm_session *s, struct curl_slist **h)
{
	if (s->key != NULL && llm_header_add(h, "Authorization", "Bearer ",
	    s->key) != 0)
		return -1;
	return 0;
}

void
llm_headers_free(struct curl_slist *h)
{
	for (struct curl_slist *p = h; p != NULL; p = p->next)
		explicit_bzero(p->data, strlen(p->data));
	curl_slist_free_all(h);
}

void
llm_conf_redact_key(const struct llm_conf *c, struct redact *r)
{
	const struct llm_api *api = llm_api_find(c->provider);
	char *key, *source, err[256];

	if (api == NULL || llm_key_load(c, api, &key, &source, err,
	    sizeof(err)) != 0)
		return;
	redact_add(r, key);
	llm_key_free(key);
	free(source);
}
