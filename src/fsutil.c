/* fsutil.c - small file-system helpers shared by the control socket, the spool and the file sink. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "fsutil.h"

int nm_mkdir_p(const char *dir, mode_t mode)
{
	char buf[PATH_MAX];
	size_t n = strlen(dir);

	if (n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, dir, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

static uid_t agent_uid = (uid_t)-1;

void nm_fs_set_agent_uid(uid_t uid)
{
	agent_uid = uid;
}

static bool trusted_owner(uid_t uid)
{
	return uid == 0 || uid == geteuid() || (agent_uid != (uid_t)-1 && uid == agent_uid);
}

const char *const nm_fs_refusal_names[NM_FS_REFUSAL_COUNT] = {
	[NM_FS_OK] = "ok",
	[NM_FS_SYMLINK] = "symlink",
	[NM_FS_NOT_REGULAR] = "not_regular",
	[NM_FS_NOT_OURS] = "not_ours",
	[NM_FS_HARD_LINKED] = "hard_linked",
	[NM_FS_UNSAFE_DIR] = "unsafe_dir",
};

enum nm_fs_refusal nm_fs_check_file(const struct stat *st)
{
	if (S_ISLNK(st->st_mode))
		return NM_FS_SYMLINK;
	if (!S_ISREG(st->st_mode))
		return NM_FS_NOT_REGULAR;
	if (st->st_uid != geteuid())
		return NM_FS_NOT_OURS;
	if (st->st_nlink > 1)
		return NM_FS_HARD_LINKED;
	return NM_FS_OK;
}

enum nm_fs_refusal nm_fs_check_dir(const struct stat *st)
{
	if (S_ISLNK(st->st_mode))
		return NM_FS_SYMLINK;
	if (!S_ISDIR(st->st_mode))
		return NM_FS_NOT_REGULAR;
	if (!trusted_owner(st->st_uid) || (st->st_mode & (S_IWGRP | S_IWOTH)))
		return NM_FS_UNSAFE_DIR;
	return NM_FS_OK;
}

int nm_fs_openat(int dirfd, const char *name, int flags, mode_t mode, bool *created,
		 enum nm_fs_refusal *why)
{
	/* O_NONBLOCK: opening a planted FIFO must not hang the agent; cleared once it is a file */
	int base = (flags & ~O_CREAT) | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
	bool made = false;
	struct stat st;
	int fd = -1, rc;

	*why = NM_FS_OK;
	if (flags & O_CREAT) {
		fd = openat(dirfd, name, base | O_CREAT | O_EXCL, mode);
		made = fd >= 0;
		if (fd < 0 && errno != EEXIST)
			return -errno;
	}
	if (fd < 0)
		fd = openat(dirfd, name, base);
	if (fd < 0) {
		rc = -errno;
		if (rc == -ELOOP)
			*why = NM_FS_SYMLINK;
		return rc;
	}
	if (fstat(fd, &st)) {
		rc = -errno;
		goto fail;
	}
	*why = nm_fs_check_file(&st);
	if (*why != NM_FS_OK) {
		rc = -EPERM;
		goto fail;
	}
	if ((made && fchmod(fd, mode)) || fcntl(fd, F_SETFL, (base & ~O_NONBLOCK) & ~O_CLOEXEC)) {
		rc = -errno;
		goto fail;
	}
	if (created)
		*created = made;
	return fd;
fail:
	close(fd);
	return rc;
}

