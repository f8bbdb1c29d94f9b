/*
 * tools.c — the tools a domain's model calls: their schemas for the
 * provider layer, their arguments, and the synchronous ones run against
 * the domain's folder (run_checks and finish belong to the round).
 *
 * Everything a tool sends back is written for the model: results say
 * what was done and where output was cut; errors start with the tool's
 * name, name the argument or path at fault and say what to do instead.
 * No tool trusts a path: each goes through path.h, relative to the
 * domain folder, with .git out of reach and no symlink followed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "child/worker/path.h"
#include "child/worker/tools.h"
#include "child/worker/tree.h"
#include "common/iface.h"
#include "common/shape.h"
#include "common/util.h"

#define FILE_MAX	(8 * 1024 * 1024)	/* a file a tool reads */
#define WRITE_MAX	(1024 * 1024)		/* content write_file takes */
#define SEARCH_FILE_MAX	(1024 * 1024)		/* bigger files: not searched */
#define SEARCH_TOTAL_MAX (32 * 1024 * 1024)	/* bytes one search reads */
#define SEARCH_LINE_MAX	200			/* bytes of a matching line */
#define PATTERN_MAX	1024

/* ------------------------------------------------------------ calls */

/* One call: its tool, its arguments, and its first failure. */
struct call {
	struct tool_ctx *ctx;
	const char *tool;
	const json_t *args;
	char *err;
};

/* Fail the call (the first failure counts); NULL for the tool to
 * return. */
static char * __attribute__((format(printf, 2, 3)))
failf(struct call *c, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (c->err != NULL)
		return NULL;
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	c->err = xasprintf("%s: %s", c->tool, msg);
	free(msg);
	return NULL;
}

/* A string argument; NULL when absent (a failure when required). */
static const char *
arg_str(struct call *c, const char *field, bool required)
{
	const json_t *v = json_object_get(c->args, field);

	if (v == NULL || json_is_null(v)) {
		if (required)
			failf(c, "%s: required string", field);
		return NULL;
	}
	if (!json_is_string(v))
		return failf(c, "%s: must be a string, not %s", field,
		    shape_type_of(v));
	if (strlen(json_string_value(v)) != json_string_length(v))
		return failf(c, "%s: contains a NUL character", field);
	return json_string_value(v);
}

/* A line number argument (1-based); 0 when absent. */
static long
arg_line(struct call *c, const char *field)
{
	const json_t *v = json_object_get(c->args, field);

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > INT_MAX) {
		failf(c, "%s: must be a line number (1 or more)", field);
		return 0;
	}
	return (long)json_integer_value(v);
}

/* A path argument normalised into norm; NULL when absent. */
static const char *
arg_path(struct call *c, const char *field, bool required,
    char norm[PATH_MAX])
{
	const char *p = arg_str(c, field, required), *why;

	if (p == NULL)
		return NULL;
	if (path_normalise(p, PATH_DENY_GIT, norm, PATH_MAX, &why) != 0)
		return failf(c, "%s: %s", p, why);
	return norm;
}

static void
mark(json_t *set, const char *path)
{
	json_object_set_new(set, path, json_true());
}

/* Why a path could not be opened, in the model's words. */
static const char *
open_failure(int err, const char *why)
{
	switch (err) {
	case ENOENT:
		return "no such file";
	case EISDIR:
		return "is a folder, not a file";
	case ENXIO:		/* a FIFO with no reader */
		return "not a regular file";
	default:
		return why != NULL ? why : strerror(err);
	}
}

static long
count_lines(const char *s, size_t len)
{
	long n = 0;

	for (size_t i = 0; i < len; i++)
		n += s[i] == '\n';
	return n + (len > 0 && s[len - 1] != '\n');
}

/* ------------------------------------------------------------ list_files */

