/*
 * import.c — the `import` request: an existing repository's history sent
 * up by masterctl as a git pack, in chunks, for a task to start from
 * (issue #18, `masterctl submit --repo`).  masterctl, running as the
 * user, reads the user's repository and packs a branch of it; masterd,
 * which may not read the user's home, only ever sees the pack.
 *
 * The pack is written under the state directory and held by the
 * connection that sends it (control_file_set), one per connection: its
 * end removes the file, and so does the `submit` that takes it
 * (import_take).  Chunks come in order, each at the offset where the
 * last one ended, so a lost or repeated chunk is refused, not spliced.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/masterd/masterd.h"

#define IMPORT_PREFIX	"import-"
#define IMPORT_SUFFIX	".pack"

/* The token of the connection's import (the file's name between prefix
 * and suffix), or NULL when it holds none. */
static const char *
held_token(struct ctl_client *cl, char *buf, size_t len)
{
	const char *path = control_file_get(cl), *base, *p;
	size_t n;

	if (path == NULL || (base = strrchr(path, '/')) == NULL ||
	    strncmp(++base, IMPORT_PREFIX, strlen(IMPORT_PREFIX)) != 0)
		return NULL;
	p = base + strlen(IMPORT_PREFIX);
	n = strlen(p);
	if (n <= strlen(IMPORT_SUFFIX) || n - strlen(IMPORT_SUFFIX) >= len)
		return NULL;
	memcpy(buf, p, n - strlen(IMPORT_SUFFIX));
	buf[n - strlen(IMPORT_SUFFIX)] = '\0';
	return buf;
}

/* offset 0 starts a new file (replacing any the connection held). */
static int
open_for(struct masterd *md, struct ctl_client *cl, json_int_t offset,
    char *why, size_t len)
{
	const char *path;
	char *fresh, tok[64];
	int fd;

	if (offset == 0) {
		fresh = xasprintf("%s/" IMPORT_PREFIX "%ld-%lld" IMPORT_SUFFIX,
		    md->conf->state_dir, (long)getpid(),
		    (long long)masterd_next_id(md));
		fd = open(fresh, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			snprintf(why, len, "%s: %s", fresh, strerror(errno));
			free(fresh);
			return -1;
		}
		control_file_set(cl, fresh);
		return fd;
	}
	if (held_token(cl, tok, sizeof(tok)) == NULL) {
		snprintf(why, len, "no import in progress on this connection "
		    "(start at offset 0)");
		return -1;
	}
	path = control_file_get(cl);
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)) < 0)
		snprintf(why, len, "%s: %s", path, strerror(errno));
	return fd;
}

void
import_request(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	json_int_t offset = json_integer_value(json_object_get(req, "offset"));
	const char *data = json_string_value(json_object_get(req, "data"));
	unsigned char *buf = NULL;
	char why[512], tok[64];
	struct stat st;
	ssize_t n;
	json_t *r;
	int fd;

	if (data == NULL) {
		control_reply(cl, msg_reply_error(id, ERR_BAD_REQUEST,
		    "import: give offset and data (base64)"));
		return;
	}
	buf = xmalloc(strlen(data) + 1);
	if ((n = base64_decode(data, strlen(data), buf)) < 0) {
		control_reply(cl, msg_reply_error(id, ERR_BAD_REQUEST,
		    "import: data is not base64"));
		goto out;
	}
	if ((fd = open_for(md, cl, offset, why, sizeof(why))) < 0) {
		control_reply(cl, msg_reply_error(id, offset == 0 ?
		    ERR_STORAGE : ERR_CONFLICT, "import: %s", why));
		goto out;
	}
	if (fstat(fd, &st) != 0 || st.st_size != offset) {
		close(fd);
		control_reply(cl, msg_reply_error(id, ERR_CONFLICT,
		    "import: offset %lld, but %lld bytes are in", (long long)
		    offset, (long long)st.st_size));
		goto out;
	}
	if (offset + n > IMPORT_MAX_BYTES) {
		close(fd);
		control_file_set(cl, NULL);
		control_reply(cl, msg_reply_error(id, ERR_BAD_REQUEST,
		    "import: a pack of at most %lld bytes",
		    (long long)IMPORT_MAX_BYTES));
		goto out;
	}
	if (write_all(fd, buf, (size_t)n) != 0 || close(fd) != 0) {
		log_warn("import: %s: %s", control_file_get(cl),
		    strerror(errno));
		control_file_set(cl, NULL);
		control_reply(cl, msg_reply_error(id, ERR_STORAGE,
		    "import: writing the pack: %s", strerror(errno)));
		goto out;
	}
	r = msg_reply_ok(id);
	json_object_set_new(r, "token", json_string(held_token(cl, tok,
	    sizeof(tok))));
	json_object_set_new(r, "size", json_integer(offset + n));
	control_reply(cl, r);
out:
	free(buf);
}

const char *
import_take(struct ctl_client *cl, const char *token)
{
	char tok[64];

	if (token == NULL || held_token(cl, tok, sizeof(tok)) == NULL ||
	    strcmp(tok, token) != 0)
		return NULL;
	return control_file_get(cl);
}
