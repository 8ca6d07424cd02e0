/* spool.c - append-only checksummed segment files that hold a sink's backlog across outages and restarts. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <zlib.h>

#include "fsutil.h"
#include "log.h"
#include "program.h"
#include "spool.h"

#define REC_MAGIC    0x314d534eU /* "NSM1" little-endian */
#define HDR_LEN	     16
#define BODY_MAX     (16u << 20)
#define SEG_MAX	     (16u << 20)
#define FIRST_SEG    (1ULL << 31) /* leaves room for front segments below */
#define SEG_GAP	     16
#define MAX_TYPES    64
#define ACK_EVERY_MS 250

/* Field kinds in the program-field blob of a record. */
enum { K_STR = 's', K_U64 = 'u', K_I64 = 'i', K_BOOL = 'b', K_NULL = 'n' };

struct seg {
	uint64_t num;
	uint64_t size;
};

struct nm_spool {
	char *dir;
	int lockfd;
	uint64_t max_bytes;
	struct seg *segs; /* ascending */
	size_t nsegs;
	size_t cap;

	int wfd; /* appends go to the last segment (or the first, wfront) while open */
	bool wfront;
	size_t ridx; /* read position: segment index and offset */
	uint64_t roff;
	int rfd;
	uint64_t rfd_num;

	uint64_t ack_seg;
	uint64_t ack_off;
	int64_t ack_written_ms;
	bool ack_dirty;

	struct nm_spool_stats st;
	struct nm_program_type *types[MAX_TYPES]; /* replayed events' types, by name */
	size_t ntypes;
	struct nm_buf rec; /* a record being built or read */
	struct nm_ratelimit rl;
};

struct replay_body {
	const uint8_t *fields;
	uint32_t len;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void seg_path(const struct nm_spool *s, uint64_t num, char *out, size_t len)
{
	snprintf(out, len, "%s/%016llx.seg", s->dir, (unsigned long long)num);
}

static int insert_seg(struct nm_spool *s, size_t at, uint64_t num, uint64_t size)
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
	s->segs[at] = (struct seg){ num, size };
	s->nsegs++;
	return 0;
}

static void remove_first_seg(struct nm_spool *s)
{
	char path[4200];

	seg_path(s, s->segs[0].num, path, sizeof(path));
	unlink(path);
	s->st.bytes -= s->segs[0].size;
	if (s->rfd >= 0 && s->rfd_num == s->segs[0].num) {
		close(s->rfd);
		s->rfd = -1;
	}
	memmove(&s->segs[0], &s->segs[1], (s->nsegs - 1) * sizeof(*s->segs));
	s->nsegs--;
	if (s->ridx)
		s->ridx--;
	else
		s->roff = 0;
}

