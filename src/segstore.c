/* segstore.c - checksummed records in append-only segment files: framing, scan, ack, lock. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <zlib.h>

#include "fsutil.h"
#include "log.h"
#include "segstore.h"
#include "../sinks/lib/buf.h"
#include "../sinks/lib/clock.h"

#define REC_MAGIC    0x314d534eU /* "NSM1" little-endian */
#define HDR_LEN	     16
#define BODY_MAX     (16u << 20)
#define SEG_MAX	     (16u << 20)
#define FIRST_SEG    (1ULL << 31) /* leaves room for front segments below */
#define SEG_GAP	     16
#define ACK_EVERY_MS 250
#define SEG_NAME_LEN 20 /* 16 hex digits and ".seg" */
#define IOV_MAX_BODY 7
#define ACK_MAGIC    0x314b414eU /* "NAK1" little-endian */
#define ACK_SLOT_LEN 32
#define ACK_FILE_LEN (2 * ACK_SLOT_LEN)

/*
 * The ack file is two fixed slots rewritten in place with pwrite, so saving
 * the position never needs a free block (the file is preallocated when the
 * spool opens); the valid slot with the higher sequence wins, so a torn
 * write costs at most the newest position, never the older one.
 */
struct ack_slot {
	uint32_t magic;
	uint32_t crc; /* CRC-32 of the slot with this field zero */
	uint64_t seq;
	uint64_t seg;
	uint64_t off;
};
_Static_assert(sizeof(struct ack_slot) == ACK_SLOT_LEN, "ack slot is 32 bytes on disk");

struct seg {
	uint64_t num;
	uint64_t size;
};

struct nm_segstore {
	char *dir; /* for messages */
	int dirfd; /* every file is opened relative to it, never through a symlink */
	int lockfd;
	uint64_t max_bytes;
	struct seg *segs; /* ascending */
	size_t nsegs;
	size_t cap;

	int wfd; /* appends go to the last segment (or the first, wfront) while open */
	uint64_t wnum;
	bool wfront;
	bool durable;	      /* nm_segstore_set_durable: read only what is committed */
	uint64_t wsynced;     /* committed size of segment wnum */
	uint64_t wunsynced_b; /* bytes appended to it since */
	bool dir_dirty;	      /* a segment was created since the last commit */
	uint64_t removed_max; /* highest segment number removed: never reused */
	size_t ridx;	      /* read position: segment index and offset */
	uint64_t roff;
	int rfd;
	uint64_t rfd_num;

	uint64_t ack_seg;
	uint64_t ack_off;
	uint64_t ack_seq; /* of the slot last written */
	int ackfd;	  /* the preallocated ack file, or -1 until it could be made */
	int64_t ack_written_ms;
	bool ack_dirty;
	bool ack_failing; /* the last save failed: said once, said again when it works */

	struct nm_segstore_stats st;
	struct nm_buf rec; /* the body last read */
	struct nm_ratelimit rl;
};

static void seg_name(uint64_t num, char out[SEG_NAME_LEN + 1])
{
	snprintf(out, SEG_NAME_LEN + 1, "%016llx.seg", (unsigned long long)num);
}

/*
 * Open @name in the spool directory, never through a symlink, and use it only
 * when it is a regular file of ours with no other name (a planted hard link
 * would make us write elsewhere). Created 0600; an old file with a wider mode
 * is narrowed. The fd or -errno (-EPERM for a file that is not ours).
 */
static int open_file(struct nm_segstore *s, const char *name, int flags)
{
	int fd = openat(s->dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC, 0600);
	struct stat st;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || st.st_nlink != 1 ||
	    ((st.st_mode & 077) && fchmod(fd, 0600))) {
		nm_log_ratelimited(
			&s->rl, NM_LOG_ERR,
			"spool %s: refusing %s: not a regular file of ours with one link", s->dir,
			name);
		close(fd);
		return -EPERM;
	}
	return fd;
}

