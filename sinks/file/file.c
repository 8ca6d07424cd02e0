/* file.c - the file sink: JSON lines or concatenated MessagePack, size rotation, gzip of rotated files. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <zlib.h>

#include "../sink.h"
#include "../lib/clock.h"
#include "../lib/ratelimit.h"
#include "../lib/recbuf.h"
#include "../lib/sinkutil.h"
#include "../../src/fsutil.h"

/* How often the file and its directory are compared with their names, and a failure retried. */
#define CHECK_EVERY_MS 250
#define RETRY_EVERY_MS 200

struct file_config {
	char *path;
	long long rotate_bytes;
	long long rotate_keep;
	bool compress;
	char *mode;
	char *dir_mode;
};

/* Why the sink left its file and opened the name again. */
enum file_fault {
	FAULT_DELETED,	/* the file was unlinked: what is written to it is lost */
	FAULT_MOVED,	/* renamed away (logrotate without SIGHUP) */
	FAULT_REPLACED, /* another file or a symlink is at the name now */
	FAULT_DIR_GONE, /* the directory was removed, renamed or replaced */
	FAULT_COUNT,
};

static const char *const fault_names[FAULT_COUNT] = {"deleted", "moved", "replaced", "dir_gone"};

/*
 * A rotated file being gzipped on a thread of its own: 100 MB takes seconds,
 * and the live file goes on taking events meanwhile. The next rotation waits
 * for it before it shifts the names.
 */
struct compress_job {
	pthread_t thread;
	bool running;	  /* a thread was started and not yet joined */
	atomic_bool done; /* the thread has finished: joining will not wait */
	int dirfd;	  /* owned by the thread: a duplicate of the sink's */
	int src;	  /* owned by the thread: the rotated file */
	struct stat st;	  /* of src, when it was renamed */
	char from[NAME_MAX + 1], to[NAME_MAX + 1];
	int rc; /* the thread's result, read after the join */
};

struct file_sink {
	struct nm_recbuf rb;	       /* first: the nm_recbuf_sink_* operations get this */
	const struct file_config *cfg; /* borrowed */
	const struct nm_sink_env *env; /* borrowed */
	char *dir;		       /* owned: the directory part of path */
	char *base;		       /* owned: the file name in dir */
	mode_t mode, dir_mode;
	int dirfd; /* every name is opened, renamed and removed relative to it */
	int fd;	   /* the live file, O_RDWR|O_APPEND; -1 until (re)opened */
	dev_t dev;
	ino_t ino;
	uint64_t file_size;
	size_t partial;	     /* bytes of the next pending record already written to fd */
	int64_t check_at_ms; /* next comparison of fd and dirfd with their names */
	int64_t open_at_ms;  /* after a failed open: not retried before */
	uint64_t rotations;
	uint64_t compress_errors;
	struct compress_job job;
	uint64_t refused[NM_FS_REFUSAL_COUNT];
	uint64_t open_errors; /* tries to open the directory or file that failed, refusals aside */
	uint64_t reopened[FAULT_COUNT];
	const char *fault; /* what is wrong now (logged once), NULL when writing works */
	struct nm_ratelimit rl;
};

#define file_log(s, level, ...) nm_sink_log((s)->env, "file", &(s)->rl, level, __VA_ARGS__)

