/* file.c - the file sink (JSON lines or concatenated MessagePack, size rotation, gzip) and stdout. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <zlib.h>

#include "sink.h"
#include "../src/buf.h"
#include "../src/log.h"

#define FLUSH_AT_BYTES (256 * 1024)
#define RETRY_AFTER_MS 1000

struct file_config {
	char *path;
	long long rotate_bytes;
	long long rotate_keep;
	bool compress;
	char *mode;
};

struct file_sink {
	const struct file_config *cfg; /* borrowed */
	const struct nm_sink_env *env; /* borrowed */
	bool is_stdout;
	int fd;
	uint64_t file_size;
	struct nm_buf buf; /* whole records not yet written */
	size_t *ends;	   /* where each buffered record ends in buf */
	size_t ends_cap;
	uint64_t first_token; /* of the first buffered record; the rest follow in order */
	size_t buffered;
	int64_t retry_at_ms;
	bool healthy;
	uint64_t bytes_written;
	uint64_t rotations;
	uint64_t write_errors;
	struct nm_ratelimit rl;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int open_file(struct file_sink *s, char *err, size_t errlen)
{
	mode_t mode = (mode_t)strtol(s->cfg->mode, NULL, 8);
	struct stat st;
	int fd;

	fd = open(s->cfg->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, mode);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", s->cfg->path, strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st) == 0)
		s->file_size = (uint64_t)st.st_size;
	else
		s->file_size = 0;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = fd;
	return 0;
}

/* path.N, or path.N.gz when @gz. */
static void rotated_name(const char *path, long long n, bool gz, char *out, size_t len)
{
	snprintf(out, len, "%s.%lld%s", path, n, gz ? ".gz" : "");
}

static int gzip_file(const char *src, const char *dst)
{
	char tmp[4300], chunk[65536];
	gzFile gz;
	ssize_t n;
	int in, rc = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", dst);
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	gz = gzopen(tmp, "wb6");
	if (!gz) {
		close(in);
		return -EIO;
	}
	while ((n = read(in, chunk, sizeof(chunk))) > 0) {
		if (gzwrite(gz, chunk, (unsigned)n) != n) {
			rc = -EIO;
			break;
		}
	}
	if (n < 0)
		rc = -errno;
	if (gzclose(gz) != Z_OK && !rc)
		rc = -EIO;
	close(in);
	if (!rc && rename(tmp, dst))
		rc = -errno;
	if (rc)
		unlink(tmp);
	else
		unlink(src);
	return rc;
}

/* path -> path.1[.gz], shifting older files up and removing the one past rotate_keep. */
static int rotate(struct file_sink *s)
{
	const char *path = s->cfg->path;
	bool gz = s->cfg->compress;
	char from[4200], to[4200];
	char errbuf[256];

	rotated_name(path, s->cfg->rotate_keep, gz, to, sizeof(to));
	unlink(to);
	for (long long i = s->cfg->rotate_keep - 1; i >= 1; i--) {
		rotated_name(path, i, gz, from, sizeof(from));
		rotated_name(path, i + 1, gz, to, sizeof(to));
		rename(from, to);
	}
	rotated_name(path, 1, false, to, sizeof(to));
	if (rename(path, to)) {
		int rc = -errno;

		nm_log_ratelimited(&s->rl, NM_LOG_WARN, "file sink %s: cannot rotate %s: %s",
				   s->env->name, path, strerror(errno));
		return rc;
	}
	/* The old file is about to be compressed away: never write to it again. */
	close(s->fd);
	s->fd = -1;
	s->file_size = 0;
	if (open_file(s, errbuf, sizeof(errbuf)))
		nm_log_ratelimited(&s->rl, NM_LOG_ERR, "file sink %s: %s", s->env->name, errbuf);
	s->rotations++;
	if (gz) {
		rotated_name(path, 1, true, from, sizeof(from));
		if (gzip_file(to, from))
			nm_log_ratelimited(&s->rl, NM_LOG_WARN, "file sink %s: cannot compress %s",
					   s->env->name, to);
	}
	return 0;
}

/* How many buffered records, from @from, go into the current file before it must rotate. */
static size_t records_that_fit(const struct file_sink *s, size_t from)
{
	size_t base = from ? s->ends[from - 1] : 0, n = 0;

	if (s->is_stdout || !s->cfg->rotate_bytes)
		return s->buffered - from;
	while (from + n < s->buffered &&
	       s->file_size + (s->ends[from + n] - base) <= (uint64_t)s->cfg->rotate_bytes)
		n++;
	/* a record larger than rotate_bytes still goes out, alone in its file */
	return n ? n : (s->file_size ? 0 : 1);
}

