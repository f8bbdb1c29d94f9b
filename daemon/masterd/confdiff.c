/*
 * confdiff.c — what a reload changed, said by key: the accepted copy of
 * the configuration (children.conf in the state directory) against the
 * file now read, as "section.key" names added, removed or changed.  Only
 * names: values may be secrets.
 */
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "daemon/masterd/masterd.h"

/* {"section.key": "value"} of an INI file; an empty object when absent. */
static json_t *
conf_keys(const char *path)
{
	json_t *keys = json_object();
	char line[4096], section[128] = "", *p, *eq, *end, name[300];
	FILE *f = path != NULL ? fopen(path, "re") : NULL;

	if (f == NULL)
		return keys;
	while (fgets(line, sizeof(line), f) != NULL) {
		p = line + strspn(line, " \t");
		p[strcspn(p, "\r\n")] = '\0';
		if (*p == '#' || *p == ';' || *p == '\0')
			continue;
		if (*p == '[' && (end = strchr(p, ']')) != NULL) {
			snprintf(section, sizeof(section), "%.*s",
			    (int)(end - p - 1), p + 1);
			continue;
		}
		if ((eq = strchr(p, '=')) == NULL)
			continue;
		end = eq;
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		snprintf(name, sizeof(name), "%s%s%.*s", section,
		    *section ? "." : "", (int)(end - p), p);
		eq++;
		eq += strspn(eq, " \t");
		json_object_set_new(keys, name, json_string(eq));
	}
	fclose(f);
	return keys;
}

json_t *
confdiff_files(const char *old, const char *now)
{
	json_t *a = conf_keys(old), *b = conf_keys(now), *out = json_array();
	const char *k;
	json_t *v, *w;

	json_object_foreach(b, k, v) {
		w = json_object_get(a, k);
		if (w == NULL || !json_equal(v, w))
			json_array_append_new(out, json_string(k));
	}
	json_object_foreach(a, k, v)
		if (json_object_get(b, k) == NULL)
			json_array_append_new(out, json_string(k));
	json_decref(a);
	json_decref(b);
	return out;
}