static int insert_seg(struct nm_segstore *s, size_t at, uint64_t num, uint64_t size)
{
	if (s->nsegs == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		struct seg *n = realloc(s->segs, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		s->segs = n;
		s->cap = cap;
	}
	if (at < s->nsegs)
		memmove(&s->segs[at + 1], &s->segs[at], (s->nsegs - at) * sizeof(*s->segs));
	s->segs[at] = (struct seg){num, size};
	s->nsegs++;
	return 0;
}

static void remove_first_seg(struct nm_segstore *s)
{
	char name[SEG_NAME_LEN + 1];

	seg_name(s->segs[0].num, name);
	unlinkat(s->dirfd, name, 0);
	s->st.bytes -= s->segs[0].size;
	if (s->segs[0].num > s->removed_max)
		s->removed_max = s->segs[0].num;
	if (s->rfd >= 0 && s->rfd_num == s->segs[0].num) {
		close(s->rfd);
		s->rfd = -1;
	}
	if (s->wfd >= 0 && s->wnum == s->segs[0].num) {
		close(s->wfd); /* everything in it was delivered: nothing to sync */
		s->wfd = -1;
		s->wfront = false;
		s->st.unsynced = 0;
		s->wunsynced_b = 0;
	}
	memmove(&s->segs[0], &s->segs[1], (s->nsegs - 1) * sizeof(*s->segs));
	s->nsegs--;
	if (s->ridx)
		s->ridx--;
	else
		s->roff = 0;
}

static void fill_slot(struct ack_slot *slot, uint64_t seq, uint64_t seg, uint64_t off)
{
	*slot = (struct ack_slot){.magic = ACK_MAGIC, .seq = seq, .seg = seg, .off = off};
	slot->crc = (uint32_t)crc32(0, (const uint8_t *)slot, sizeof(*slot));
}

static bool slot_ok(const struct ack_slot *slot)
{
	struct ack_slot c = *slot;

	c.crc = 0;
	return slot->magic == ACK_MAGIC &&
	       slot->crc == (uint32_t)crc32(0, (const uint8_t *)&c, sizeof(c));
}

/* Open the ack file and give it its two slots (needs space once); 0 or -errno. */
static int ack_prepare(struct nm_segstore *s)
{
	struct ack_slot slots[2];
	struct stat st;
	int fd = open_file(s, "ack", O_RDWR | O_CREAT);

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) == 0 && st.st_size == ACK_FILE_LEN) {
		s->ackfd = fd;
		return 0;
	}
	/* New, or a text ack of an older version (already read): both slots at the position. */
	fill_slot(&slots[(s->ack_seq + 1) % 2], s->ack_seq + 1, s->ack_seg, s->ack_off);
	fill_slot(&slots[s->ack_seq % 2], s->ack_seq, s->ack_seg, s->ack_off);
	errno = 0; /* a short write sets none: then it is the disk being full */
	if (pwrite(fd, slots, sizeof(slots), 0) != (ssize_t)sizeof(slots) ||
	    ftruncate(fd, ACK_FILE_LEN)) {
		int e = errno ? errno : ENOSPC;

		close(fd);
		return -e;
	}
	s->ack_seq++;
	s->ackfd = fd;
	return 0;
}

/* Save the ack position in the older slot, in place: no block is allocated. */
static void write_ack(struct nm_segstore *s, bool now)
{
	struct ack_slot slot;
	int rc = 0;

	if (!s->ack_dirty ||
	    (!now && !s->durable && nm_mono_ms() - s->ack_written_ms < ACK_EVERY_MS))
		return;
	s->ack_written_ms = nm_mono_ms(); /* a failing save is retried at the same pace */
	if (s->ackfd < 0)
		rc = ack_prepare(s);
	if (!rc) {
		fill_slot(&slot, s->ack_seq + 1, s->ack_seg, s->ack_off);
		errno = 0;
		if (pwrite(s->ackfd, &slot, sizeof(slot),
			   (off_t)((s->ack_seq + 1) % 2 * ACK_SLOT_LEN)) != (ssize_t)sizeof(slot))
			rc = errno ? -errno : -EIO;
	}
	if (rc) {
		s->st.ack_errors++;
		if (!s->ack_failing)
			nm_log_ratelimited(&s->rl, NM_LOG_ERR,
					   "spool %s: cannot save the ack position: %s; a restart "
					   "may send events of partly delivered segments again",
					   s->dir, strerror(-rc));
		s->ack_failing = true;
		return;
	}
	if (s->ack_failing)
		nm_info("spool %s: the ack position is saved again", s->dir);
	s->ack_failing = false;
	s->ack_seq++;
	s->ack_dirty = false;
}