/* Write @len bytes at @data fully; on failure cut what was written so no partial record stays. */
static int write_all(struct file_sink *s, const uint8_t *data, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(s->fd, data + done, len - done);

		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			errno = ENOSPC;
		break;
	}
	if (done == len)
		return 0;
	if (done && !s->is_stdout && ftruncate(s->fd, (off_t)s->file_size))
		nm_log_ratelimited(&s->rl, NM_LOG_ERR, "file sink %s: cannot truncate: %s",
				   s->env->name, strerror(errno));
	return -errno;
}

/* Write the buffer as whole records, rotating between records; a failure leaves the rest buffered. */
static void write_out(struct file_sink *s)
{
	size_t from = 0;

	if (!s->buffered)
		return;
	if (s->retry_at_ms && now_ms() < s->retry_at_ms)
		return;
	while (from < s->buffered) {
		size_t n = records_that_fit(s, from), start = from ? s->ends[from - 1] : 0, len;
		int rc;

		if (!n) {
			if (rotate(s))
				goto failed;
			continue;
		}
		if (s->fd < 0) {
			char errbuf[256];

			if (open_file(s, errbuf, sizeof(errbuf))) {
				nm_log_ratelimited(&s->rl, NM_LOG_ERR, "file sink %s: %s",
						   s->env->name, errbuf);
				goto failed;
			}
		}
		len = s->ends[from + n - 1] - start;
		rc = write_all(s, s->buf.data + start, len);
		if (rc) {
			s->write_errors++;
			if (s->is_stdout && rc == -EPIPE) {
				nm_log_ratelimited(&s->rl, NM_LOG_ERR, "stdout sink: reader went away");
				s->env->report_range(s->env->ctx, s->first_token + from,
						     s->first_token + s->buffered - 1, -EPIPE);
				from = s->buffered;
				break;
			}
			nm_log_ratelimited(&s->rl, NM_LOG_ERR, "file sink %s: write to %s failed: %s",
					   s->env->name, s->is_stdout ? "stdout" : s->cfg->path,
					   strerror(-rc));
			goto failed;
		}
		s->file_size += len;
		s->bytes_written += len;
		s->env->report_range(s->env->ctx, s->first_token + from, s->first_token + from + n - 1,
				     0);
		from += n;
	}
	s->healthy = true;
	s->retry_at_ms = 0;
	nm_buf_reset(&s->buf);
	s->buffered = 0;
	return;
failed:
	/* Keep what was not written, retried later in order. */
	s->healthy = false;
	s->retry_at_ms = now_ms() + RETRY_AFTER_MS;
	if (from) {
		size_t cut = s->ends[from - 1];

		memmove(s->buf.data, s->buf.data + cut, s->buf.len - cut);
		s->buf.len -= cut;
		for (size_t i = from; i < s->buffered; i++)
			s->ends[i - from] = s->ends[i] - cut;
		s->first_token += from;
		s->buffered -= from;
	}
}

static void *create_common(const struct file_config *cfg, const struct nm_sink_env *env,
			   bool is_stdout, char *err, size_t errlen)
{
	struct file_sink *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->cfg = cfg;
	s->env = env;
	s->is_stdout = is_stdout;
	s->fd = -1;
	s->healthy = true;
	if (is_stdout) {
		s->fd = STDOUT_FILENO;
	} else if (open_file(s, err, errlen)) {
		free(s);
		return NULL;
	}
	return s;
}

static void *file_create(const void *config, const struct nm_sink_env *env, char *err,
			 size_t errlen)
{
	return create_common(config, env, false, err, errlen);
}

static void *stdout_create(const void *config, const struct nm_sink_env *env, char *err,
			   size_t errlen)
{
	return create_common(NULL, env, true, err, errlen);
}

static int file_write(void *sink, const struct nm_sink_msg *msg)
{
	struct file_sink *s = sink;

	size_t before = s->buf.len;

	if (s->buf.len >= 4 * FLUSH_AT_BYTES)
		return -EAGAIN; /* the disk is not keeping up */
	nm_buf_append(&s->buf, msg->data, msg->len);
	if (s->env->format == NM_FORMAT_JSON)
		nm_buf_putc(&s->buf, '\n');
	if (s->buffered == s->ends_cap) {
		size_t cap = s->ends_cap ? 2 * s->ends_cap : 1024;
		size_t *ends = realloc(s->ends, cap * sizeof(*ends));

		if (ends) {
			s->ends = ends;
			s->ends_cap = cap;
		} else {
			s->buf.oom = 1;
		}
	}
	if (s->buf.oom) {
		s->buf.len = before; /* never leave half a record */
		s->buf.oom = 0;
		return -ENOMEM;
	}
	if (!s->buffered)
		s->first_token = msg->token;
	s->ends[s->buffered++] = s->buf.len;
	if (s->buf.len >= FLUSH_AT_BYTES)
		write_out(s);
	return 0;
}

