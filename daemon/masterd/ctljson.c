/*
 * ctljson.c — the JSON masterd shows on its control socket, in one
 * convention (docs/protocol.md, "Names and times"): times are ISO 8601 in
 * UTC, to the millisecond ("2026-12-03T06:20:00.123Z"), never epoch
 * numbers; token counts are tokens_in, tokens_out and tokens_cached
 * wherever they appear (a child's "usage" says input/output/cached on the
 * child channel, which stays as it is).  The registry and the children
 * keep their own forms: this is the one place they are turned into the
 * control socket's.  What models and people wrote (an interface's
 * document, a plan) is passed as it is.
 */
#include <string.h>

#include "common/isotime.h"
#include "daemon/masterd/masterd.h"

/* Members holding a point in time, as epoch seconds inside masterd. */
static const char *const time_keys[] = {
	"created", "updated", "ts", "since", "next_try", "not_before",
	"until", "started", "finished", "ended", "deadline", NULL
};

/* Members holding token counts under the child protocol's names. */
static const char *const usage_keys[] = { "usage", "planner_usage", NULL };

/* What people and models wrote: taken as it is, whatever its keys. */
static const char *const verbatim_keys[] = { "document", "schema", "plan",
	NULL };

static bool
in(const char *const *set, const char *k)
{
	for (; *set != NULL; set++)
		if (strcmp(*set, k) == 0)
			return true;
	return false;
}

static const char *
usage_name(const char *k)
{
	if (strcmp(k, "input") == 0)
		return "tokens_in";
	if (strcmp(k, "output") == 0)
		return "tokens_out";
	if (strcmp(k, "cached") == 0)
		return "tokens_cached";
	return k;
}

static json_t *
time_value(const json_t *v)
{
	char iso[ISOTIME_LEN];

	if (!json_is_number(v))
		return json_incref((json_t *)v);
	if (json_number_value(v) <= 0)
		return json_null();	/* 0 stands for "none" */
	isotime_format(json_number_value(v), true, iso);
	return json_string(iso);
}

static json_t *copy(const json_t *v, bool usage);

static json_t *
copy_object(const json_t *o, bool usage)
{
	json_t *out = json_object();
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)o, k, v) {
		if (in(verbatim_keys, k))
			json_object_set(out, k, v);
		else if (in(time_keys, k))
			json_object_set_new(out, k, time_value(v));
		else
			json_object_set_new(out, usage ? usage_name(k) : k,
			    copy(v, in(usage_keys, k)));
	}
	return out;
}

static json_t *
copy(const json_t *v, bool usage)
{
	json_t *out, *x;
	size_t i;

	if (json_is_object(v))
		return copy_object(v, usage);
	if (!json_is_array(v))
		return json_incref((json_t *)v);
	out = json_array();
	json_array_foreach(v, i, x)
		json_array_append_new(out, copy(x, false));
	return out;
}

json_t *
ctljson_export(json_t *v)
{
	json_t *out = copy(v, false);

	json_decref(v);
	return out;
}