static void write_ack(struct nm_spool *s, bool now)
{
	char path[4200], tmp[4200], line[64];
	int fd, n;

	if (!s->ack_dirty || (!now && now_ms() - s->ack_written_ms < ACK_EVERY_MS))
		return;
	snprintf(path, sizeof(path), "%s/ack", s->dir);
	snprintf(tmp, sizeof(tmp), "%s/ack.tmp", s->dir);
	n = snprintf(line, sizeof(line), "%llx %llx\n", (unsigned long long)s->ack_seg,
		     (unsigned long long)s->ack_off);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, line, (size_t)n) != n || rename(tmp, path)) {
		nm_log_ratelimited(&s->rl, NM_LOG_ERR, "spool %s: cannot save the ack position: %s",
				   s->dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	s->ack_dirty = false;
	s->ack_written_ms = now_ms();
}

static int cmp_seg(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	return x->num < y->num ? -1 : x->num > y->num;
}

static int read_fd(struct nm_spool *s, uint64_t num)
{
	char path[4200];

	if (s->rfd >= 0 && s->rfd_num == num)
		return s->rfd;
	if (s->rfd >= 0)
		close(s->rfd);
	seg_path(s, num, path, sizeof(path));
	s->rfd = open(path, O_RDONLY | O_CLOEXEC);
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

/*
 * Move the read position to the next whole, checksum-valid record and leave
 * its body in s->rec. False when no record is left; *@corrupt counts what
 * was skipped on the way (a torn tail, a bad checksum, a garbled header).
 */
static bool next_record(struct nm_spool *s, uint64_t *corrupt)
{
	uint8_t h[HDR_LEN];

	while (s->ridx < s->nsegs) {
		struct seg *g = &s->segs[s->ridx];
		uint32_t len, crc;
		int fd;

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
			/* Garbled or torn: resynchronize on the next valid header. */
			uint64_t off = s->roff + 1;
			bool found = false;

			(*corrupt)++;
			for (; fd >= 0 && off + HDR_LEN <= g->size; off++) {
				if (pread(fd, h, HDR_LEN, (off_t)off) != HDR_LEN)
					break;
				if (header_ok(h, g->size - off, &len, &crc)) {
					found = true;
					break;
				}
			}
			s->roff = found ? off : g->size;
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

struct nm_spool *nm_spool_open(const char *dir, uint64_t max_bytes, char *err, size_t errlen)
{
	struct nm_spool *s = calloc(1, sizeof(*s));
	char path[4200];
	struct dirent *de;
	uint64_t valid = 0, corrupt = 0;
	size_t save_ridx;
	uint64_t save_roff;
	FILE *f;
	DIR *d;
	int rc;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->lockfd = s->wfd = s->rfd = -1;
	s->max_bytes = max_bytes;
	s->dir = strdup(dir);
	if (!s->dir) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	rc = nm_mkdir_p(dir, 0700);
	if (rc) {
		snprintf(err, errlen, "spool_dir %s: %s", dir, strerror(-rc));
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/lock", dir);
	s->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lockfd < 0 || flock(s->lockfd, LOCK_EX | LOCK_NB)) {
		snprintf(err, errlen, "spool_dir %s: %s", dir,
			 errno == EWOULDBLOCK ? "in use by another sink or agent"
					      : strerror(errno));
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/ack", dir);
	f = fopen(path, "re");
	if (f) {
		unsigned long long a, b;

		if (fscanf(f, "%llx %llx", &a, &b) == 2) {
			s->ack_seg = a;
			s->ack_off = b;
		}
		fclose(f);
	}
	d = opendir(dir);
	if (!d) {
		snprintf(err, errlen, "spool_dir %s: %s", dir, strerror(errno));
		goto fail;
	}
	while ((de = readdir(d))) {
		unsigned long long num;
		struct stat st;
		char *end;

		if (strlen(de->d_name) != 20 || strcmp(de->d_name + 16, ".seg"))
			continue;
		num = strtoull(de->d_name, &end, 16);
		if (end != de->d_name + 16)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (num < s->ack_seg) {
			unlink(path); /* delivered before the last stop */
			continue;
		}
		if (stat(path, &st))
			continue;
		if (insert_seg(s, s->nsegs, num, (uint64_t)st.st_size)) {
			closedir(d);
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		s->st.bytes += (uint64_t)st.st_size;
	}
	closedir(d);
	if (s->nsegs)
		qsort(s->segs, s->nsegs, sizeof(*s->segs), cmp_seg);
	if (s->nsegs && s->segs[0].num == s->ack_seg)
		s->roff = s->ack_off;

	/* Count the backlog; the same walk the reader does, so the counts agree. */
	save_ridx = s->ridx;
	save_roff = s->roff;
	while (next_record(s, &corrupt))
		valid++;
	s->ridx = save_ridx;
	s->roff = save_roff;
	s->st.unread = valid + corrupt;
	s->st.recovered = valid + corrupt;
	s->st.segments = s->nsegs;
	return s;
fail:
	nm_spool_close(s);
	return NULL;
}

void nm_spool_close(struct nm_spool *s)
{
	if (!s)
		return;
	if (s->dir && s->lockfd >= 0)
		write_ack(s, true);
	if (s->wfd >= 0) {
		fdatasync(s->wfd);
		close(s->wfd);
	}
	if (s->rfd >= 0)
		close(s->rfd);
	if (s->lockfd >= 0)
		close(s->lockfd);
	for (size_t i = 0; i < s->ntypes; i++) {
		free((char *)s->types[i]->name);
		free(s->types[i]);
	}
	nm_buf_free(&s->rec);
	free(s->segs);
	free(s->dir);
	free(s);
}

/* ---- records --------------------------------------------------------------- */

static void put(struct nm_buf *b, const void *p, size_t n)
{
	nm_buf_append(b, p, n);
}

static void put_u8(struct nm_buf *b, uint8_t v)
{
	nm_buf_putc(b, v);
}

static void put_u32(struct nm_buf *b, uint32_t v)
{
	put(b, &v, 4);
}

static void put_u64(struct nm_buf *b, uint64_t v)
{
	put(b, &v, 8);
}

static void put_key(struct nm_writer *w, uint8_t kind, const char *key, size_t klen)
{
	put_u8(w->out, kind);
	put_u8(w->out, (uint8_t)(klen > 255 ? 255 : klen));
	put(w->out, key, klen > 255 ? 255 : klen);
}

/* A writer that records program fields verbatim, to be replayed through another writer. */
static void rec_nop(struct nm_writer *w)
{
}

static void rec_str(struct nm_writer *w, const char *key, size_t klen, const char *val, size_t len)
{
	put_key(w, K_STR, key, klen);
	put_u32(w->out, (uint32_t)len);
	put(w->out, val, len);
}

static void rec_u64(struct nm_writer *w, const char *key, size_t klen, uint64_t v)
{
	put_key(w, K_U64, key, klen);
	put_u64(w->out, v);
}

static void rec_i64(struct nm_writer *w, const char *key, size_t klen, int64_t v)
{
	put_key(w, K_I64, key, klen);
	put_u64(w->out, (uint64_t)v);
}

static void rec_bool(struct nm_writer *w, const char *key, size_t klen, bool v)
{
	put_key(w, K_BOOL, key, klen);
	put_u8(w->out, v);
}

static void rec_null(struct nm_writer *w, const char *key, size_t klen)
{
	put_key(w, K_NULL, key, klen);
}

static const struct nm_writer_ops record_ops = {
	.begin = rec_nop,
	.end = rec_nop,
	.str = rec_str,
	.u64 = rec_u64,
	.i64 = rec_i64,
	.boolean = rec_bool,
	.null = rec_null,
};

/*
 * Body: format u8, has_task u8, pid tid uid u32, seq timestamp_ns wall_ns
 * cgroup_id run_id u64, command[16], type and host (u32 length + bytes),
 * program fields (u32 length + blob), data (u32 length + bytes). Host byte
 * order: a spool is read back by the machine that wrote it.
 */
static void build_record(struct nm_buf *b, const struct nm_msg *m, enum nm_format format)
{
	const struct nm_event *ev = &m->event;
	const char *type = ev->type ? ev->type->name : "unknown";
	const char *host = ev->host ? ev->host : "";
	struct nm_writer w = { .ops = &record_ops, .out = b };
	size_t at;
	uint32_t n;

	nm_buf_reset(b);
	put(b, (uint8_t[HDR_LEN]){ 0 }, HDR_LEN);
	put_u8(b, (uint8_t)format);
	put_u8(b, ev->has_task);
	put_u32(b, ev->pid);
	put_u32(b, ev->tid);
	put_u32(b, ev->uid);
	put_u64(b, ev->seq);
	put_u64(b, ev->timestamp_ns);
	put_u64(b, (uint64_t)ev->wall_ns);
	put_u64(b, ev->cgroup_id);
	put(b, ev->command, sizeof(ev->command));
	put_u64(b, ev->run_id);
	put_u32(b, (uint32_t)strlen(type));
	put(b, type, strlen(type));
	put_u32(b, (uint32_t)strlen(host));
	put(b, host, strlen(host));
	at = b->len;
	put_u32(b, 0);
	if (ev->type && ev->type->write_fields)
		ev->type->write_fields(ev, &w);
	n = (uint32_t)(b->len - at - 4);
	if (!b->oom)
		memcpy(b->data + at, &n, 4);
	put_u32(b, m->len[format]);
	put(b, m->data[format], m->len[format]);
}

/*
 * Segments are numbered SEG_GAP apart so that a front segment fits just
 * before the first unread one. Returns the new segment's fd or -errno.
 */
static int open_write_seg(struct nm_spool *s, bool front)
{
	char path[4200];
	uint64_t num;
	size_t at;
	int fd;

	if (front) {
		at = s->ridx;
		num = at < s->nsegs ? s->segs[at].num - 1 : FIRST_SEG;
	} else {
		num = s->nsegs ? s->segs[s->nsegs - 1].num + SEG_GAP : FIRST_SEG;
		at = s->nsegs;
	}
	seg_path(s, num, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (insert_seg(s, at, num, 0)) {
		close(fd);
		unlink(path);
		return -ENOMEM;
	}
	if (front)
		s->roff = 0; /* ridx now names the front segment, read first */
	s->st.segments = s->nsegs;
	return fd;
}

/* Can a front segment go right before the first unread record? Moves the reader onto it. */
static bool front_possible(struct nm_spool *s)
{
	if (s->nsegs && s->ridx + 1 < s->nsegs && s->roff >= s->segs[s->ridx].size) {
		s->ridx++;
		s->roff = 0;
	}
	if (!s->nsegs)
		return true;
	if (s->roff != 0 || s->ridx >= s->nsegs)
		return false;
	return s->ridx == 0 || s->segs[s->ridx - 1].num + 1 < s->segs[s->ridx].num;
}

int nm_spool_append(struct nm_spool *s, const struct nm_msg *m, enum nm_format format, bool front)
{
	uint32_t magic = REC_MAGIC, len, hcrc, bcrc;
	struct seg *g;
	ssize_t w;
	int fd;

	build_record(&s->rec, m, format);
	if (s->rec.oom) {
		s->rec.oom = 0;
		return -ENOMEM;
	}
	if (s->st.bytes + s->rec.len > s->max_bytes)
		return -EFBIG;
	len = (uint32_t)(s->rec.len - HDR_LEN);
	memcpy(s->rec.data, &magic, 4);
	memcpy(s->rec.data + 4, &len, 4);
	hcrc = (uint32_t)crc32(0, s->rec.data, 8);
	bcrc = (uint32_t)crc32(0, s->rec.data + HDR_LEN, len);
	memcpy(s->rec.data + 8, &hcrc, 4);
	memcpy(s->rec.data + 12, &bcrc, 4);

	if (front && !s->wfront) {
		/* Only in front of a first segment nothing was read from, or order would break. */
		if (!front_possible(s)) {
			front = false;
		} else {
			if (s->wfd >= 0)
				close(s->wfd);
			s->wfd = open_write_seg(s, true);
			if (s->wfd < 0) {
				s->st.write_errors++;
				return s->wfd;
			}
			s->wfront = true;
			/* The ack position must not make the next open discard the new segment. */
			s->ack_seg = s->segs[s->ridx].num;
			s->ack_off = 0;
			s->ack_dirty = true;
		}
	}
	if (!front && s->wfront) {
		close(s->wfd);
		s->wfd = -1;
		s->wfront = false;
	}
	if (!front) {
		/* A fresh segment when the last one is full or already read to its end. */
		g = s->nsegs ? &s->segs[s->nsegs - 1] : NULL;
		if (s->wfd >= 0 && g &&
		    (g->size + s->rec.len > SEG_MAX ||
		     (s->st.unread == 0 && s->ridx == s->nsegs - 1 && s->roff == g->size &&
		      g->size))) {
			fdatasync(s->wfd);
			close(s->wfd);
			s->wfd = -1;
		}
		if (s->wfd < 0) {
			fd = open_write_seg(s, false);
			if (fd < 0) {
				s->st.write_errors++;
				return fd;
			}
			s->wfd = fd;
		}
	}
	g = front ? &s->segs[s->ridx] : &s->segs[s->nsegs - 1];
	w = write(s->wfd, s->rec.data, s->rec.len);
	if (w != (ssize_t)s->rec.len) {
		int e = w < 0 ? errno : ENOSPC;

		/* Never leave half a record: cut back to the last whole one. */
		if (w > 0 && ftruncate(s->wfd, (off_t)g->size))
			nm_log_ratelimited(&s->rl, NM_LOG_ERR, "spool %s: cannot truncate: %s",
					   s->dir, strerror(errno));
		s->st.write_errors++;
		return -e;
	}
	g->size += s->rec.len;
	s->st.bytes += s->rec.len;
	s->st.unread++;
	return 0;
}

/* ---- replay ---------------------------------------------------------------- */

static void replay_fields(const struct nm_event *ev, struct nm_writer *w)
{
	const struct replay_body *b = (const void *)ev->body;
	const uint8_t *p = b->fields, *end = b->fields + b->len;

	while (p + 2 <= end) {
		uint8_t kind = p[0], klen = p[1];
		char key[256];
		uint64_t v;
		uint32_t n;

		p += 2;
		if (p + klen > end)
			return;
		memcpy(key, p, klen);
		key[klen] = '\0';
		p += klen;
		switch (kind) {
		case K_STR:
			if (p + 4 > end)
				return;
			memcpy(&n, p, 4);
			p += 4;
			if (p + n > end)
				return;
			w->ops->str(w, key, klen, (const char *)p, n);
			p += n;
			break;
		case K_U64:
		case K_I64:
			if (p + 8 > end)
				return;
			memcpy(&v, p, 8);
			p += 8;
			if (kind == K_U64)
				w->ops->u64(w, key, klen, v);
			else
				w->ops->i64(w, key, klen, (int64_t)v);
			break;
		case K_BOOL:
			if (p + 1 > end)
				return;
			w->ops->boolean(w, key, klen, *p++ != 0);
			break;
		case K_NULL:
			w->ops->null(w, key, klen);
			break;
		default:
			return;
		}
	}
}

/* The replayed events' program type, by name, so ${type} and field templates still work. */
static const struct nm_program_type *replay_type(struct nm_spool *s, const char *name, size_t n)
{
	struct nm_program_type *t;

	for (size_t i = 0; i < s->ntypes; i++)
		if (strlen(s->types[i]->name) == n && !memcmp(s->types[i]->name, name, n))
			return s->types[i];
	if (s->ntypes == MAX_TYPES)
		return s->types[MAX_TYPES - 1];
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->name = strndup(name, n);
	if (!t->name) {
		free(t);
		return NULL;
	}
	t->write_fields = replay_fields;
	s->types[s->ntypes++] = t;
	return t;
}

struct cursor {
	const uint8_t *p, *end;
	bool bad;
};

static const void *take(struct cursor *c, size_t n)
{
	const void *r = c->p;

	if (c->bad || (size_t)(c->end - c->p) < n) {
		c->bad = true;
		return NULL;
	}
	c->p += n;
	return r;
}

#define TAKE(c, var)                                                                               \
	do {                                                                                       \
		const void *__q = take(c, sizeof(var));                                            \
		if (__q)                                                                           \
			memcpy(&(var), __q, sizeof(var));                                          \
	} while (0)

/* Rebuild a message from the body in s->rec: one allocation, like nm_msg_new. */
static struct nm_msg *decode_record(struct nm_spool *s, enum nm_format format)
{
	struct cursor c = { s->rec.data, s->rec.data + s->rec.len, false };
	struct nm_event ev;
	uint8_t fmt = 0, has_task = 0;
	uint32_t tlen = 0, hlen = 0, flen = 0, dlen = 0;
	const char *type, *host;
	const uint8_t *fields, *data;
	struct replay_body rb;
	struct nm_msg *m;
	uint8_t *p;

	memset(&ev, 0, offsetof(struct nm_event, body));
	TAKE(&c, fmt);
	TAKE(&c, has_task);
	TAKE(&c, ev.pid);
	TAKE(&c, ev.tid);
	TAKE(&c, ev.uid);
	TAKE(&c, ev.seq);
	TAKE(&c, ev.timestamp_ns);
	TAKE(&c, ev.wall_ns);
	TAKE(&c, ev.cgroup_id);
	TAKE(&c, ev.command);
	TAKE(&c, ev.run_id);
	TAKE(&c, tlen);
	type = take(&c, tlen);
	TAKE(&c, hlen);
	host = take(&c, hlen);
	TAKE(&c, flen);
	fields = take(&c, flen);
	TAKE(&c, dlen);
	data = take(&c, dlen);
	if (c.bad)
		return NULL;
	ev.has_task = has_task;
	ev.type = replay_type(s, type, tlen);
	if (!ev.type)
		return NULL;
	m = malloc(sizeof(*m) + dlen + flen + hlen + 1);
	if (!m)
		return NULL;
	memset(m, 0, sizeof(*m));
	atomic_init(&m->refs, 1);
	p = m->bytes;
	/* Bytes in the record's format are delivered as they are, even if the sink's changed. */
	m->data[format] = p;
	m->len[format] = dlen;
	memcpy(p, data, dlen);
	p += dlen;
	memcpy(p, fields, flen);
	rb.fields = p;
	rb.len = flen;
	p += flen;
	memcpy(p, host, hlen);
	p[hlen] = '\0';
	ev.host = (const char *)p;
	m->event = ev;
	memcpy(m->event.body, &rb, sizeof(rb));
	(void)fmt;
	return m;
}

struct nm_msg *nm_spool_read(struct nm_spool *s, enum nm_format format, nm_spool_pos *pos,
			     uint64_t *corrupt)
{
	for (;;) {
		uint64_t bad = 0;
		struct nm_msg *m;
		bool got = next_record(s, &bad);

		s->st.corrupt += bad;
		*corrupt += bad;
		s->st.unread -= bad < s->st.unread ? bad : s->st.unread;
		if (!got)
			return NULL;
		if (s->st.unread)
			s->st.unread--;
		*pos = (s->segs[s->ridx].num << 32) | s->roff;
		m = decode_record(s, format);
		if (m)
			return m;
		/* Checksum fine but the layout is not ours: skip it as corrupt. */
		s->st.corrupt++;
		(*corrupt)++;
	}
}

void nm_spool_ack(struct nm_spool *s, nm_spool_pos pos)
{
	uint64_t num = pos >> 32, off = pos & 0xffffffffULL;

	s->ack_seg = num;
	s->ack_off = off;
	s->ack_dirty = true;
	/* Segments before the acknowledged one are done; so is a finished, fully acked one. */
	while (s->nsegs &&
	       (s->segs[0].num < num ||
		(s->segs[0].num == num && off >= s->segs[0].size && s->nsegs > 1 && s->ridx > 0))) {
		if (s->wfd >= 0 && s->nsegs == 1)
			break;
		remove_first_seg(s);
	}
	s->st.segments = s->nsegs;
	write_ack(s, false);
}

void nm_spool_tick(struct nm_spool *s)
{
	write_ack(s, false);
}

uint64_t nm_spool_unread(const struct nm_spool *s)
{
	return s->st.unread;
}

void nm_spool_get_stats(const struct nm_spool *s, struct nm_spool_stats *st)
{
	*st = s->st;
}