static char *
run_list(struct call *c)
{
	char norm[PATH_MAX];
	const char *sub = arg_path(c, "path", false, norm), *why;
	struct tbuf out = { 0 };
	struct tree t;
	size_t n;

	if (c->err != NULL)
		return NULL;
	if (tree_walk(c->ctx->dirfd, sub, &t, &why) != 0)
		return failf(c, "%s: %s", sub != NULL ? sub : ".", why);
	if (t.n == 0)
		tbuf_add(&out, "(no files)\n");
	n = t.n < c->ctx->lim.list_max ? t.n : c->ctx->lim.list_max;
	for (size_t i = 0; i < n; i++)
		tbuf_add(&out, "%lld %s\n", (long long)t.v[i].size,
		    t.v[i].path);
	if (n < t.n || t.truncated)
		tbuf_add(&out, "[cut at %zu files%s: list a subfolder]\n", n,
		    t.truncated ? ", more not counted" : "");
	tree_free(&t);
	return tbuf_take(&out);
}

/* ------------------------------------------------------------ read_file */

/* The bytes this round may still read. */
static size_t
read_room(const struct tool_ctx *ctx)
{
	size_t left = ctx->bytes_read < ctx->lim.round_read ?
	    ctx->lim.round_read - ctx->bytes_read : 0;

	return left < ctx->lim.read_max ? left : ctx->lim.read_max;
}

/*
 * Lines start..end (0: to the end) of text as "   12| line", at most cap
 * bytes.  *next is the first line not shown when cut, else 0; *total the
 * lines of the text.
 */
static void
number_lines(struct tbuf *out, const char *text, size_t len, long start,
    long end, size_t cap, long *next, long *total)
{
	const char *p = text, *eol, *stop = text + len;
	char head[24];
	long n = 0;
	size_t ll, hl;

	*next = 0;
	for (; p < stop; p = eol + 1) {
		if ((eol = memchr(p, '\n', (size_t)(stop - p))) == NULL)
			eol = stop;
		if (++n < start)
			continue;
		if (end != 0 && n > end)
			break;
		ll = (size_t)(eol - p);
		hl = (size_t)snprintf(head, sizeof(head), "%5ld| ", n);
		if (out->len + hl + ll + 1 > cap) {
			*next = n;
			/* A first line longer than the cap is shown cut. */
			if (out->len == 0 && hl + 1 < cap) {
				tbuf_addn(out, head, hl);
				tbuf_addn(out, p, utf8_prefix(p, cap - hl - 1));
				tbuf_addn(out, "\n", 1);
				*next = n + 1;
			}
			break;
		}
		tbuf_addn(out, head, hl);
		tbuf_addn(out, p, ll);
		tbuf_addn(out, "\n", 1);
		if (eol == stop)
			break;
	}
	*total = n;
}

static char *
run_read(struct call *c)
{
	struct tool_ctx *ctx = c->ctx;
	char norm[PATH_MAX], *buf;
	const char *path = arg_path(c, "path", true, norm), *why;
	long start = arg_line(c, "start"), end = arg_line(c, "end");
	long next, total;
	struct tbuf out = { 0 };
	size_t len, cap;

	if (c->err != NULL)
		return NULL;
	if (start == 0)
		start = 1;
	if (end != 0 && end < start)
		return failf(c, "end: line %ld is before start (line %ld)",
		    end, start);
	if ((cap = read_room(ctx)) == 0)
		return failf(c, "read limit (%zu bytes per round) reached: "
		    "work with what you have read, or call finish",
		    ctx->lim.round_read);
	if (tree_read(ctx->dirfd, path, FILE_MAX, &buf, &len, &why) != 0)
		return failf(c, "%s: %s", path, why);
	if (tree_is_binary(buf, len)) {
		free(buf);
		return xasprintf("(%s is a binary file of %zu bytes: not "
		    "shown)\n", path, len);
	}
	utf8_scrub(buf, len);
	number_lines(&out, buf, len, start, end, cap, &next, &total);
	free(buf);
	if (len == 0)
		tbuf_add(&out, "(%s is empty)\n", path);
	else if (out.len == 0) {
		free(tbuf_take(&out));
		if (next != 0)
			return failf(c, "read limit (%zu bytes per round) "
			    "reached: work with what you have read, or call "
			    "finish", ctx->lim.round_read);
		return failf(c, "start: line %ld is past the end of %s (%ld "
		    "lines)", start, path, total);
	}
	if (next != 0)
		tbuf_add(&out, "[cut at %zu bytes%s: read lines %ld- with "
		    "start/end]\n", cap, cap < ctx->lim.read_max ?
		    " (the rest of this round's read limit)" : "", next);
	ctx->bytes_read += out.len;
	mark(ctx->shown, path);
	return tbuf_take(&out);
}

