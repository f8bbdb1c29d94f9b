/*
 * commitmsg.h — the commit message of a round, and reading it back.
 */
#ifndef CHILD_WORKER_COMMITMSG_H
#define CHILD_WORKER_COMMITMSG_H

#include <stdint.h>

/*
 * The message of the commit a round makes: the directive's first line as
 * subject, the model's summary, and masterd's trailers as the last
 * paragraph (caller frees).
 */
char *commitmsg_build(const char *directive_text, const char *summary,
    int64_t directive, int round);

/*
 * The directive and round of a commit whose message commitmsg_build
 * wrote: 0, or -1 when its last paragraph is not masterd's trailers.
 */
int commitmsg_parse(const char *message, int64_t *directive, int *round);

#endif
