/*
 * plancheck.c — the shapes of the planner's answers, as tables for
 * common/shape.c, and what the tables cannot say: a plan's and a review's
 * domains (names, reserved ones refused) and integration checks (one line
 * each), an attribution's directives (each to one of the task's domains).
 * A plan may ask the user questions instead of naming its domains.
 * No session here: plan.c asks the model, the unit tests call plan_check.
 */
#include <stdbool.h>
#include <string.h>

#include "child/worker/plan.h"
#include "common/config.h"
#include "common/shape.h"

#define PLAN_DOMAINS_MAX 16
#define REVIEW_DIRECTIVES_MAX 32
#define ATTRIBUTE_DIRECTIVES_MAX 8
#define INTEGRATION_CHECKS_MAX 20
#define INTEGRATION_CHECK_BYTES 1024
#define QUESTIONS_MAX 8
#define QUESTION_BYTES 4096
#define QUESTION_TIMEOUT_MAX (365 * 86400)

/* ------------------------------------------------------------ shapes */

#define END	{ .name = NULL }

static const struct shape_field a_string = { .types = FT_STRING };
static const struct shape_field domain_fields[] = {
	{ .name = "name", .types = FT_STRING, .required = true },
	/* An existing folder it owns (issue #18); absent: <name>/. */
	{ .name = "folder", .types = FT_STRING, .min_len = 1, .max_len = 64 },
	{ .name = "prompt", .types = FT_STRING },
	{ .name = "checks", .types = FT_ARRAY, .max_items = 20,
	    .items = &a_string },
	{ .name = "depends", .types = FT_ARRAY, .max_items = PLAN_DOMAINS_MAX,
	    .items = &a_string },
	END
};
static const struct shape_field a_domain = {
	.types = FT_OBJECT, .flags = SHAPE_NULL_ABSENT, .members = domain_fields
};
/* A command run at the root of main, every domain's folder there. */
static const struct shape_field a_command = {
	.types = FT_STRING, .min_len = 1, .max_len = INTEGRATION_CHECK_BYTES,
	.what = "a one-line shell command"
};
#define INTEGRATION_CHECKS { .name = "integration_checks", \
	.types = FT_ARRAY, .min_items = 1, \
	.max_items = INTEGRATION_CHECKS_MAX, .items = &a_command }
/* A question to the user, with what the planner assumes without an
 * answer. */
static const struct shape_field question_fields[] = {
	{ .name = "text", .types = FT_STRING, .required = true, .min_len = 1,
	    .max_len = QUESTION_BYTES },
	{ .name = "assumption", .types = FT_STRING,
	    .max_len = QUESTION_BYTES },
	/* Seconds it may wait for its answer: its own deadline, over
	 * [task] question_timeout. */
	{ .name = "timeout", .types = FT_INTEGER, .ranged = true, .min = 1,
	    .max = QUESTION_TIMEOUT_MAX },
	END
};
static const struct shape_field a_question = {
	.types = FT_OBJECT, .members = question_fields
};
#define QUESTIONS { .name = "questions", .types = FT_ARRAY, \
	.max_items = QUESTIONS_MAX, .items = &a_question }
static const struct shape_field plan_fields[] = {
	{ .name = "domains", .types = FT_ARRAY, .required = true,
	    .min_items = 1, .max_items = PLAN_DOMAINS_MAX, .items = &a_domain },
	INTEGRATION_CHECKS,
	QUESTIONS,
	END
};
static const struct shape_field plan_shape = {
	.types = FT_OBJECT, .flags = SHAPE_NULL_ABSENT, .members = plan_fields
};
/* A plan that asks the user first: its domains may wait for the
 * answers. */