/* ------------------------------------------------------------ search */

/* One search: its pattern, what it found, why it stopped early. */
struct search {
	regex_t re;
	struct tbuf out;
	size_t matches;
	size_t scanned;		/* bytes of files read */
	bool capped;		/* search_max matches found */
	bool tired;		/* SEARCH_TOTAL_MAX bytes read */
};

/* Each line of one file that matches, as "path:line: text".  A file
 * the model named must be readable; others are skipped when not. */
static void
search_file(struct call *c, struct search *s, const char *path, bool named)
{
	char *buf, *p, *eol, *stop;
	const char *why;
	size_t len, cut;
	long n = 0;

	if (tree_read(c->ctx->dirfd, path, SEARCH_FILE_MAX, &buf, &len,
	    &why) != 0) {
		if (named)
			failf(c, "%s: %s", path, why);
		return;
	}
	s->tired = (s->scanned += len) > SEARCH_TOTAL_MAX;
	if (tree_is_binary(buf, len)) {
		free(buf);
		return;
	}
	utf8_scrub(buf, len);
	for (p = buf, stop = buf + len; p < stop; p = eol + 1) {
		if ((eol = memchr(p, '\n', (size_t)(stop - p))) == NULL)
			eol = stop;
		*eol = '\0';
		n++;
		if (regexec(&s->re, p, 0, NULL, 0) != 0)
			continue;
		if ((s->capped = s->matches == c->ctx->lim.search_max))
			break;
		s->matches++;
		cut = utf8_prefix(p, SEARCH_LINE_MAX);
		tbuf_add(&s->out, "%s:%ld: %.*s%s\n", path, n, (int)cut, p,
		    p[cut] != '\0' ? " [line cut]" : "");
	}
	free(buf);
}

/* Back-references can make a match take exponential time. */
static bool
has_backref(const char *pattern)
{
	for (const char *p = pattern; *p != '\0'; p++) {
		if (*p != '\\')
			continue;
		if (p[1] >= '1' && p[1] <= '9')
			return true;
		if (p[1] != '\0')
			p++;	/* in "\\1": a backslash, then 1 */
	}
	return false;
}

static char *
run_search(struct call *c)
{
	char norm[PATH_MAX], msg[256];
	const char *pattern = arg_str(c, "pattern", true);
	const char *sub = arg_path(c, "path", false, norm), *why;
	struct search s = { .matches = 0 };
	struct tree t;
	int rc;

	if (c->err != NULL)
		return NULL;
	if (*pattern == '\0' || strlen(pattern) > PATTERN_MAX)
		return failf(c, "pattern: must be 1 to %d bytes", PATTERN_MAX);
	if (has_backref(pattern))
		return failf(c, "pattern: back-references (\\1...) are not "
		    "supported");
	if ((rc = regcomp(&s.re, pattern, REG_EXTENDED | REG_NEWLINE |
	    REG_NOSUB)) != 0) {
		regerror(rc, &s.re, msg, sizeof(msg));
		return failf(c, "pattern: bad regex: %s", msg);
	}
	if (tree_walk(c->ctx->dirfd, sub, &t, &why) != 0) {
		if (errno == ENOTDIR)	/* a file: search it alone */
			search_file(c, &s, sub, true);
		else
			failf(c, "%s: %s", sub, why);
	}
	for (size_t i = 0; i < t.n && !s.capped && !s.tired; i++)
		search_file(c, &s, t.v[i].path, false);
	tree_free(&t);
	regfree(&s.re);
	if (c->err != NULL) {
		free(s.out.s);
		return NULL;
	}
	if (s.matches == 0)
		tbuf_add(&s.out, "(no match)\n");
	if (s.capped)
		tbuf_add(&s.out, "[cut at %zu matches: narrow the pattern or "
		    "the path]\n", s.matches);
	else if (s.tired)
		tbuf_add(&s.out, "[stopped after %d MiB of files: give a path "
		    "to search fewer]\n", SEARCH_TOTAL_MAX / (1024 * 1024));
	return tbuf_take(&s.out);
}