static void file_poll(void *sink, int timeout_ms)
{
	struct file_sink *s = sink;

	write_out(s);
	if (s->buffered && timeout_ms > 0)
		usleep((useconds_t)timeout_ms * 1000); /* waiting to retry a failed write */
}

static int file_flush(void *sink, int timeout_ms)
{
	struct file_sink *s = sink;
	int64_t deadline = now_ms() + timeout_ms;

	for (;;) {
		s->retry_at_ms = 0;
		write_out(s);
		if (!s->buffered)
			return 0;
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		usleep(50 * 1000);
	}
}

static void file_reopen(void *sink)
{
	struct file_sink *s = sink;
	char errbuf[256];

	write_out(s);
	if (open_file(s, errbuf, sizeof(errbuf)))
		nm_log_ratelimited(&s->rl, NM_LOG_ERR, "file sink %s: %s", s->env->name, errbuf);
}

static void file_stats(void *sink, struct nm_writer *w)
{
	struct file_sink *s = sink;

	nm_w_u64(w, "bytes_written", s->bytes_written);
	nm_w_u64(w, "write_errors", s->write_errors);
	if (!s->is_stdout) {
		nm_w_cstr(w, "path", s->cfg->path);
		nm_w_u64(w, "rotations", s->rotations);
	}
}

static bool file_healthy(void *sink)
{
	return ((struct file_sink *)sink)->healthy;
}

static void file_destroy(void *sink)
{
	struct file_sink *s = sink;

	if (!s)
		return;
	if (s->fd >= 0 && !s->is_stdout)
		close(s->fd);
	nm_buf_free(&s->buf);
	free(s->ends);
	free(s);
}

static int file_validate(const void *config, char *err, size_t errlen)
{
	const struct file_config *c = config;
	char *end;

	if (!c->path || !c->path[0]) {
		snprintf(err, errlen, "a file sink needs 'path'");
		return -EINVAL;
	}
	strtol(c->mode, &end, 8);
	if (!c->mode[0] || *end) {
		snprintf(err, errlen, "'mode' = \"%s\" is not an octal file mode", c->mode);
		return -EINVAL;
	}
	return 0;
}

static const struct nm_option file_options[] = {
	{ "path", NM_OPT_STRING, offsetof(struct file_config, path), NULL, 0, 0, NULL,
	  "file to append events to" },
	{ "rotate_bytes", NM_OPT_INT, offsetof(struct file_config, rotate_bytes), "104857600", 0,
	  1LL << 50, NULL, "rotate when the file would grow past this size; 0 = never" },
	{ "rotate_keep", NM_OPT_INT, offsetof(struct file_config, rotate_keep), "5", 1, 1000, NULL,
	  "rotated files kept" },
	{ "compress", NM_OPT_BOOL, offsetof(struct file_config, compress), "true", 0, 0, NULL,
	  "gzip rotated files" },
	{ "mode", NM_OPT_STRING, offsetof(struct file_config, mode), "0640", 0, 0, NULL,
	  "permissions of a created file" },
	{ NULL },
};

const struct nm_sink_type nm_sink_file = {
	.api_version = NM_SINK_API_VERSION,
	.name = "file",
	.description = "append to a local file with size-based rotation",
	.options = file_options,
	.config_size = sizeof(struct file_config),
	.validate = file_validate,
	.create = file_create,
	.write = file_write,
	.poll = file_poll,
	.flush = file_flush,
	.reopen = file_reopen,
	.stats = file_stats,
	.healthy = file_healthy,
	.destroy = file_destroy,
};

const struct nm_sink_type nm_sink_stdout = {
	.api_version = NM_SINK_API_VERSION,
	.name = "stdout",
	.description = "write to standard output",
	.options = NULL,
	.config_size = 0,
	.create = stdout_create,
	.write = file_write,
	.poll = file_poll,
	.flush = file_flush,
	.stats = file_stats,
	.healthy = file_healthy,
	.destroy = file_destroy,
};