static const struct shape_field ask_fields[] = {
	{ .name = "domains", .types = FT_ARRAY,
	    .max_items = PLAN_DOMAINS_MAX, .items = &a_domain },
	INTEGRATION_CHECKS,
	{ .name = "questions", .types = FT_ARRAY, .required = true,
	    .min_items = 1, .max_items = QUESTIONS_MAX, .items = &a_question },
	END
};
static const struct shape_field ask_shape = {
	.types = FT_OBJECT, .flags = SHAPE_NULL_ABSENT, .members = ask_fields
};
static const struct shape_field directive_fields[] = {
	{ .name = "domain", .types = FT_STRING, .required = true },
	{ .name = "text", .types = FT_STRING, .required = true, .min_len = 1 },
	END
};
static const struct shape_field a_directive = {
	.types = FT_OBJECT, .members = directive_fields
};
static const struct shape_field review_fields[] = {
	{ .name = "done", .types = FT_BOOL, .required = true,
	    .when_missing = "(true or false)" },
	{ .name = "directives", .types = FT_ARRAY,
	    .max_items = REVIEW_DIRECTIVES_MAX, .items = &a_directive },
	{ .name = "domains", .types = FT_ARRAY, .max_items = PLAN_DOMAINS_MAX,
	    .items = &a_domain },
	INTEGRATION_CHECKS,
	END
};
static const struct shape_field review_shape = {
	.types = FT_OBJECT, .flags = SHAPE_NULL_ABSENT, .members = review_fields
};
static const struct shape_field attribute_fields[] = {
	{ .name = "directives", .types = FT_ARRAY, .required = true,
	    .min_items = 1, .max_items = ATTRIBUTE_DIRECTIVES_MAX,
	    .items = &a_directive },
	{ .name = "reason", .types = FT_STRING },
	END
};
static const struct shape_field attribute_shape = {
	.types = FT_OBJECT, .flags = SHAPE_NULL_ABSENT,
	.members = attribute_fields
};

#undef INTEGRATION_CHECKS
#undef QUESTIONS
#undef END

/* The domains' names, once their shape is right.  "planner" and
 * "integration" are the names of the task's planner and integrator. */
static int
check_names(const json_t *list, char *err, size_t len)
{
	const json_t *d;
	const char *name;
	size_t i;

	json_array_foreach(list, i, d) {
		name = json_string_value(json_object_get(d, "name"));
		if (!conf_domain_name_ok(name) ||
		    strcmp(name, "planner") == 0 ||
		    strcmp(name, "integration") == 0)
			return shape_error(err, len, "domains[%zu].name: must "
			    "be 1-32 of a-z 0-9 - _, starting with a letter, "
			    "and not \"planner\" or \"integration\"", i);
	}
	return 0;
}

/* Each integration check on one line. */
static int
check_commands(const json_t *list, char *err, size_t len)
{
	const char *cmd;
	size_t i;
	json_t *c;

	json_array_foreach(list, i, c) {
		cmd = json_string_value(c);
		if (strpbrk(cmd, "\r\n") != NULL)
			return shape_error(err, len, "integration_checks[%zu]: "
			    "must be one line (join commands with && or ;)",
			    i);
	}
	return 0;
}

/* Each directive of an attribution to one of the task's domains. */
static int
check_attributed(const json_t *directives, const json_t *context,
    char *err, size_t len)
{
	const json_t *domains = json_object_get(context, "domains"), *d, *n;
	char q[SHAPE_QUOTE_BUF];
	const char *name;
	size_t i, k;
	bool known;

	json_array_foreach(directives, i, d) {
		name = json_string_value(json_object_get(d, "domain"));
		known = false;
		json_array_foreach(domains, k, n)
			known = known || strcmp(json_string_value(n) ?
			    json_string_value(n) : "", name) == 0;
		if (!known)
			return shape_error(err, len, "directives[%zu].domain: "
			    "%s is not one of the task's domains", i,
			    shape_quote(q, name, strlen(name)));
	}
	return 0;
}

int
plan_check(const json_t *plan, const char *kind, const json_t *context,
    char *err, size_t len)
{
	const struct shape_field *shape = strcmp(kind, "plan") == 0 ?
	    &plan_shape : strcmp(kind, "attribute") == 0 ? &attribute_shape :
	    &review_shape;

	if (!json_is_object(plan))
		return shape_error(err, len, "the %s must be a JSON object, "
		    "not %s", kind, shape_type_of(plan));
	if (shape == &plan_shape &&
	    json_array_size(json_object_get(plan, "questions")) > 0)
		shape = &ask_shape;
	if (shape_check(plan, shape, err, len) == -1)
		return -1;
	if (shape == &attribute_shape)
		return check_attributed(json_object_get(plan, "directives"),
		    context, err, len);
	if (check_commands(shape_member(plan, "integration_checks"), err,
	    len) == -1)
		return -1;
	return check_names(shape_member(plan, "domains"), err, len);
}
