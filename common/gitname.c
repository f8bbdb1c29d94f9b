/*
 * gitname.c — the path components git itself refuses as ".git".
 *
 * A name that some filesystem a clone may land on (HFS+, NTFS) takes for
 * ".git" is refused by fsck --strict (hasDotgit) and, with
 * core.protectHFS/protectNTFS, by git and libgit2 at commit.  Paths a model
 * names are checked here before anything is written, so that what the
 * domain writes is always something git will commit.  The rules follow
 * git's is_hfs_dotgit and is_ntfs_dotgit.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <strings.h>

#include "common/gitname.h"

/*
 * One UTF-8 code point from c[*i..n), *i moved past it; -1 for a malformed
 * sequence (which then cannot spell ".git" on any filesystem).
 */
static long
next_codepoint(const unsigned char *c, size_t n, size_t *i)
{
	unsigned char b = c[*i];
	size_t len = b < 0x80 ? 1 : (b & 0xe0) == 0xc0 ? 2 :
	    (b & 0xf0) == 0xe0 ? 3 : (b & 0xf8) == 0xf0 ? 4 : 0;
	long cp = len == 1 ? b : len == 2 ? (b & 0x1f) : len == 3 ?
	    (b & 0x0f) : (b & 0x07);

	if (len == 0 || *i + len > n)
		return -1;
	for (size_t k = 1; k < len; k++) {
		if ((c[*i + k] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (c[*i + k] & 0x3f);
	}
	*i += len;
	return cp;
}

/* The code points HFS+ ignores when it compares names (git's list). */
static bool
hfs_ignored(long cp)
{
	return (cp >= 0x200c && cp <= 0x200f) ||
	    (cp >= 0x202a && cp <= 0x202e) ||
	    (cp >= 0x206a && cp <= 0x206f) || cp == 0xfeff;
}

/* ".git" as HFS+ sees it: ignorable code points dropped, case folded. */
static bool
is_hfs_dotgit(const char *c, size_t n)
{
	static const char want[] = ".git";
	size_t i = 0, k = 0;
	long cp;

	while (i < n) {
		if ((cp = next_codepoint((const unsigned char *)c, n, &i)) < 0)
			return false;
		if (hfs_ignored(cp))
			continue;
		if (cp > 0x7f || k == 4 || tolower((int)cp) != want[k])
			return false;
		k++;
	}
	return k == 4;
}

/*
 * ".git" as NTFS sees it: trailing dots and spaces dropped, an alternate
 * data stream (":...") named, or the 8.3 short name "git~1".
 */
static bool
is_ntfs_dotgit(const char *c, size_t n)
{
	size_t i;

	if (n >= 4 && strncasecmp(c, ".git", 4) == 0)
		i = 4;
	else if (n >= 5 && strncasecmp(c, "git~1", 5) == 0)
		i = 5;
	else
		return false;
	for (; i < n; i++) {
		if (c[i] == ':')
			return true;
		if (c[i] != '.' && c[i] != ' ')
			return false;
	}
	return true;
}

bool
gitname_is_dotgit(const char *c, size_t n)
{
	return is_ntfs_dotgit(c, n) || is_hfs_dotgit(c, n);
}