/* ------------------------------------------------------------ changes */

static char *
run_write(struct call *c)
{
	const unsigned opts = PATH_DENY_GIT | PATH_MKDIRS;
	char norm[PATH_MAX];
	const char *path = arg_path(c, "path", true, norm);
	const char *content = arg_str(c, "content", true), *why = NULL;
	struct stat st;
	size_t len;
	int fd, rc;

	if (c->err != NULL)
		return NULL;
	if ((len = strlen(content)) > WRITE_MAX)
		return failf(c, "content: over %d bytes: split the file",
		    WRITE_MAX);
	/* O_NONBLOCK: a FIFO planted by a check must not hang the worker;
	 * truncated only once it is known to be a regular file. */
	fd = path_open_beneath(c->ctx->dirfd, path, O_WRONLY | O_CREAT |
	    O_NONBLOCK, 0644, opts, &why);
	if (fd < 0)
		return failf(c, "%s: %s", path, open_failure(errno, why));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return failf(c, "%s: not a regular file", path);
	}
	rc = ftruncate(fd, 0) == 0 ? write_all(fd, content, len) : -1;
	if (close(fd) != 0 || rc != 0)
		return failf(c, "%s: %s", path, strerror(errno));
	mark(c->ctx->shown, path);
	mark(c->ctx->changed, path);
	return xasprintf("wrote %s (%zu bytes, %ld lines)\n", path, len,
	    count_lines(content, len));
}

static char *
run_edit(struct call *c)
{
	char norm[PATH_MAX], *why;
	const char *path = arg_path(c, "path", true, norm);
	const char *old = arg_str(c, "old", true);
	const char *new = arg_str(c, "new", true);

	if (c->err != NULL)
		return NULL;
	if (tools_edit(c->ctx->dirfd, path, old, new, &why) != 0) {
		failf(c, "%s", why);
		free(why);
		return NULL;
	}
	mark(c->ctx->changed, path);
	return xasprintf("edited %s: %ld lines replaced by %ld\n", path,
	    count_lines(old, strlen(old)), count_lines(new, strlen(new)));
}

static char *
run_delete(struct call *c)
{
	char norm[PATH_MAX];
	const char *path = arg_path(c, "path", true, norm), *why = NULL;

	if (c->err != NULL)
		return NULL;
	if (path_unlink_beneath(c->ctx->dirfd, path, PATH_DENY_GIT,
	    &why) != 0)
		return failf(c, "%s: %s", path, open_failure(errno, why));
	mark(c->ctx->changed, path);
	json_object_del(c->ctx->shown, path);
	return xasprintf("deleted %s\n", path);
}

/* ------------------------------------------------------------ peers */

/* A peer's document: the registry's row has it as "document". */
static const json_t *
peer_document(const json_t *peer)
{
	const json_t *doc = json_object_get(peer, "document");

	return doc != NULL ? doc : json_object_get(peer, "interface");
}