/* Log @what once when it starts (not again while it lasts), as @level. */
static void set_fault(struct file_sink *s, const char *what, int level, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void set_fault(struct file_sink *s, const char *what, int level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	s->rb.failing = true;
	if (s->fault == what)
		return;
	s->fault = what;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	file_log(s, level, "%s", msg);
}

static void clear_fault(struct file_sink *s)
{
	if (s->fault)
		file_log(s, NM_LOG_INFO, "writing to %s again", s->cfg->path);
	s->fault = NULL;
}

static int open_dir(struct file_sink *s, char *err, size_t errlen)
{
	enum nm_fs_refusal why;
	int fd;

	if (s->dirfd >= 0)
		return 0;
	fd = nm_fs_open_dir(s->dir, true, s->dir_mode, &why, err, errlen);
	if (fd < 0) {
		if (why != NM_FS_OK)
			s->refused[why]++;
		return fd;
	}
	s->dirfd = fd;
	return 0;
}

static const char *refusal_text(enum nm_fs_refusal why)
{
	switch (why) {
	case NM_FS_SYMLINK:
		return "is a symbolic link: refusing to write through it (remove it)";
	case NM_FS_NOT_REGULAR:
		return "is not a regular file: refused (remove it)";
	case NM_FS_NOT_OURS:
		return "belongs to another user: refused (remove it or chown it to the agent's user)";
	case NM_FS_HARD_LINKED:
		return "has other hard links, so it may be another file: refused (remove it)";
	default:
		return "was refused";
	}
}

/* Open or create the live file in dirfd; a file created gets exactly `mode`. */
static int open_live(struct file_sink *s, char *err, size_t errlen)
{
	enum nm_fs_refusal why;
	struct stat st;
	int fd;

	fd = nm_fs_openat(s->dirfd, s->base, O_RDWR | O_APPEND | O_CREAT, s->mode, NULL, &why);
	if (fd < 0) {
		if (why != NM_FS_OK) {
			s->refused[why]++;
			snprintf(err, errlen, "%s %s", s->cfg->path, refusal_text(why));
		} else {
			snprintf(err, errlen, "cannot open %s: %s", s->cfg->path, strerror(-fd));
		}
		return fd;
	}
	if (fstat(fd, &st)) {
		int rc = -errno;

		snprintf(err, errlen, "cannot stat %s: %s", s->cfg->path, strerror(errno));
		close(fd);
		return rc;
	}
	s->fd = fd;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->file_size = (uint64_t)st.st_size;
	s->partial = 0;
	return 0;
}

/* The directory and the live file open, or a counted, logged failure retried later. */
static int ensure_open(struct file_sink *s)
{
	char err[1024];
	int rc;

	if (s->dirfd >= 0 && s->fd >= 0)
		return 0;
	if (nm_mono_ms() < s->open_at_ms)
		return -EAGAIN;
	rc = open_dir(s, err, sizeof(err));
	if (!rc)
		rc = open_live(s, err, sizeof(err));
	if (rc) {
		s->open_at_ms = nm_mono_ms() + RETRY_EVERY_MS;
		if (rc != -ELOOP && rc != -EPERM)
			s->open_errors++;
		/* a refusal is keyed by its reason, anything else by the errno */
		set_fault(s, rc == -ELOOP || rc == -EPERM ? "refused" : "open", NM_LOG_ERR, "%s",
			  err);
		return rc;
	}
	s->open_at_ms = 0;
	return 0;
}

/*
 * Leave the live file. A record begun in it is finished there when the file
 * still has a name (what was written stays whole where it is), or else cut
 * off, and then written whole to the next file: no torn line either way.
 */
static void leave_file(struct file_sink *s, bool linked)
{
	struct stat st;

	if (s->fd < 0)
		return;
	if (s->partial && linked) {
		size_t len = nm_recbuf_span(&s->rb, 1) - s->partial, done;

		if (!nm_write_full(s->fd, nm_recbuf_data(&s->rb) + s->partial, len, &done)) {
			s->partial = 0;
			nm_recbuf_release(&s->rb, 1, 0, s->env);
		} else {
			s->partial += done;
		}
	}
	if (s->partial && !fstat(s->fd, &st) && (uint64_t)st.st_size >= s->partial &&
	    ftruncate(s->fd, st.st_size - (off_t)s->partial))
		file_log(s, NM_LOG_ERR, "cannot cut a partial record from %s: %s", s->cfg->path,
			 strerror(errno));
	s->partial = 0;
	close(s->fd);
	s->fd = -1;
}

static void leave_dir(struct file_sink *s)
{
	if (s->dirfd >= 0)
		close(s->dirfd);
	s->dirfd = -1;
}

static void count_fault(struct file_sink *s, enum file_fault f, bool linked)
{
	s->reopened[f]++;
	file_log(s, NM_LOG_WARN, "%s: %s; opening it again", s->cfg->path,
		 f == FAULT_DELETED    ? "the file was deleted"
		 : f == FAULT_MOVED    ? "the file was renamed away"
		 : f == FAULT_REPLACED ? "the file was replaced"
				       : "its directory was removed or replaced");
	leave_file(s, linked);
	if (f == FAULT_DIR_GONE)
		leave_dir(s);
	s->open_at_ms = 0;
}

/*
 * Compare the open directory and file with what their names are now: a file
 * deleted, renamed away or replaced, or a directory removed or replaced, is
 * left for a new one. Also picks up a size changed by others (copytruncate).
 */
static void check_names(struct file_sink *s)
{
	struct stat fd_st, name_st;
	bool fd_ok;

	fd_ok = s->fd >= 0 && !fstat(s->fd, &fd_st);
	if (s->dirfd >= 0) {
		struct stat dir_st;

		if (fstat(s->dirfd, &dir_st) || dir_st.st_nlink == 0 ||
		    fstatat(AT_FDCWD, s->dir, &name_st, AT_SYMLINK_NOFOLLOW) ||
		    name_st.st_dev != dir_st.st_dev || name_st.st_ino != dir_st.st_ino) {
			count_fault(s, FAULT_DIR_GONE, fd_ok && fd_st.st_nlink > 0);
			return;
		}
	}
	if (!fd_ok)
		return;
	if (fd_st.st_nlink == 0) {
		count_fault(s, FAULT_DELETED, false);
	} else if (fstatat(s->dirfd, s->base, &name_st, AT_SYMLINK_NOFOLLOW)) {
		count_fault(s, FAULT_MOVED, true);
	} else if (name_st.st_dev != s->dev || name_st.st_ino != s->ino) {
		count_fault(s, FAULT_REPLACED, true);
	} else {
		s->file_size = (uint64_t)fd_st.st_size;
	}
}

/* path.N, or path.N.gz when @gz: the name within the directory. 0, or -ENAMETOOLONG. */
static int rotated_name(const struct file_sink *s, long long n, bool gz, char *out, size_t len)
{
	int w = snprintf(out, len, "%s.%lld%s", s->base, n, gz ? ".gz" : "");

	return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}

/*
 * gzip what @src (the file just rotated to @from, described by @st) holds into
 * @to: through an exclusively created temporary with an unpredictable name,
 * given the live file's mode and owner before a byte goes in, then renamed.
 */
static int compress_rotated(int dirfd, int src, const struct stat *st, const char *from,
			    const char *to)
{
	char tmp[NAME_MAX + 1], prefix[NAME_MAX + 1], chunk[65536];
	struct stat now;
	off_t off = 0;
	ssize_t n;
	gzFile gz;
	int fd, rc = 0;

	if ((size_t)snprintf(prefix, sizeof(prefix), ".%s.", to) >= sizeof(prefix) - 12)
		return -ENAMETOOLONG;
	fd = nm_fs_mktemp(dirfd, prefix, st->st_mode & 07777, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	if ((st->st_uid != geteuid() || st->st_gid != getegid()) &&
	    fchown(fd, st->st_uid, st->st_gid)) {
		rc = -errno;
		close(fd);
		goto out;
	}
	gz = gzdopen(fd, "wb6"); /* now owns fd */
	if (!gz) {
		close(fd);
		rc = -ENOMEM;
		goto out;
	}
	gzbuffer(gz, sizeof(chunk)); /* zlib's 8 KiB default: a write(2) per 8 KiB out */
	while ((n = pread(src, chunk, sizeof(chunk), off)) > 0) {
		off += n;
		if (gzwrite(gz, chunk, (unsigned)n) != n) {
			rc = -EIO;
			break;
		}
	}
	if (n < 0 && !rc)
		rc = -errno;
	if (gzclose(gz) != Z_OK && !rc)
		rc = -EIO;
	if (!rc && renameat(dirfd, tmp, dirfd, to))
		rc = -errno;
out:
	if (rc) {
		unlinkat(dirfd, tmp, 0);
		return rc;
	}
	/* remove the uncompressed file only while the name is still that file */
	if (!fstatat(dirfd, from, &now, AT_SYMLINK_NOFOLLOW) && now.st_dev == st->st_dev &&
	    now.st_ino == st->st_ino)
		unlinkat(dirfd, from, 0);
	return 0;
}

static void *compress_main(void *arg)
{
	struct compress_job *job = arg;

	job->rc = compress_rotated(job->dirfd, job->src, &job->st, job->from, job->to);
	close(job->src);
	close(job->dirfd);
	atomic_store(&job->done, true);
	return NULL;
}

static void compress_done(struct file_sink *s, int rc)
{
	if (!rc)
		return;
	s->compress_errors++;
	file_log(s, NM_LOG_WARN, "cannot compress %s.1: %s", s->cfg->path, strerror(-rc));
}

/* Collect a finished compression (or, with @wait, the running one). */
static void finish_compress(struct file_sink *s, bool wait)
{
	struct compress_job *job = &s->job;

	if (!job->running || (!wait && !atomic_load(&job->done)))
		return;
	pthread_join(job->thread, NULL);
	job->running = false;
	compress_done(s, job->rc);
}

/* gzip @old (now owned here), renamed to job.from, into job.to: on a thread, or here if none starts. */
static void start_compress(struct file_sink *s, int old, const struct stat *st)
{
	struct compress_job *job = &s->job;

	job->src = old;
	job->st = *st;
	job->rc = 0;
	atomic_store(&job->done, false);
	job->dirfd = fcntl(s->dirfd, F_DUPFD_CLOEXEC, 0);
	if (job->dirfd >= 0 && !pthread_create(&job->thread, NULL, compress_main, job)) {
		job->running = true;
		return;
	}
	if (job->dirfd >= 0)
		close(job->dirfd);
	compress_done(s, compress_rotated(s->dirfd, old, st, job->from, job->to));
	close(old);
}

/* path -> path.1[.gz], shifting older files up and removing the one past rotate_keep. */
static int rotate(struct file_sink *s)
{
	bool gz = s->cfg->compress;
	char from[NAME_MAX + 1], to[NAME_MAX + 1];
	struct stat st;
	int old, rc;

	finish_compress(s, true); /* it renames into the names shifted here */
	check_names(s);		  /* never rename a name that is no longer our file */
	if (s->fd < 0)
		return 0;
	if (fstat(s->fd, &st))
		return -errno;
	rc = rotated_name(s, s->cfg->rotate_keep, gz, to, sizeof(to));
	if (rc)
		goto failed;
	unlinkat(s->dirfd, to, 0);
	for (long long i = s->cfg->rotate_keep - 1; i >= 1; i--) {
		if (!rotated_name(s, i, gz, from, sizeof(from)) &&
		    !rotated_name(s, i + 1, gz, to, sizeof(to)))
			renameat(s->dirfd, from, s->dirfd, to);
	}
	rotated_name(s, 1, false, from, sizeof(from));
	if (renameat(s->dirfd, s->base, s->dirfd, from)) {
		rc = -errno;
		goto failed;
	}
	/* The old file is about to be compressed away: never write to it again. */
	old = s->fd;
	s->fd = -1;
	s->file_size = 0;
	s->rotations++;
	if (!gz) {
		close(old);
		return 0;
	}
	memcpy(s->job.from, from, sizeof(from));
	rotated_name(s, 1, true, s->job.to, sizeof(s->job.to));
	start_compress(s, old, &st); /* now owns old */
	return 0;
failed:
	set_fault(s, "rotate", NM_LOG_WARN, "cannot rotate %s: %s", s->cfg->path, strerror(-rc));
	return rc;
}

/* Whether the next record must go to a new file. */
static bool must_rotate(const struct file_sink *s)
{
	return s->cfg->rotate_bytes && !s->partial && s->file_size &&
	       s->file_size + nm_recbuf_span(&s->rb, 1) > (uint64_t)s->cfg->rotate_bytes;
}

/* How many pending records go into the current file before it must rotate; at least one. */
static size_t records_that_fit(const struct file_sink *s)
{
	size_t pending = nm_recbuf_pending(&s->rb), n = 1;
	uint64_t start = s->file_size - s->partial; /* where the next record began */

	if (!s->cfg->rotate_bytes)
		return pending;
	while (n < pending &&
	       start + nm_recbuf_span(&s->rb, n + 1) <= (uint64_t)s->cfg->rotate_bytes)
		n++;
	return n;
}

/*
 * Write what went out of @done bytes (after the @partial already there) and
 * report every record it completed. A file found unlinked afterwards took it
 * into the void: nothing is reported, the records go again to a new file.
 */
static void account(struct file_sink *s, size_t done)
{
	size_t total = s->partial + done, whole = nm_recbuf_whole(&s->rb, total);
	struct stat st;

	if (!fstat(s->fd, &st) && st.st_nlink == 0) {
		s->partial = 0;
		count_fault(s, FAULT_DELETED, false);
		return;
	}
	s->file_size += done;
	s->partial = total - nm_recbuf_span(&s->rb, whole);
	nm_recbuf_release(&s->rb, whole, 0, s->env);
}

/*
 * Write pending records in order, rotating between records. A partial write
 * keeps what went out and goes on from there when the disk has room again.
 */
static void write_out(void *sink)
{
	struct file_sink *s = sink;
	int64_t now = nm_mono_ms();

	if (now >= s->check_at_ms) {
		s->check_at_ms = now + CHECK_EVERY_MS;
		finish_compress(s, false);
		check_names(s);
		if (!nm_recbuf_pending(&s->rb)) {
			/* recreate a deleted file even with nothing to write */
			if (!ensure_open(s)) {
				nm_recbuf_succeeded(&s->rb);
				clear_fault(s);
			}
			return;
		}
	}
	if (!nm_recbuf_ready(&s->rb))
		return;
	while (nm_recbuf_pending(&s->rb)) {
		size_t len, done;
		int rc;

		if (ensure_open(s))
			goto failed;
		if (must_rotate(s)) {
			if (rotate(s))
				goto failed;
			continue;
		}
		len = nm_recbuf_span(&s->rb, records_that_fit(s)) - s->partial;
		rc = nm_write_full(s->fd, nm_recbuf_data(&s->rb) + s->partial, len, &done);
		account(s, done);
		if (rc) {
			s->rb.write_errors++;
			set_fault(s, "write", NM_LOG_ERR, "write to %s failed: %s", s->cfg->path,
				  strerror(-rc));
			goto failed;
		}
	}
	nm_recbuf_succeeded(&s->rb);
	clear_fault(s);
	return;
failed:
	nm_recbuf_failed(&s->rb);
}

/* Split path into its directory and file name, both owned by @s. */
static int split_path(struct file_sink *s, const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash) {
		s->dir = strdup(".");
		s->base = strdup(path);
	} else {
		s->dir = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
		s->base = strdup(slash + 1);
	}
	return s->dir && s->base ? 0 : -ENOMEM;
}

static void file_destroy(void *sink);

static void *file_create(const void *config, const struct nm_sink_env *env, char *err,
			 size_t errlen)
{
	const struct file_config *cfg = config;
	struct file_sink *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	nm_recbuf_init(&s->rb, write_out, env->format == NM_FORMAT_JSON);
	s->rb.retry_ms = RETRY_EVERY_MS;
	s->cfg = cfg;
	s->env = env;
	s->fd = -1;
	s->dirfd = -1;
	s->mode = (mode_t)strtol(cfg->mode, NULL, 8);
	s->dir_mode = (mode_t)strtol(cfg->dir_mode, NULL, 8);
	if (split_path(s, cfg->path)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (nm_fs_check_ancestors(s->dir, err, errlen) || open_dir(s, err, errlen) ||
	    open_live(s, err, errlen))
		goto fail;
	return s;
fail:
	file_destroy(s);
	return NULL;
}

/* SIGHUP: finish what can be written, then open the directory and the file by name again. */
static void file_reopen(void *sink)
{
	struct file_sink *s = sink;

	write_out(s);
	leave_file(s, true);
	leave_dir(s);
	s->open_at_ms = 0;
	if (!ensure_open(s) && !nm_recbuf_pending(&s->rb)) {
		nm_recbuf_succeeded(&s->rb);
		clear_fault(s);
	}
}

static bool file_healthy(void *sink)
{
	struct file_sink *s = sink;

	/* between two files (a rotation) fd is -1 for a moment: only a failure to open counts */
	return !s->rb.failing;
}

static void file_stats(void *sink, struct nm_writer *w)
{
	struct file_sink *s = sink;
	uint64_t total = 0;
	char key[64];

	nm_recbuf_stats(&s->rb, w);
	nm_w_cstr(w, "path", s->cfg->path);
	nm_w_u64(w, "rotations", s->rotations);
	nm_w_u64(w, "compress_errors", s->compress_errors);
	nm_w_u64(w, "open_errors", s->open_errors);
	for (int i = 1; i < NM_FS_REFUSAL_COUNT; i++)
		total += s->refused[i];
	nm_w_u64(w, "refused", total);
	for (int i = 1; i < NM_FS_REFUSAL_COUNT; i++) {
		snprintf(key, sizeof(key), "refused_%s", nm_fs_refusal_names[i]);
		nm_w_u64(w, key, s->refused[i]);
	}
	total = 0;
	for (int i = 0; i < FAULT_COUNT; i++)
		total += s->reopened[i];
	nm_w_u64(w, "reopened", total);
	for (int i = 0; i < FAULT_COUNT; i++) {
		snprintf(key, sizeof(key), "reopened_%s", fault_names[i]);
		nm_w_u64(w, key, s->reopened[i]);
	}
}

static void file_destroy(void *sink)
{
	struct file_sink *s = sink;

	if (!s)
		return;
	leave_file(s, true); /* no torn record left behind */
	finish_compress(s, true);
	leave_dir(s);
	nm_recbuf_free(&s->rb);
	free(s->dir);
	free(s->base);
	free(s);
}

static int parse_mode(const char *key, const char *text, mode_t *mode, char *err, size_t errlen)
{
	char *end;
	long v = strtol(text, &end, 8);

	if (!text[0] || *end || v < 0 || v > 07777) {
		snprintf(err, errlen, "'%s' = \"%s\" is not an octal file mode", key, text);
		return -EINVAL;
	}
	*mode = (mode_t)v;
	return 0;
}

static int file_validate(const void *config, char *err, size_t errlen)
{
	const struct file_config *c = config;
	const char *slash;
	mode_t mode;

	if (!c->path || !c->path[0]) {
		snprintf(err, errlen, "a file sink needs 'path'");
		return -EINVAL;
	}
	slash = strrchr(c->path, '/');
	if (!(slash ? slash[1] : c->path[0]) || strlen(slash ? slash + 1 : c->path) > 200) {
		snprintf(err, errlen, "'path' = \"%s\" needs a file name of 1 to 200 bytes",
			 c->path);
		return -EINVAL;
	}
	if (parse_mode("mode", c->mode, &mode, err, errlen) ||
	    parse_mode("dir_mode", c->dir_mode, &mode, err, errlen))
		return -EINVAL;
	if (mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen,
			 "'dir_mode' = \"%s\" lets others write the directory, which is refused; "
			 "use 0750 or 0700",
			 c->dir_mode);
		return -EINVAL;
	}
	return 0;
}

static const struct nm_option file_options[] = {
	{"path", NM_OPT_STRING, offsetof(struct file_config, path), NULL, 0, 0, NULL,
	 "file to append events to"},
	{"rotate_bytes", NM_OPT_INT, offsetof(struct file_config, rotate_bytes), "104857600", 0,
	 1LL << 50, NULL, "rotate when the file would grow past this size; 0 = never"},
	{"rotate_keep", NM_OPT_INT, offsetof(struct file_config, rotate_keep), "5", 1, 1000, NULL,
	 "rotated files kept"},
	{"compress", NM_OPT_BOOL, offsetof(struct file_config, compress), "true", 0, 0, NULL,
	 "gzip rotated files"},
	{"mode", NM_OPT_STRING, offsetof(struct file_config, mode), "0640", 0, 0, NULL,
	 "permissions of a created file"},
	{"dir_mode", NM_OPT_STRING, offsetof(struct file_config, dir_mode), "0750", 0, 0, NULL,
	 "permissions of the directory when the sink creates it; never group- or other-writable"},
	{NULL},
};

const struct nm_sink_type nm_sink_file = {
	.api_version = NM_SINK_API_VERSION,
	.name = "file",
	.description = "append to a local file with size-based rotation",
	.options = file_options,
	.config_size = sizeof(struct file_config),
	.validate = file_validate,
	.create = file_create,
	.write = nm_recbuf_sink_write,
	.poll = nm_recbuf_sink_poll,
	.flush = nm_recbuf_sink_flush,
	.reopen = file_reopen,
	.stats = file_stats,
	.healthy = file_healthy,
	.destroy = file_destroy,
};

NM_SINK_EXPORT(nm_sink_file);