int nm_fs_mktemp(int dirfd, const char *prefix, mode_t mode, char *name, size_t len)
{
	static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";

	for (int attempt = 0; attempt < 100; attempt++) {
		unsigned char rnd[12];
		char suffix[sizeof(rnd) + 1];
		int fd;

		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return -EIO;
		for (size_t i = 0; i < sizeof(rnd); i++)
			suffix[i] = digits[rnd[i] % (sizeof(digits) - 1)];
		suffix[sizeof(rnd)] = '\0';
		if ((size_t)snprintf(name, len, "%s%s", prefix, suffix) >= len)
			return -ENAMETOOLONG;
		fd = openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd < 0 && errno == EEXIST)
			continue;
		if (fd < 0)
			return -errno;
		if (fchmod(fd, mode)) {
			int rc = -errno;

			unlinkat(dirfd, name, 0);
			close(fd);
			return rc;
		}
		return fd;
	}
	return -EEXIST;
}

int nm_fs_open_dir(const char *dir, bool create, mode_t mode, enum nm_fs_refusal *why, char *err,
		   size_t errlen)
{
	bool made = false;
	struct stat st;
	int fd, rc;

	*why = NM_FS_OK;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && create) {
		rc = nm_mkdir_p(dir, mode);
		if (rc) {
			snprintf(err, errlen, "cannot create directory %s: %s", dir, strerror(-rc));
			return rc;
		}
		made = true;
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0) {
		rc = -errno;
		/* O_NOFOLLOW|O_DIRECTORY on a symlink: ELOOP, or ENOTDIR on some kernels */
		if ((rc == -ELOOP || rc == -ENOTDIR) && !lstat(dir, &st) && S_ISLNK(st.st_mode)) {
			*why = NM_FS_SYMLINK;
			snprintf(err, errlen, "directory %s is a symbolic link: refused", dir);
		} else if (rc == -ENOTDIR) {
			*why = NM_FS_NOT_REGULAR;
			snprintf(err, errlen, "%s is not a directory", dir);
		} else {
			snprintf(err, errlen, "cannot open directory %s: %s", dir, strerror(-rc));
		}
		return rc;
	}
	if (fstat(fd, &st)) {
		rc = -errno;
		snprintf(err, errlen, "cannot stat %s: %s", dir, strerror(-rc));
		goto fail;
	}
	/* exactly @mode whatever the umask; never chmod a directory someone else made meanwhile */
	if (made && st.st_uid == geteuid() && (st.st_mode & 07777) != mode) {
		if (fchmod(fd, mode)) {
			rc = -errno;
			snprintf(err, errlen, "cannot set the mode of %s: %s", dir, strerror(-rc));
			goto fail;
		}
		st.st_mode = (st.st_mode & ~07777u) | mode;
	}
	*why = nm_fs_check_dir(&st);
	if (*why != NM_FS_OK) {
		rc = -EPERM;
		snprintf(err, errlen,
			 "directory %s (owner uid %u, mode %04o) can be written by others than the "
			 "agent's user: refused; fix with chown %u %s && chmod go-w %s",
			 dir, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
			 (unsigned)geteuid(), dir, dir);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return rc;
}

int nm_fs_check_ancestors(const char *dir, char *err, size_t errlen)
{
	char buf[PATH_MAX];
	size_t n = strlen(dir);
	struct stat st;

	if (n >= sizeof(buf)) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -ENAMETOOLONG;
	}
	memcpy(buf, dir, n + 1);
	/* every proper ancestor: "/var/log", "/var", "/" for /var/log/x */
	for (size_t i = n; i-- > 0;) {
		const char *up = buf;

		if (buf[i] != '/')
			continue;
		buf[i] = '\0';
		if (!i)
			up = "/";
		if (stat(up, &st) == 0) {
			bool others_write = st.st_mode & S_IWOTH;
			bool sticky = st.st_mode & S_ISVTX;

			if (!trusted_owner(st.st_uid) || (others_write && !sticky)) {
				snprintf(
					err, errlen,
					"%s, above %s, (owner uid %u, mode %04o) lets others replace "
					"what the agent writes: refused; fix with chown root %s && "
					"chmod o-w %s",
					up, dir, (unsigned)st.st_uid,
					(unsigned)(st.st_mode & 07777), up, up);
				return -EPERM;
			}
		}
	}
	return 0;
}
