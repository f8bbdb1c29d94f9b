/*
 * ctlsock.c — the trust rules of the control socket (see ctlsock.h).
 */
#include <grp.h>
#include <pwd.h>
#include <stddef.h>

#include "common/ctlsock.h"

const char *
ctlsock_dir_unsafe(const struct stat *st, uid_t self, gid_t group)
{
	if (!S_ISDIR(st->st_mode))
		return "not a directory";
	if (st->st_uid != self && st->st_uid != 0)
		return "owned by another user";
	if (st->st_mode & S_IWOTH)
		return "writable by every user";
	if ((st->st_mode & S_IWGRP) &&
	    (group == CTLSOCK_NO_GROUP || st->st_gid != group))
		return "writable by its group, which is not control_group";
	return NULL;
}

const char *
ctlsock_server_untrusted(uid_t peer_uid, uid_t self, bool peer_in_group)
{
	if (peer_uid == 0 || peer_uid == self || peer_in_group)
		return NULL;
	return "the server is not run by root, by you, nor by a member of "
	    "$MASTERD_CONTROL_GROUP";
}

bool
ctlsock_user_in_group(uid_t uid, gid_t primary, gid_t group)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	gid_t groups[256];
	int n = 256;

	if (primary == group)
		return true;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || res == NULL)
		return false;
	if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0)
		return false;
	for (int i = 0; i < n; i++) {
		if (groups[i] == group)
			return true;
	}
	return false;
}

int
ctlsock_group_id(const char *name, gid_t *gid)
{
	struct group gr, *res = NULL;
	char buf[4096];

	if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) != 0 || res == NULL)
		return -1;
	*gid = gr.gr_gid;
	return 0;
}
