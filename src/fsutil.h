/* fsutil.h - small file-system helpers shared by the control socket, the spool and the file sink. */
#ifndef NM_FSUTIL_H
#define NM_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* mkdir -p: create @dir and its missing parents with @mode. 0 or -errno. */
int nm_mkdir_p(const char *dir, mode_t mode);

/*
 * Why a file or directory was not used: the agent runs as root where others
 * have accounts, so a name it opens may be a planted symlink, a FIFO, a hard
 * link to another file, or a directory someone else can write.
 */
enum nm_fs_refusal {
	NM_FS_OK = 0,
	NM_FS_SYMLINK,	   /* the name is a symbolic link */
	NM_FS_NOT_REGULAR, /* a FIFO, device, directory, socket... where a file was wanted */
	NM_FS_NOT_OURS,	   /* owned by another user than the agent's effective one */
	NM_FS_HARD_LINKED, /* a file with more than one name: it may be someone else's file */
	NM_FS_UNSAFE_DIR,  /* a directory that is not ours or that group or others can write */
	NM_FS_REFUSAL_COUNT,
};

/*
 * The user the agent runs as once loaded (config `user`): trusted to own
 * directories the agent writes in, as root and the current effective user
 * are, so that --check-config run as root judges what the dropped agent will.
 */
void nm_fs_set_agent_uid(uid_t uid);

/* snake_case names of the refusals, for stats keys and logs. */
extern const char *const nm_fs_refusal_names[NM_FS_REFUSAL_COUNT];

/* The refusal for what fstat() returned for a file about to be written or read. */
enum nm_fs_refusal nm_fs_check_file(const struct stat *st);

/* The refusal for a directory the agent writes in: ours (or root's), not group/other-writable. */
enum nm_fs_refusal nm_fs_check_dir(const struct stat *st);

/*
 * Open @name in @dirfd for @flags (O_CREAT allowed) without following a
 * symlink, close-on-exec, and refuse anything nm_fs_check_file refuses. A file
 * it creates gets exactly @mode whatever the umask; *@created (may be NULL)
 * says whether it did. Returns the fd, or a negative errno with *@why set when
 * the name exists but was refused (-ELOOP for a symlink, -EPERM otherwise).
 */
int nm_fs_openat(int dirfd, const char *name, int flags, mode_t mode, bool *created,
		 enum nm_fs_refusal *why);

/*
 * A new temporary file in @dirfd named "@prefix" plus random characters,
 * created exclusively (O_EXCL, never through a symlink), readable and
 * writable, with exactly @mode. Its name goes to @name (@len bytes). The fd,
 * or a negative errno.
 */
int nm_fs_mktemp(int dirfd, const char *prefix, mode_t mode, char *name, size_t len);

/*
 * Open directory @dir (O_DIRECTORY, its last component not followed) and
 * refuse it as nm_fs_check_dir does. When it is missing and @create, create
 * it and its missing parents (with @mode less the umask), the last one with
 * exactly @mode. Returns the fd, or a negative errno with *@why set on a
 * refusal and a message in @err.
 */
int nm_fs_open_dir(const char *dir, bool create, mode_t mode, enum nm_fs_refusal *why, char *err,
		   size_t errlen);

/*
 * sshd's StrictModes for the directories above a path the agent writes in:
 * each existing ancestor of @dir must be owned by root or the agent's user and
 * not writable by others unless sticky (as /tmp is). Group-writable ancestors
 * pass (Ubuntu's /var/log is root:syslog 0775): the directory itself is
 * checked by nm_fs_open_dir at every open. 0, or -EPERM with how to fix it in @err.
 */
int nm_fs_check_ancestors(const char *dir, char *err, size_t errlen);

#endif