static char *
run_peers(struct call *c)
{
	const char *want = arg_str(c, "domain", false), *d;
	json_t *docs, *names, *peer;
	char *s, *list;
	size_t i;

	if (c->err != NULL)
		return NULL;
	docs = json_array();
	names = json_array();
	json_array_foreach(c->ctx->peers, i, peer) {
		if ((d = jget_str(peer, "domain")) == NULL ||
		    !json_is_object(peer_document(peer)))
			continue;
		json_array_append_new(names, json_string(d));
		if (want == NULL || strcmp(want, d) == 0)
			json_array_append(docs, (json_t *)peer_document(peer));
	}
	if (json_array_size(docs) > 0)
		s = json_dumps(want != NULL ? json_array_get(docs, 0) : docs,
		    JSON_INDENT(2));
	else if (json_array_size(names) == 0)
		s = xstrdup("(no peer has published yet)");
	else {
		list = json_dumps(names, JSON_COMPACT);
		failf(c, "domain: no peer \"%s\" has published (peers that "
		    "have: %s)", want, list);
		free(list);
		s = NULL;
	}
	json_decref(docs);
	json_decref(names);
	return s;
}

/* ------------------------------------------------------------ the table */

#define PATH_PROP(what) \
	"\"path\": {\"type\": \"string\", \"description\": \"" what "\"}"
/* ------------------------------------------------------------ ask_user */

#define ASK_MAX		4		/* questions per round */
#define ASK_BYTES	4096		/* a question or an assumption */
#define ASK_WAIT_MAX	(365 * 86400)	/* a question's own timeout, s */

/* A question for the user: kept for the round's final report (masterd
 * stores it; the domain waits, needs-input, for the answer or the
 * deadline, and gets it as its next directive). */
static char *
run_ask(struct call *c)
{
	const char *q = arg_str(c, "question", true);
	const char *a = arg_str(c, "assumption", false);
	const json_t *w = json_object_get(c->args, "timeout");
	json_t *entry;

	if (c->err != NULL)
		return NULL;
	if (w != NULL && !json_is_null(w) && (!json_is_integer(w) ||
	    json_integer_value(w) < 1 || json_integer_value(w) > ASK_WAIT_MAX))
		return failf(c, "timeout: seconds, 1 to %d", ASK_WAIT_MAX);
	if (*q == '\0' || strlen(q) > ASK_BYTES || (a != NULL &&
	    strlen(a) > ASK_BYTES))
		return failf(c, "question and assumption: 1 to %d bytes each",
		    ASK_BYTES);
	if (json_array_size(c->ctx->questions) >= ASK_MAX)
		return failf(c, "at most %d questions a round: finish now",
		    ASK_MAX);
	entry = json_pack("{s:s, s:s*}", "text", q, "assumption", a);
	if (json_is_integer(w))
		json_object_set(entry, "timeout", (json_t *)w);
	json_array_append_new(c->ctx->questions, entry);
	return xstrdup("The question goes to the user when this round ends. "
	    "Finish the round now (finish, with what you have done so far); "
	    "the answer, or the word to go on with your assumption, comes as "
	    "your next directive.");
}

struct tool {
	const char *name;
	enum tool_kind kind;
	char *(*run)(struct call *);
	const char *description;
	const char *parameters;		/* JSON schema, as text */
};