/* The newer valid slot of the ack file, or an older version's text line. */
static void read_ack(struct nm_segstore *s)
{
	int fd = open_file(s, "ack", O_RDONLY);
	struct ack_slot slots[2];
	unsigned long long seg, off;
	char line[64];
	ssize_t n;

	if (fd < 0)
		return;
	n = pread(fd, slots, sizeof(slots), 0);
	close(fd);
	if (n == (ssize_t)sizeof(slots) && (slot_ok(&slots[0]) || slot_ok(&slots[1]))) {
		const struct ack_slot *best = &slots[0];

		if (!slot_ok(&slots[0]) || (slot_ok(&slots[1]) && slots[1].seq > slots[0].seq))
			best = &slots[1];
		s->ack_seq = best->seq;
		s->ack_seg = best->seg;
		s->ack_off = best->off;
		return;
	}
	if (n <= 0)
		return;
	n = n < (ssize_t)sizeof(line) ? n : (ssize_t)sizeof(line) - 1;
	memcpy(line, slots, (size_t)n);
	line[n] = '\0';
	if (sscanf(line, "%llx %llx", &seg, &off) == 2) {
		s->ack_seg = seg;
		s->ack_off = off;
	}
}

/*
 * Remove the segments whose records were all delivered, the one being written
 * included, so their space is back before anything new needs it. Removing a
 * segment also acknowledges it for good: a restart never reads it again, even
 * when the ack file could not be saved.
 */
static void reclaim(struct nm_segstore *s)
{
	while (s->nsegs &&
	       (s->segs[0].num < s->ack_seg ||
		(s->segs[0].num == s->ack_seg && s->segs[0].size && s->ack_off >= s->segs[0].size)))
		remove_first_seg(s);
	s->st.segments = s->nsegs;
}

static int cmp_seg(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	return x->num < y->num ? -1 : x->num > y->num;
}

static int read_fd(struct nm_segstore *s, uint64_t num)
{
	char name[SEG_NAME_LEN + 1];

	if (s->rfd >= 0 && s->rfd_num == num)
		return s->rfd;
	if (s->rfd >= 0)
		close(s->rfd);
	seg_name(num, name);
	s->rfd = open_file(s, name, O_RDONLY);
	s->rfd_num = num;
	return s->rfd;
}

static bool header_ok(const uint8_t *h, uint64_t room, uint32_t *len, uint32_t *crc)
{
	uint32_t magic, hcrc;

	memcpy(&magic, h, 4);
	memcpy(len, h + 4, 4);
	memcpy(&hcrc, h + 8, 4);
	memcpy(crc, h + 12, 4);
	return magic == REC_MAGIC && hcrc == (uint32_t)crc32(0, h, 8) && *len <= BODY_MAX &&
	       *len + (uint64_t)HDR_LEN <= room;
}

/* A garbled or torn header at s->roff: resynchronize on the next valid one, or the end. */
static void resync(struct nm_segstore *s, int fd, const struct seg *g)
{
	uint64_t off = s->roff + 1;
	uint8_t h[HDR_LEN];
	uint32_t len, crc;

	for (; fd >= 0 && off + HDR_LEN <= g->size; off++) {
		if (pread(fd, h, HDR_LEN, (off_t)off) != HDR_LEN)
			break;
		if (header_ok(h, g->size - off, &len, &crc)) {
			s->roff = off;
			return;
		}
	}
	s->roff = g->size;
}

