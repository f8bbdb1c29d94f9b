/*
 * fuzz_answer.c — libFuzzer target for model answers and verdicts
 * (child/worker/answer.c).
 *
 * The input is a model's reply, as text.  answer_parse and verdict_parse
 * must not crash or leak, must stay linear enough for libFuzzer's
 * timeout, and must keep their promises: on failure a non-empty message
 * that is valid UTF-8 (also when cut short by a small buffer); on
 * success an answer inside every limit, with paths that are already
 * normalised and confined, each file written, edited or deleted (one of
 * the three), and an interface that validates.
 */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "child/worker/answer.h"
#include "common/iface.h"
#include "child/worker/path.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_error(const char *err, size_t errlen)
{
	json_t *s;

	if (errlen > 1 && err[0] == '\0')
		abort();
	if ((s = json_string(err)) == NULL)
		abort();
	json_decref(s);
}

static void
check_answer(const struct answer *a)
{
	char norm[PATH_MAX];
	const char *why;
	size_t total = 0;

	if (a->summary == NULL || a->summary[0] == '\0' || a->nfiles > 200 ||
	    a->nchecks > 20)
		abort();
	for (size_t i = 0; i < a->nfiles; i++) {
		const struct answer_file *f = &a->files[i];

		if (path_normalise(f->path, PATH_DENY_GIT, norm, sizeof(norm),
		    &why) != 0 || strcmp(norm, f->path) != 0)
			abort();
		for (size_t j = 0; j < i; j++)
			if (strcmp(a->files[j].path, f->path) == 0)
				abort();
		/* Exactly one of delete, content, edits. */
		if (f->delete + (f->content != NULL) + (f->nedits > 0) != 1 ||
		    (f->nedits == 0) != (f->edits == NULL) || f->nedits > 200)
			abort();
		for (size_t k = 0; k < f->nedits; k++) {
			if (f->edits[k].old == NULL ||
			    f->edits[k].old[0] == '\0' ||
			    f->edits[k].new == NULL)
				abort();
			total += strlen(f->edits[k].old) +
			    strlen(f->edits[k].new);
		}
		if (f->content == NULL)
			continue;
		if (f->len > 1024 * 1024 || f->content[f->len] != '\0')
			abort();
		total += f->len;
	}
	if (total > 8 * 1024 * 1024)
		abort();
	for (size_t i = 0; i < a->nchecks; i++)
		if (a->checks[i] == NULL || a->checks[i][0] == '\0' ||
		    strlen(a->checks[i]) > 1024)
			abort();
	if (a->interface != NULL &&
	    iface_validate(a->interface, "logic", NULL, 0) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct answer a;
	char *text, err[512], *feedback;
	size_t small = 1 + size % 48;
	bool complete;

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	if (answer_parse(text, "logic", &a, err, sizeof(err)) == 0) {
		check_answer(&a);
		answer_free(&a);
	} else {
		check_error(err, sizeof(err));
		if (a.summary != NULL || a.nfiles != 0 || a.interface != NULL)
			abort();
		if (answer_parse(text, "logic", &a, err, small) == 0)
			abort();
		check_error(err, small);
	}

	if (verdict_parse(text, &complete, &feedback, err, sizeof(err)) == 0) {
		if (feedback != NULL && strlen(feedback) > 8192)
			abort();
		free(feedback);
	} else {
		check_error(err, sizeof(err));
		if (feedback != NULL || complete)
			abort();
	}
	free(text);
	return 0;
}
