/*
 * fuzz_iface.c — libFuzzer target for interface documents
 * (common/iface.c).
 *
 * The input is parsed as JSON (any value).  Whatever it is, validation,
 * the canonical form, diffs and the unresolved set must not crash or
 * leak, and must keep their promises:
 *   - an error message is valid UTF-8 (it is sent on as JSON);
 *   - canonical(canonical(x)) == canonical(x), and a valid document stays
 *     valid in canonical form;
 *   - diff(x, x) and diff(canonical(x), x) are empty; diff(NULL, x) adds
 *     exactly the canonical entries;
 *   - the unresolved set of [x] is the same for x, canonical(x) and x as
 *     a registry row (unless x is itself a row); for a valid x it is one
 *     no_domain per consumed entry (x cannot consume from itself, and is
 *     the only domain).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/iface.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_error(const char *err)
{
	json_t *s = json_string(err);

	if (s == NULL || err[0] == '\0')
		abort();
	json_decref(s);
}

static size_t
side_size(const json_t *diff, const char *side, const char *what)
{
	return json_array_size(json_object_get(json_object_get(diff, side),
	    what));
}

static void
check_empty_diff(const json_t *d)
{
	static const char *const sides[] = { "provides", "consumes" };
	static const char *const what[] = { "added", "removed", "changed" };

	if (d == NULL)
		abort();
	for (size_t i = 0; i < 2; i++)
		for (size_t j = 0; j < 3; j++)
			if (side_size(d, sides[i], what[j]) != 0)
				abort();
}

static json_t *
unresolved_of(json_t *doc, int as_row)
{
	json_t *arr = json_array(), *u;

	if (as_row)
		json_array_append_new(arr, json_pack("{s:i, s:O}", "version",
		    1, "document", doc));
	else
		json_array_append(arr, doc);
	u = iface_unresolved(arr, arr);
	json_decref(arr);
	if (u == NULL || !json_is_array(u))
		abort();
	return u;
}

static void
check_unresolved(json_t *doc, json_t *canon, int valid)
{
	json_t *u = unresolved_of(doc, 0), *uc, *ur, *item;
	size_t i;

	/* A row is unwrapped once: x with a "document" of its own is one,
	 * and neither its canonical form nor a row around it says the
	 * same. */
	if (json_is_object(json_object_get(doc, "document")))
		goto done;
	if (canon != NULL) {
		uc = unresolved_of(canon, 0);
		if (!json_equal(u, uc))
			abort();
		json_decref(uc);
	}
	if (json_is_object(doc)) {
		ur = unresolved_of(doc, 1);
		if (!json_equal(u, ur))
			abort();
		json_decref(ur);
	}
	if (valid) {
		if (json_array_size(u) != json_array_size(json_object_get(canon,
		    "consumes")))
			abort();
		json_array_foreach(u, i, item)
			if (strcmp(json_string_value(json_object_get(item,
			    "problem")), "no_domain") != 0)
				abort();
	}
done:
	free(json_dumps(u, JSON_COMPACT));
	json_decref(u);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *doc, *canon, *again, *d;
	const char *domain;
	char err[256];
	int valid, valid_any;

	doc = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	if (doc == NULL)
		return 0;
	domain = json_string_value(json_object_get(doc, "domain"));

	valid = iface_validate(doc, domain, err, sizeof(err)) == 0;
	if (!valid)
		check_error(err);
	valid_any = iface_validate(doc, NULL, err, sizeof(err)) == 0;
	if (!valid_any)
		check_error(err);
	if (valid_any && !valid)
		abort();
	/* A short buffer still holds a whole-character message. */
	if (iface_validate(doc, "fuzz", err, 1 + size % 40) != 0 && size % 40)
		check_error(err);

	canon = iface_canonical(doc);
	if ((canon != NULL) != json_is_object(doc))
		abort();
	if (canon != NULL) {
		if ((again = iface_canonical(canon)) == NULL ||
		    !json_equal(again, canon))
			abort();
		json_decref(again);
		if (valid && iface_validate(canon, domain, err,
		    sizeof(err)) != 0)
			abort();
	}

	check_empty_diff(d = iface_diff(doc, doc));
	json_decref(d);
	check_empty_diff(d = iface_diff(canon, doc));
	json_decref(d);
	d = iface_diff(NULL, doc);
	if (d == NULL ||
	    side_size(d, "provides", "added") != json_array_size(
	    json_object_get(canon, "provides")) ||
	    side_size(d, "consumes", "added") != json_array_size(
	    json_object_get(canon, "consumes")) ||
	    side_size(d, "provides", "removed") != 0)
		abort();
	json_decref(d);

	check_unresolved(doc, canon, valid);
	json_decref(canon);
	json_decref(doc);
	return 0;
}