/*
 * Move the read position past the next whole, checksum-valid record and leave
 * its body in s->rec. False when no record is left; *@corrupt counts what was
 * skipped on the way (a torn tail, a bad checksum, a garbled header).
 */
static bool next_record(struct nm_segstore *s, uint64_t *corrupt)
{
	uint8_t h[HDR_LEN];

	while (s->ridx < s->nsegs) {
		struct seg *g = &s->segs[s->ridx];
		/* Durable: past the last commit of the segment being written is not ours yet. */
		struct seg lim = {g->num, s->durable && s->wfd >= 0 && g->num == s->wnum
						  ? s->wsynced
						  : g->size};
		uint32_t len, crc;
		int fd;

		if (lim.size < g->size) {
			if (s->roff >= lim.size)
				return false;
			g = &lim;
		}
		if (s->roff >= g->size) {
			if (s->ridx + 1 >= s->nsegs)
				return false;
			s->ridx++;
			s->roff = 0;
			continue;
		}
		fd = read_fd(s, g->num);
		if (fd < 0 || pread(fd, h, HDR_LEN, (off_t)s->roff) != HDR_LEN ||
		    !header_ok(h, g->size - s->roff, &len, &crc)) {
			(*corrupt)++;
			resync(s, fd, g);
			continue;
		}
		nm_buf_reset(&s->rec);
		if (nm_buf_reserve(&s->rec, len)) {
			s->rec.oom = 0;
			return false;
		}
		if (pread(fd, s->rec.data, len, (off_t)(s->roff + HDR_LEN)) != (ssize_t)len ||
		    (uint32_t)crc32(0, s->rec.data, len) != crc) {
			(*corrupt)++;
			s->roff += HDR_LEN + len;
			continue;
		}
		s->rec.len = len;
		s->roff += HDR_LEN + len;
		return true;
	}
	return false;
}

/* Create, open and check @dir: a directory of ours that nobody else can write. */
static int open_dir(struct nm_segstore *s, const char *dir, char *err, size_t errlen)
{
	struct stat st;
	int rc = nm_mkdir_p(dir, 0700);

	if (rc) {
		snprintf(err, errlen, "spool_dir %s: %s", dir, strerror(-rc));
		return rc;
	}
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s->dirfd < 0 || fstat(s->dirfd, &st)) {
		snprintf(err, errlen, "spool_dir %s: %s", dir, strerror(errno));
		return -errno;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 022)) {
		snprintf(err, errlen,
			 "spool_dir %s: not owned by us or writable by others (chmod go-w)", dir);
		return -EPERM;
	}
	/* 0700 whatever the umask made of it: others need not even list it. */
	if ((st.st_mode & 07777) != 0700 && fchmod(s->dirfd, 0700)) {
		snprintf(err, errlen, "spool_dir %s: chmod 0700: %s", dir, strerror(errno));
		return -errno;
	}
	return 0;
}

