/*
 * paths.c — where masterd's installed pieces are, found from the running
 * binary (paths.h says why).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/paths.h"
#include "common/util.h"

char *
paths_self_dir(void)
{
	char buf[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);

	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	if ((slash = strrchr(buf, '/')) == NULL)
		return NULL;
	*slash = '\0';
	return xstrdup(buf);
}

/* path's part below MASTERD_PREFIX ("/sbin"), or NULL when not below. */
static const char *
below_prefix(const char *path)
{
	size_t n = strlen(MASTERD_PREFIX);

	while (n > 0 && MASTERD_PREFIX[n - 1] == '/')
		n--;
	if (strncmp(path, MASTERD_PREFIX, n) != 0 || path[n] != '/')
		return NULL;
	return path + n;
}

/*
 * compiled, moved to the prefix that dir (really dir_compiled, under the
 * compiled prefix) sits in; NULL when dir is where it was built for, or
 * is no such prefix.
 */
static char *
relocate_from(const char *dir, const char *dir_compiled,
    const char *compiled)
{
	const char *dir_rel = below_prefix(dir_compiled);
	const char *rel = below_prefix(compiled);
	size_t n, m;

	if (dir == NULL || dir_rel == NULL || rel == NULL ||
	    strcmp(dir, dir_compiled) == 0)
		return NULL;
	n = strlen(dir);
	m = strlen(dir_rel);
	if (n <= m || strcmp(dir + n - m, dir_rel) != 0)
		return NULL;
	return xasprintf("%.*s%s", (int)(n - m), dir, rel);
}

char *
paths_relocate(const char *self_compiled, const char *compiled)
{
	char *self = paths_self_dir();
	char *p = relocate_from(self, self_compiled, compiled);

	free(self);
	return p != NULL ? p : xstrdup(compiled);
}

char *
paths_libexec(const char *self_compiled, const char *name)
{
	char *dir = paths_relocate(self_compiled, MASTERD_LIBEXECDIR
	    "/masterd"), *p;

	p = xasprintf("%s/%s", dir, name);
	free(dir);
	return p;
}

char *
paths_prompts(const char *worker)
{
	static const char *const up[] = { "/..", "/../.." };
	const char *slash = strrchr(worker, '/');
	char *dir, *p;

	if (slash == NULL)
		return xstrdup(MASTERD_DATADIR "/prompts");
	dir = xstrndup(worker, (size_t)(slash - worker));
	for (size_t i = 0; i < nitems(up); i++) {
		p = xasprintf("%s%s/prompts/domain.md", dir, up[i]);
		if (access(p, R_OK) == 0) {
			char real[PATH_MAX];

			p[strlen(p) - strlen("/domain.md")] = '\0';
			free(dir);
			if (realpath(p, real) == NULL)
				return p;
			free(p);
			return xstrdup(real);
		}
		free(p);
	}
	/* The worker's own prefix, which need not be this process's. */
	p = relocate_from(dir, MASTERD_LIBEXECDIR "/masterd",
	    MASTERD_DATADIR "/prompts");
	free(dir);
	return p != NULL ? p : xstrdup(MASTERD_DATADIR "/prompts");
}