static const struct tool tools[] = {
	{ "list_files", TOOL_SYNC, run_list,
	  "List the files of your domain's folder, recursively, sorted by "
	  "path, one per line as \"SIZE PATH\" (bytes, path relative to your "
	  "folder).  Give path to list only a folder inside yours.  A long "
	  "listing is cut, with a note.",
	  "{\"type\": \"object\", \"properties\": {"
	  PATH_PROP("A folder relative to your folder; omit for all.") "},"
	  " \"required\": [], \"additionalProperties\": false}" },
	{ "read_file", TOOL_SYNC, run_read,
	  "Read a file of your domain.  Lines come numbered as \"   12| "
	  "text\" (the number and \"| \" are not part of the file).  start "
	  "and end (1-based, inclusive) select lines; by default the whole "
	  "file.  Output is capped in bytes per call and per round: when it "
	  "is cut, a note at the end says which lines to read next.  Read a "
	  "file before you edit it.",
	  "{\"type\": \"object\", \"properties\": {"
	  PATH_PROP("The file, relative to your folder.") ","
	  " \"start\": {\"type\": \"integer\", \"minimum\": 1,"
	  "  \"description\": \"First line to show (default 1).\"},"
	  " \"end\": {\"type\": \"integer\", \"minimum\": 1,"
	  "  \"description\": \"Last line to show (default: the last).\"}},"
	  " \"required\": [\"path\"], \"additionalProperties\": false}" },
	{ "search", TOOL_SYNC, run_search,
	  "Search your domain's text files for a POSIX extended regular "
	  "expression, line by line.  Each match comes as \"PATH:LINE: "
	  "text\".  The number of matches is capped, with a note.",
	  "{\"type\": \"object\", \"properties\": {"
	  " \"pattern\": {\"type\": \"string\","
	  "  \"description\": \"POSIX extended regex, e.g. \\\"def +load\\\"."
	  "\"},"
	  PATH_PROP("A file or folder to search in; omit for all.") "},"
	  " \"required\": [\"pattern\"], \"additionalProperties\": false}" },
	{ "write_file", TOOL_SYNC, run_write,
	  "Create a file, or replace a file's whole content.  Folders are "
	  "created as needed.  To change part of an existing file, use "
	  "edit_file instead.",
	  "{\"type\": \"object\", \"properties\": {"
	  PATH_PROP("The file, relative to your folder.") ","
	  " \"content\": {\"type\": \"string\","
	  "  \"description\": \"The whole new content of the file.\"}},"
	  " \"required\": [\"path\", \"content\"],"
	  " \"additionalProperties\": false}" },
	{ "edit_file", TOOL_SYNC, run_edit,
	  "Change a file by exact replacement: old is replaced by new.  old "
	  "must occur exactly once in the file, character for character "
	  "(indentation included, without read_file's line numbers): "
	  "include enough surrounding lines to make it unique.  For several "
	  "changes, call edit_file several times.",
	  "{\"type\": \"object\", \"properties\": {"
	  PATH_PROP("The file, relative to your folder.") ","
	  " \"old\": {\"type\": \"string\","
	  "  \"description\": \"The exact text to replace (not empty).\"},"
	  " \"new\": {\"type\": \"string\","
	  "  \"description\": \"The text to put in its place.\"}},"
	  " \"required\": [\"path\", \"old\", \"new\"],"
	  " \"additionalProperties\": false}" },
	{ "delete_file", TOOL_SYNC, run_delete,
	  "Delete a file of your domain.",
	  "{\"type\": \"object\", \"properties\": {"
	  PATH_PROP("The file, relative to your folder.") "},"
	  " \"required\": [\"path\"], \"additionalProperties\": false}" },
	{ "peer_interfaces", TOOL_SYNC, run_peers,
	  "The interfaces your peers (the other domains) have published, as "
	  "JSON: what each provides and consumes.  You never see their code: "
	  "use what they provide exactly as declared.",
	  "{\"type\": \"object\", \"properties\": {"
	  " \"domain\": {\"type\": \"string\","
	  "  \"description\": \"One peer's domain; omit for all.\"}},"
	  " \"required\": [], \"additionalProperties\": false}" },
	{ "ask_user", TOOL_SYNC, run_ask,
	  "Ask the user a question, when the directive leaves open something "
	  "that changes the work and that you cannot decide from what you "
	  "have.  State the assumption you would work on without an answer. "
	  " The question goes when the round ends: finish the round after "
	  "asking; the answer comes as your next directive.",
	  "{\"type\": \"object\", \"properties\": {"
	  " \"question\": {\"type\": \"string\","
	  "  \"description\": \"One precise question.\"},"
	  " \"assumption\": {\"type\": \"string\","
	  "  \"description\": \"What you will assume if no answer comes.\"},"
	  " \"timeout\": {\"type\": \"integer\", \"minimum\": 1,"
	  "  \"description\": \"Seconds to wait for the answer before "
	  "going on with your assumption (default: the task's).\"}},"
	  " \"required\": [\"question\"], \"additionalProperties\": false}" },
	{ "run_checks", TOOL_CHECKS, NULL,
	  "Run your domain's checks (build, lint, tests) on your files as "
	  "they are now, and get their output (capped).  Run them before "
	  "finish and fix what fails.",
	  "{\"type\": \"object\", \"properties\": {}, \"required\": [],"
	  " \"additionalProperties\": false}" },
	{ "finish", TOOL_FINISH, NULL, NULL,
	  "{\"type\": \"object\", \"properties\": {"
	  " \"summary\": {\"type\": \"string\","
	  "  \"description\": \"What you changed and why: the commit "
	  "message.\"},"
	  " \"interface\": {\"type\": \"object\"},"	/* the answer's */
	  " \"checks\": {\"type\": \"array\", \"items\": {\"type\": "
	  "\"string\"}, \"description\": \"Check commands you propose (build, "
	  "lint, test), run from the project root.\"}},"
	  " \"required\": [\"summary\"], \"additionalProperties\": false}" },
};

