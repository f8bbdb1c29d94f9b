/*
 * ctlsock.h — who may be trusted at either end of the control socket.
 *
 * masterd binds its socket only in a directory nobody else can write, so
 * that no one can put a socket of their own at its path; masterctl talks
 * only to a server it trusts by its credentials (SO_PEERCRED), so that a
 * socket planted anyway (a path in /tmp, a stale -s) gets no request.
 * The decisions are pure functions of the facts, for the unit tests; the
 * callers gather the facts.
 */
#ifndef COMMON_CTLSOCK_H
#define COMMON_CTLSOCK_H

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

#define CTLSOCK_NO_GROUP ((gid_t)-1)

/*
 * NULL when a directory with this lstat may hold the socket of a daemon
 * running as `self`, else why not: it is not a directory (a symlink is
 * not), is owned by someone other than self or root, is writable by
 * others, or is writable by its group when that group is not `group`
 * (masterd's control_group; CTLSOCK_NO_GROUP when none).
 */
const char *ctlsock_dir_unsafe(const struct stat *st, uid_t self,
    gid_t group);

/*
 * NULL when masterctl running as `self` may talk to a server whose
 * credentials are peer_uid: root, self, or a member of the control group
 * masterctl was told of (peer_in_group), else why not.
 */
const char *ctlsock_server_untrusted(uid_t peer_uid, uid_t self,
    bool peer_in_group);

/* Is the user uid (primary group primary) a member of group? */
bool ctlsock_user_in_group(uid_t uid, gid_t primary, gid_t group);

/* The gid of a group name: 0, or -1 when there is no such group. */
int ctlsock_group_id(const char *name, gid_t *gid);

#endif