/* Collect the segment files at or past the ack position; delivered ones are removed. */
static int scan_segments(struct nm_segstore *s, char *err, size_t errlen)
{
	int fd = dup(s->dirfd);
	struct dirent *de;
	DIR *d;

	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "spool_dir %s: %s", s->dir, strerror(errno));
		return -errno;
	}
	while ((de = readdir(d))) {
		unsigned long long num;
		struct stat st;
		char *end;

		if (strlen(de->d_name) != SEG_NAME_LEN || strcmp(de->d_name + 16, ".seg"))
			continue;
		num = strtoull(de->d_name, &end, 16);
		if (end != de->d_name + 16)
			continue;
		if (num < s->ack_seg) {
			unlinkat(s->dirfd, de->d_name, 0); /* delivered before the last stop */
			continue;
		}
		if (fstatat(s->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
			continue;
		if (insert_seg(s, s->nsegs, num, (uint64_t)st.st_size)) {
			closedir(d);
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		s->st.bytes += (uint64_t)st.st_size;
	}
	closedir(d);
	if (s->nsegs)
		qsort(s->segs, s->nsegs, sizeof(*s->segs), cmp_seg);
	return 0;
}

struct nm_segstore *nm_segstore_open(const char *dir, uint64_t max_bytes, char *err, size_t errlen)
{
	struct nm_segstore *s = calloc(1, sizeof(*s));
	uint64_t valid = 0, corrupt = 0;
	uint64_t start_off;
	int rc;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->dirfd = s->lockfd = s->wfd = s->rfd = s->ackfd = -1;
	s->max_bytes = max_bytes;
	s->dir = strdup(dir);
	if (!s->dir) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (open_dir(s, dir, err, errlen))
		goto fail;
	s->lockfd = open_file(s, "lock", O_RDWR | O_CREAT);
	if (s->lockfd < 0) {
		snprintf(err, errlen, "spool_dir %s: lock: %s", dir, strerror(-s->lockfd));
		goto fail;
	}
	if (flock(s->lockfd, LOCK_EX | LOCK_NB)) {
		snprintf(err, errlen, "spool_dir %s: %s", dir,
			 errno == EWOULDBLOCK ? "in use by another sink or agent"
					      : strerror(errno));
		goto fail;
	}
	unlinkat(s->dirfd, "ack.tmp", 0); /* an older version's temporary */
	read_ack(s);
	/* Without space now it is made on the first save that finds some. */
	rc = ack_prepare(s);
	if (rc)
		nm_warn("spool %s: cannot preallocate the ack file yet: %s", dir, strerror(-rc));
	if (scan_segments(s, err, errlen))
		goto fail;
	start_off = s->nsegs && s->segs[0].num == s->ack_seg ? s->ack_off : 0;
	if (!s->nsegs || s->segs[0].num != s->ack_seg)
		s->removed_max = s->ack_seg; /* gone, or never was: its number is not reused */

	/* Count the backlog with the walk the reader does, so the counts agree. */
	s->roff = start_off;
	while (next_record(s, &corrupt))
		valid++;
	s->ridx = 0;
	s->roff = start_off;
	s->st.unread = valid + corrupt;
	s->st.recovered = valid + corrupt;
	s->st.segments = s->nsegs;
	return s;
fail:
	nm_segstore_close(s);
	return NULL;
}

static void close_write_seg(struct nm_segstore *s);

void nm_segstore_close(struct nm_segstore *s)
{
	if (!s)
		return;
	if (s->lockfd >= 0)
		write_ack(s, true);
	if (s->ackfd >= 0)
		close(s->ackfd);
	if (s->wfd >= 0)
		close_write_seg(s);
	if (s->rfd >= 0)
		close(s->rfd);
	if (s->lockfd >= 0)
		close(s->lockfd);
	if (s->dirfd >= 0)
		close(s->dirfd);
	nm_buf_free(&s->rec);
	free(s->segs);
	free(s->dir);
	free(s);
}

/*
 * Make what was appended since the last commit durable: the segment's data,
 * and the directory entry of a segment created since. Records written before
 * a failed commit stay readable (the page cache has them) but are not counted
 * as synced; the next commit tries again.
 */
static int commit(struct nm_segstore *s)
{
	int rc = 0;

	if (!s->st.unsynced && !s->dir_dirty)
		return 0;
	if (s->wfd >= 0 && s->st.unsynced && fdatasync(s->wfd))
		rc = -errno;
	if (!rc && s->dir_dirty && fsync(s->dirfd))
		rc = -errno;
	if (rc) {
		s->st.sync_errors++;
		nm_log_ratelimited(&s->rl, NM_LOG_ERR, "spool %s: fdatasync: %s", s->dir,
				   strerror(-rc));
	} else {
		s->dir_dirty = false;
		if (s->st.unsynced) {
			s->st.synced += s->st.unsynced;
			s->st.synced_bytes += s->wunsynced_b;
			s->st.syncs++;
		}
	}
	s->wsynced += s->wunsynced_b;
	s->wunsynced_b = 0;
	s->st.unsynced = 0;
	return rc;
}

/* Stop writing to the current segment: what is in it is committed first. */
static void close_write_seg(struct nm_segstore *s)
{
	commit(s);
	close(s->wfd);
	s->wfd = -1;
	s->wfront = false;
}

/* A number past every segment there is, was, or the ack position names. */
static uint64_t next_seg_num(const struct nm_segstore *s)
{
	uint64_t num = FIRST_SEG;

	if (s->nsegs && s->segs[s->nsegs - 1].num + SEG_GAP > num)
		num = s->segs[s->nsegs - 1].num + SEG_GAP;
	if (s->ack_seg + SEG_GAP > num)
		num = s->ack_seg + SEG_GAP;
	if (s->removed_max + SEG_GAP > num)
		num = s->removed_max + SEG_GAP;
	return num;
}

/*
 * Segments are numbered SEG_GAP apart so that a front segment fits just
 * before the first unread one. Returns the new segment's fd or -errno.
 */
static int open_write_seg(struct nm_segstore *s, bool front)
{
	char name[SEG_NAME_LEN + 1];
	uint64_t num;
	size_t at;
	int fd;

	if (front) {
		at = s->ridx;
		num = at < s->nsegs ? s->segs[at].num - 1 : next_seg_num(s);
	} else {
		num = next_seg_num(s);
		at = s->nsegs;
	}
	seg_name(num, name);
	fd = open_file(s, name, O_WRONLY | O_CREAT | O_TRUNC);
	if (fd < 0)
		return fd;
	if (insert_seg(s, at, num, 0)) {
		close(fd);
		unlinkat(s->dirfd, name, 0);
		return -ENOMEM;
	}
	if (front)
		s->roff = 0; /* ridx now names the front segment, read first */
	s->st.segments = s->nsegs;
	s->wsynced = 0;
	s->dir_dirty = true;
	return fd;
}

/* Can a front segment go right before the first unread record? Moves the reader onto it. */
static bool front_possible(struct nm_segstore *s)
{
	if (s->nsegs && s->ridx + 1 < s->nsegs && s->roff >= s->segs[s->ridx].size) {
		s->ridx++;
		s->roff = 0;
	}
	if (!s->nsegs)
		return true;
	if (s->roff != 0 || s->ridx >= s->nsegs)
		return false;
	/* A removed segment's number is never reused: a stale ack file may still name it. */
	if (s->segs[s->ridx].num - 1 <= s->removed_max)
		return false;
	return s->ridx == 0 || s->segs[s->ridx - 1].num + 1 < s->segs[s->ridx].num;
}

/* Make s->wfd the segment a record of @size bytes goes to; returns its index or -errno. */
static long choose_write_seg(struct nm_segstore *s, size_t size, bool front)
{
	struct seg *g;
	int fd;

	if (front && !s->wfront) {
		/* Only in front of a first segment nothing was read from, or order would break. */
		if (!front_possible(s)) {
			front = false;
		} else {
			if (s->wfd >= 0)
				close_write_seg(s);
			s->wfd = open_write_seg(s, true);
			if (s->wfd < 0)
				return s->wfd;
			s->wnum = s->segs[s->ridx].num;
			s->wfront = true;
			/* The ack position must not make the next open discard the new segment. */
			s->ack_seg = s->segs[s->ridx].num;
			s->ack_off = 0;
			s->ack_dirty = true;
		}
	}
	if (!front && s->wfront)
		close_write_seg(s);
	if (front)
		return (long)s->ridx;
	/* A fresh segment when the last one is full or already read to its end. */
	g = s->nsegs ? &s->segs[s->nsegs - 1] : NULL;
	if (s->wfd >= 0 && g &&
	    (g->size + size > SEG_MAX ||
	     (s->st.unread == 0 && s->ridx == s->nsegs - 1 && s->roff == g->size && g->size)))
		close_write_seg(s);
	if (s->wfd < 0) {
		fd = open_write_seg(s, false);
		if (fd < 0)
			return fd;
		s->wfd = fd;
		s->wnum = s->segs[s->nsegs - 1].num;
	}
	return (long)s->nsegs - 1;
}

int nm_segstore_append(struct nm_segstore *s, const struct iovec *iov, int iovcnt, bool front)
{
	struct iovec all[IOV_MAX_BODY + 1];
	uint8_t h[HDR_LEN];
	uint32_t magic = REC_MAGIC, hcrc, bcrc = (uint32_t)crc32(0, NULL, 0);
	size_t len = 0;
	struct seg *g;
	ssize_t w;
	long at;

	if (iovcnt > IOV_MAX_BODY)
		return -EINVAL;
	for (int i = 0; i < iovcnt; i++) {
		len += iov[i].iov_len;
		/* zlib restarts the CRC for a NULL buffer: skip empty parts */
		if (iov[i].iov_len)
			bcrc = (uint32_t)crc32(bcrc, iov[i].iov_base, (uInt)iov[i].iov_len);
		all[i + 1] = iov[i];
	}
	if (len > BODY_MAX)
		return -E2BIG;
	reclaim(s); /* delivered segments give their space back before we ask for more */
	if (s->st.bytes + HDR_LEN + len > s->max_bytes)
		return -EFBIG;
	memcpy(h, &magic, 4);
	memcpy(h + 4, &(uint32_t){(uint32_t)len}, 4);
	hcrc = (uint32_t)crc32(0, h, 8);
	memcpy(h + 8, &hcrc, 4);
	memcpy(h + 12, &bcrc, 4);
	all[0] = (struct iovec){h, HDR_LEN};

	at = choose_write_seg(s, HDR_LEN + len, front);
	if (at < 0) {
		s->st.write_errors++;
		return (int)at;
	}
	g = &s->segs[at];
	w = writev(s->wfd, all, iovcnt + 1);
	if (w != (ssize_t)(HDR_LEN + len)) {
		int e = w < 0 ? errno : ENOSPC;

		/* Never leave half a record: cut back to the last whole one. */
		if (w > 0 && ftruncate(s->wfd, (off_t)g->size))
			nm_log_ratelimited(&s->rl, NM_LOG_ERR, "spool %s: cannot truncate: %s",
					   s->dir, strerror(errno));
		s->st.write_errors++;
		return -e;
	}
	g->size += HDR_LEN + len;
	s->st.bytes += HDR_LEN + len;
	s->st.unread++;
	s->st.unsynced++;
	s->wunsynced_b += HDR_LEN + len;
	return 0;
}

int nm_segstore_next(struct nm_segstore *s, const uint8_t **body, size_t *len, nm_seg_pos *pos,
		     uint64_t *corrupt)
{
	uint64_t bad = 0;
	bool got = next_record(s, &bad);

	s->st.corrupt += bad;
	*corrupt += bad;
	s->st.unread -= bad < s->st.unread ? bad : s->st.unread;
	if (!got)
		return 0;
	if (s->st.unread)
		s->st.unread--;
	*pos = (s->segs[s->ridx].num << 32) | s->roff;
	*body = s->rec.data;
	*len = s->rec.len;
	return 1;
}

void nm_segstore_ack(struct nm_segstore *s, nm_seg_pos pos)
{
	uint64_t num = pos >> 32, off = pos & 0xffffffffULL;

	s->ack_seg = num;
	s->ack_off = off;
	s->ack_dirty = true;
	reclaim(s);
	write_ack(s, false);
}

void nm_segstore_tick(struct nm_segstore *s)
{
	write_ack(s, false);
}

void nm_segstore_set_durable(struct nm_segstore *s)
{
	s->durable = true;
}

int nm_segstore_sync(struct nm_segstore *s)
{
	return commit(s);
}

uint64_t nm_segstore_unread(const struct nm_segstore *s)
{
	return s->st.unread;
}

void nm_segstore_get_stats(const struct nm_segstore *s, struct nm_segstore_stats *st)
{
	*st = s->st;
}
