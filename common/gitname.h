/*
 * gitname.h — path components git takes for ".git" (see gitname.c).
 */
#ifndef COMMON_GITNAME_H
#define COMMON_GITNAME_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The component c[0..n) is ".git" in any case, or a name HFS+ or NTFS
 * resolve to it (".git" with ignorable code points, trailing dots or
 * spaces, an alternate data stream, the short name "git~1").
 */
bool gitname_is_dotgit(const char *c, size_t n);

#endif
