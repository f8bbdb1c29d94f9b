/*
 * paths.h — where masterd's installed pieces are: masterd-child and
 * masterd-worker (LIBEXECDIR/masterd) and the prompts (DATADIR/masterd/
 * prompts), found from the running binary before the paths compiled in.
 *
 * A tree installed under another prefix than the one it was built for
 * (`make install DESTDIR=...`, a tree copied elsewhere) still finds its
 * own pieces: the running binary's directory, less where it sits under
 * the compiled PREFIX (sbin/, libexec/masterd/), is the prefix it runs
 * from.
 */
#ifndef COMMON_PATHS_H
#define COMMON_PATHS_H

/* The directory of /proc/self/exe, malloc'd, or NULL. */
char *paths_self_dir(void);

/*
 * compiled (a path under the compiled PREFIX) moved to the prefix the
 * running binary lives in, self_compiled being that binary's compiled
 * directory (MASTERD_SBINDIR for masterd, MASTERD_LIBEXECDIR "/masterd"
 * for the children); malloc'd.  compiled itself when the binary runs
 * where it was built for, or from somewhere that is no such prefix.
 */
char *paths_relocate(const char *self_compiled, const char *compiled);

/*
 * The prompts directory a worker at `worker` (its executable's path)
 * reads when prompts_dir is unset: the prompts/ of the source tree it
 * was built in (build/ or build/VARIANT/ below it), else DATADIR's,
 * relocated as above; malloc'd.
 */
char *paths_prompts(const char *worker);

/* The installed masterd-child and masterd-worker, relocated. */
char *paths_libexec(const char *self_compiled, const char *name);

#endif