#define NTOOLS	(sizeof(tools) / sizeof(tools[0]))

static const struct tool *
tool_named(const char *name)
{
	for (size_t i = 0; name != NULL && i < NTOOLS; i++)
		if (strcmp(tools[i].name, name) == 0)
			return &tools[i];
	return NULL;
}

/* finish's description names the entry kinds; its interface is the
 * answer's. */
static void
finish_schema(json_t *tool)
{
	json_t *params = json_object_get(tool, "parameters"), *answer, *iface;
	struct tbuf d = { 0 };
	char *desc;

	tbuf_add(&d, "End the round, once your files are written and your "
	    "checks pass.  summary: what you changed and why.  interface: "
	    "your domain's complete current interface (everything you "
	    "provide, everything you consume from peers with \"from\" naming "
	    "the peer), not only what changed; give it whenever it changed.  "
	    "An entry's kind is one of:");
	for (size_t i = 0; iface_kinds[i] != NULL; i++)
		tbuf_add(&d, "%s %s", i ? "," : "", iface_kinds[i]);
	tbuf_add(&d, ".  checks: commands you propose to verify your "
	    "domain.");
	desc = tbuf_take(&d);
	json_object_set_new(tool, "description", json_string(desc));
	free(desc);

	answer = answer_schema();
	iface = json_array_get(json_object_get(json_object_get(
	    json_object_get(answer, "properties"), "interface"), "anyOf"), 1);
	json_object_set(json_object_get(params, "properties"), "interface",
	    iface);
	json_decref(answer);
}

json_t *
tools_schema(void)
{
	json_t *all = json_array(), *t;

	for (size_t i = 0; i < NTOOLS; i++) {
		t = json_pack("{s:s, s:s?, s:o}", "name", tools[i].name,
		    "description", tools[i].description, "parameters",
		    json_loads(tools[i].parameters, 0, NULL));
		if (tools[i].kind == TOOL_FINISH)
			finish_schema(t);
		json_array_append_new(all, t);
	}
	return all;
}

enum tool_kind
tools_kind(const char *name)
{
	const struct tool *t = tool_named(name);

	return t != NULL ? t->kind : TOOL_UNKNOWN;
}

/* ------------------------------------------------------------ running */

void
tool_ctx_init(struct tool_ctx *ctx, int dirfd, const char *domain,
    const json_t *peers, const struct tool_limits *lim)
{
	static const struct tool_limits def = TOOL_LIMITS_DEFAULT;

	memset(ctx, 0, sizeof(*ctx));
	ctx->dirfd = dirfd;
	ctx->domain = domain;
	ctx->peers = peers;
	ctx->lim = lim != NULL ? *lim : def;
	ctx->shown = json_object();
	ctx->changed = json_object();
	ctx->questions = json_array();
}

void
tool_ctx_free(struct tool_ctx *ctx)
{
	json_decref(ctx->shown);
	json_decref(ctx->changed);
	json_decref(ctx->questions);
	ctx->shown = ctx->changed = ctx->questions = NULL;
}

