/*
 * show_transcript.c — a domain's conversation with its model, fetched in
 * pages (it may be larger than a frame) and shown through $PAGER on a
 * terminal: each turn's tool results, the user's text, the answer and
 * the tool calls it made, cut to a glance.
 */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "daemon/masterctl/ctl.h"

/* A tool's text on one line, cut: calls and results are for a glance. */
static void
print_line_cut(const char *s, int max)
{
	int n = 0;

	for (; *s != '\0' && n < max; s++, n++)
		putchar(*s == '\n' || *s == '\t' ? ' ' : *s);
	if (*s != '\0')
		printf("… (%zu bytes)", strlen(s) + (size_t)n);
}

static void
print_tools(const json_t *t)
{
	const json_t *o;
	size_t i;

	json_array_foreach(json_object_get(t, "results"), i, o) {
		printf("<- %s%s: ", str(o, "name"),
		    json_is_true(json_object_get(o, "error")) ? " (error)" : "");
		print_line_cut(str(o, "content"), 100);
		putchar('\n');
	}
}

static void
print_calls(const json_t *t)
{
	const json_t *o;
	size_t i;

	json_array_foreach(json_object_get(t, "calls"), i, o) {
		printf("-> %s ", str(o, "name"));
		print_line_cut(str(o, "arguments"), 100);
		putchar('\n');
	}
}

static void
human_transcript(json_t *r)
{
	const json_t *tr = json_object_get(r, "transcript"), *t;
	const char *user, *answer;
	char stamp[32];
	size_t i;

	printf("task %lld, domain %s: %s %s\n", num(r, "task"),
	    str(r, "domain"), str(tr, "api"), str(tr, "model"));
	json_array_foreach(json_object_get(tr, "turns"), i, t) {
		user = json_string_value(json_object_get(t, "user"));
		answer = json_string_value(json_object_get(t, "assistant"));
		fmt_when(when(t, "time"), stamp, sizeof(stamp));
		printf("\n--- %s %s\n", stamp, json_is_true(json_object_get(t, "summary")) ?
		    "summary of the earlier conversation" : "user");
		print_tools(t);
		if (user != NULL && *user != '\0')
			printf("%s\n", user);
		printf("--- assistant\n");
		if (answer != NULL && *answer != '\0')
			printf("%s\n", answer);
		print_calls(t);
	}
}

/* Pages of a changing transcript: start again this many times. */
#define TRANSCRIPT_TRIES 5

/*
 * Fetch the transcript's text page by page (offset) into *text: 0, -1
 * when it changed under us (start again), or an exit status above 0.
 * *last is the last page's answer (task, domain).
 */
static int
fetch_transcript_text(struct ctl *c, const json_t *base, char **text,
    json_t **last)
{
	json_int_t off = 0, size = 0, len;
	const char *data, *stamp;
	char *first = NULL, *buf = xstrdup("");
	json_t *req, *r = NULL;
	int status;

	do {
		req = request(c, CTL_TRANSCRIPT);
		json_object_update(req, (json_t *)base);
		json_object_set_new(req, "offset", json_integer(off));
		json_decref(r);
		if ((r = call(c, req, &status)) == NULL)
			goto fail;
		data = json_string_value(json_object_get(r, "data"));
		stamp = json_string_value(json_object_get(r, "stamp"));
		len = json_integer_value(json_object_get(r, "length"));
		size = json_integer_value(json_object_get(r, "size"));
		if (data == NULL || stamp == NULL || len < 0 ||
		    (size_t)len != strlen(data) || (len == 0 && off < size)) {
			fprintf(stderr, "masterctl: transcript: bad page at "
			    "%lld\n", (long long)off);
			status = EXIT_FAILED;
			goto fail;
		}
		if (first == NULL)
			first = xstrdup(stamp);
		else if (strcmp(first, stamp) != 0) {
			status = -1;
			goto fail;
		}
		buf = xrealloc(buf, (size_t)(off + len) + 1);
		memcpy(buf + off, data, (size_t)len + 1);
		off += len;
	} while (off < size);
	free(first);
	*text = buf;
	*last = r;
	return 0;
fail:
	free(first);
	free(buf);
	json_decref(r);
	return status;
}

int
cmd_transcript(struct ctl *c, const struct opts *o, int argc, char **argv)
{
	json_t *base, *r = NULL, *doc;
	json_error_t jerr;
	json_int_t last;
	char *text = NULL;
	int status = -1;

	base = json_object();
	json_object_set_new(base, "domain", json_string(argv[0]));
	if (o->last != NULL) {
		if (parse_id(o->last, "--last", &last) != 0) {
			json_decref(base);
			return EXIT_USAGE;
		}
		json_object_set_new(base, "last", json_integer(last));
	}
	if (with_task(base, o->task) != 0)
		return EXIT_USAGE;
	/* Paged: a transcript may be larger than one frame. */
	for (int i = 0; i < TRANSCRIPT_TRIES && status < 0; i++)
		status = fetch_transcript_text(c, base, &text, &r);
	json_decref(base);
	if (status < 0) {
		fprintf(stderr, "masterctl: transcript: it kept changing while "
		    "it was read; try again\n");
		return EXIT_FAILED;
	}
	if (status != 0)
		return status;
	doc = json_loads(text, 0, &jerr);
	free(text);
	if (doc == NULL) {
		fprintf(stderr, "masterctl: transcript: bad text: %s\n",
		    jerr.text);
		json_decref(r);
		return EXIT_FAILED;
	}
	json_object_set_new(r, "transcript", doc);
	json_object_del(r, "data");
	json_object_del(r, "offset");
	json_object_del(r, "length");
	json_object_del(r, "size");
	json_object_del(r, "stamp");
	if (c->json) {
		print_json(r, false);
	} else {
		pager_start(c);
		human_transcript(r);
		pager_end();
	}
	json_decref(r);
	return EXIT_OK;
}

