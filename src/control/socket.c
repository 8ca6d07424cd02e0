/* socket.c - the control socket file: its directory checked, a stale socket replaced, mode, group. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"
#include "../fsutil.h"
#include "../log.h"

/* Another agent still answering there is an error; a leftover socket file is replaced. */
static int clear_stale(const struct sockaddr_un *sa, char *err, size_t errlen)
{
	struct stat stbuf;
	int fd, rc;

	if (lstat(sa->sun_path, &stbuf)) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "control socket %s: %s", sa->sun_path, strerror(errno));
		return -errno;
	}
	if (!S_ISSOCK(stbuf.st_mode)) {
		snprintf(err, errlen, "control socket %s: exists and is not a socket",
			 sa->sun_path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "control socket: %s", strerror(errno));
		return -errno;
	}
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (!rc) {
		snprintf(err, errlen, "control socket %s: another process is serving it",
			 sa->sun_path);
		return -EADDRINUSE;
	}
	if (unlink(sa->sun_path) && errno != ENOENT) {
		snprintf(err, errlen, "control socket %s: cannot remove the stale socket: %s",
			 sa->sun_path, strerror(errno));
		return -errno;
	}
	nm_info("control: replaced stale socket %s", sa->sun_path);
	return 0;
}

/*
 * sshd's StrictModes for the socket's directory: whoever can write there can
 * move our socket away and bind their own, and root's clients would then talk
 * to the impostor. Created (0755) when missing; never followed if a symlink.
 */
static int check_socket_dir(const char *socket, char *err, size_t errlen)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char why[sizeof(dir) * 3 + 200];
	enum nm_fs_refusal refusal;
	char *slash;
	int fd, rc;

	strcpy(dir, socket);
	slash = strrchr(dir, '/');
	if (!slash)
		strcpy(dir, ".");
	else
		slash[slash == dir] = '\0'; /* "/x" keeps "/" */
	rc = nm_fs_check_ancestors(dir, why, sizeof(why));
	if (rc)
		goto fail;
	fd = nm_fs_open_dir(dir, true, 0755, &refusal, why, sizeof(why));
	if (fd < 0) {
		rc = fd;
		goto fail;
	}
	close(fd);
	return 0;
fail:
	snprintf(err, errlen, "control socket %s: %s", socket, why);
	return rc;
}

int nm_control_socket_open(struct nm_control *c, char *err, size_t errlen)
{
	const struct nm_control_config *cc = &c->cfg->control;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat stbuf;
	mode_t old_umask;
	int fd = -1, rc;

	if (!cc->socket || !*cc->socket || strlen(cc->socket) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "control.socket: the path must be 1 to %zu bytes",
			 sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, cc->socket);
	rc = check_socket_dir(cc->socket, err, errlen);
	if (rc)
		return rc;
	rc = clear_stale(&sa, err, errlen);
	if (rc)
		return rc;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto sys_fail;
	/* Born owner-only, then opened up: never briefly wider than configured. */
	old_umask = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old_umask);
	if (rc)
		goto sys_fail;
	/* mode and group were resolved when the config was checked: a start cannot fail on them */
	if (chown(sa.sun_path, (uid_t)-1, cc->gid) || chmod(sa.sun_path, cc->socket_mode) ||
	    stat(sa.sun_path, &stbuf))
		goto sys_fail;
	c->sock_dev = stbuf.st_dev;
	c->sock_ino = stbuf.st_ino;
	/*
	 * A deep backlog: a client that finds it full is refused at once (EAGAIN on a
	 * Unix socket, curl's "couldn't connect"), before the gate could answer it, so
	 * one user's flood must not fill it for the rest. The kernel caps it at
	 * net.core.somaxconn.
	 */
	if (listen(fd, (int)(cc->max_clients < 1024 ? 4096 : 4 * cc->max_clients)))
		goto sys_fail;
	c->listen_fd = fd;
	return 0;
sys_fail:
	rc = -errno;
	snprintf(err, errlen, "control socket %s: %s", sa.sun_path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return rc;
}

void nm_control_socket_remove(struct nm_control *c)
{
	struct stat stbuf;
	const char *path = c->cfg->control.socket;

	/* Only our own file: a newer agent may already have replaced it. */
	if (c->sock_ino && !lstat(path, &stbuf) && stbuf.st_dev == c->sock_dev &&
	    stbuf.st_ino == c->sock_ino)
		unlink(path);
}