static char *
tool_names(void)
{
	struct tbuf t = { 0 };

	for (size_t i = 0; i < NTOOLS; i++)
		tbuf_add(&t, "%s%s", i ? ", " : "", tools[i].name);
	return tbuf_take(&t);
}

/* Arguments the tool's schema does not name. */
static void
check_unknown(struct call *c, const struct tool *t)
{
	json_t *schema = json_loads(t->parameters, 0, NULL);
	const json_t *props = json_object_get(schema, "properties");
	const char *key;
	json_t *v, *names;
	char *list;

	names = json_array();
	json_object_foreach((json_t *)props, key, v)
		json_array_append_new(names, json_string(key));
	json_object_foreach((json_t *)c->args, key, v) {
		if (json_object_get(props, key) != NULL)
			continue;
		list = json_dumps(names, JSON_COMPACT);
		failf(c, "unknown argument \"%s\" (arguments: %s)", key, list);
		free(list);
		break;
	}
	json_decref(names);
	json_decref(schema);
}

/* The arguments as an object ("" and null are {}). */
static json_t *
parse_args(struct call *c, const char *arguments)
{
	json_error_t e;
	json_t *j;

	if (arguments == NULL || arguments[strspn(arguments, " \t\r\n")] ==
	    '\0')
		return json_object();
	if ((j = json_loads(arguments, JSON_DECODE_ANY, &e)) == NULL) {
		failf(c, "arguments are not JSON: %s", e.text);
		return NULL;
	}
	if (json_is_null(j)) {
		json_decref(j);
		return json_object();
	}
	if (!json_is_object(j)) {
		failf(c, "arguments must be a JSON object, not %s",
		    shape_type_of(j));
		json_decref(j);
		return NULL;
	}
	return j;
}

char *
tools_run(struct tool_ctx *ctx, const char *name, const char *arguments,
    bool *is_error)
{
	struct call c = { ctx, name != NULL ? name : "(no name)", NULL, NULL };
	const struct tool *t = tool_named(name);
	json_t *args = NULL;
	char *out = NULL, *names;

	if (ctx->calls >= ctx->lim.round_calls) {
		failf(&c, "tool call limit (%d per round) reached: call finish",
		    ctx->lim.round_calls);
		goto done;
	}
	ctx->calls++;
	if (t == NULL) {
		names = tool_names();
		failf(&c, "no such tool (tools: %s)", names);
		free(names);
	} else if (t->run == NULL)
		failf(&c, "not run here: the round runs it");
	else if ((args = parse_args(&c, arguments)) != NULL) {
		c.args = args;
		check_unknown(&c, t);
		if (c.err == NULL)
			out = t->run(&c);
	}
done:
	json_decref(args);
	*is_error = c.err != NULL;
	if (c.err != NULL) {
		free(out);
		/* It quotes what the model wrote. */
		utf8_scrub(c.err, strlen(c.err));
		return c.err;
	}
	return out;
}

/* ------------------------------------------------------------ finish */

int
tools_finish(const char *arguments, const char *domain, struct answer *out,
    char *err, size_t errlen)
{
	struct call c = { NULL, "finish", NULL, NULL };
	char why[512];
	json_t *j;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if ((j = parse_args(&c, arguments)) == NULL)
		goto done;
	if (json_object_get(j, "files") != NULL) {
		failf(&c, "files: not an argument of finish: write files with "
		    "write_file or edit_file before you finish");
		goto done;
	}
	c.args = j;
	check_unknown(&c, tool_named("finish"));
	if (c.err == NULL && answer_validate(j, domain, out, why,
	    sizeof(why)) != 0)
		failf(&c, "%s", why);
	rc = c.err == NULL ? 0 : -1;
done:
	json_decref(j);
	if (rc != 0)
		shape_error(err, errlen, "%s", c.err);
	free(c.err);
	return rc;
}
