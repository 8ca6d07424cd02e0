/* fuzz_spool.c - the spool's segment reader: any bytes as segment (and ack) files, opened and replayed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "fuzz.h"
#include "sinks/lib/template.h"
#include "src/log.h"
#include "src/msg.h"
#include "src/spool.h"

/* The on-disk framing of src/segstore.c, so that inputs get past its checksums. */
#define REC_MAGIC 0x314d534eU
#define ACK_MAGIC 0x314b414eU
#define FIRST_SEG "0000000080000000.seg"
#define NEXT_SEG  "0000000080000010.seg"

static char dir[64], spool_dir[96];
static struct nm_template *topic, *key;

static void empty_spool_dir(void);

static void remove_dirs(void)
{
	empty_spool_dir();
	rmdir(spool_dir);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	nm_log_set_level(NM_LOG_ERR);
	/* a private directory of our own: the spool refuses anything else */
	snprintf(dir, sizeof(dir), "/tmp/nm-fuzz-spool.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(spool_dir, sizeof(spool_dir), "%s/spool", dir);
	topic = nm_template_new("netmon/${type}/${command}", NM_TPL_MQTT_TOPIC, err, sizeof(err));
	key = nm_template_new("${host}:${pid}:${destination}", NM_TPL_KAFKA_KEY, err, sizeof(err));
	if (!topic || !key)
		abort();
	atexit(remove_dirs);
	return 0;
}

static void write_file(const char *name, const void *data, size_t len)
{
	char path[160];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", spool_dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (len && write(fd, data, len) != (ssize_t)len))
		abort();
	close(fd);
}

static void empty_spool_dir(void)
{
	DIR *d = opendir(spool_dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
}

/* @n bytes at @in as records: a 2-byte length before each body, framed with valid checksums. */
static uint8_t *frame(const uint8_t *in, size_t n, size_t *outlen)
{
	uint8_t *out = malloc(n / 2 * 16 + n + 16), *o = out;

	if (!out)
		abort();
	while (n >= 2) {
		uint32_t magic = REC_MAGIC, len = (uint32_t)(in[0] | in[1] << 8), hcrc, bcrc;

		in += 2;
		n -= 2;
		if (len > n)
			len = (uint32_t)n;
		memcpy(o, &magic, 4);
		memcpy(o + 4, &len, 4);
		hcrc = (uint32_t)crc32(0, o, 8);
		bcrc = (uint32_t)crc32(0, in, len);
		memcpy(o + 8, &hcrc, 4);
		memcpy(o + 12, &bcrc, 4);
		memcpy(o + 16, in, len);
		o += 16 + len;
		in += len;
		n -= len;
	}
	*outlen = (size_t)(o - out);
	return out;
}

/* An ack file of two slots; @raw (64 bytes) is used as it is or given valid checksums. */
static void write_ack(const uint8_t *raw, bool fix)
{
	uint8_t slots[64];

	memcpy(slots, raw, sizeof(slots));
	for (int i = 0; fix && i < 2; i++) {
		uint8_t *s = slots + 32 * i;
		uint32_t magic = ACK_MAGIC, crc;

		memcpy(s, &magic, 4);
		memset(s + 4, 0, 4);
		crc = (uint32_t)crc32(0, s, 32);
		memcpy(s + 4, &crc, 4);
	}
	write_file("ack", slots, sizeof(slots));
}

/* A replayed message, as a sink would use it: its bytes, its field walk, its templates. */
static void use_message(struct nm_msg *m, enum nm_format format)
{
	char out[NM_TPL_OUT_MAX + 1];
	struct nm_buf doc = {0};
	struct nm_writer w;
	size_t len;

	FUZZ_ASSERT(m->type && m->type[0]);
	FUZZ_ASSERT(m->data[format] || !m->len[format]);
	struct nm_sink_msg msg = {
		.data = m->data[format],
		.len = m->len[format],
		.type = m->type,
		.write_fields = m->write_fields,
		.event = m->fields_ctx,
	};
	if (!nm_template_render(topic, &msg, out, &len))
		FUZZ_ASSERT(strlen(out) == len && !strpbrk(out, "+#"));
	(void)nm_template_render(key, &msg, out, &len);
	nm_writer_init(&w, NM_FORMAT_JSON, &doc);
	m->write_fields(m->fields_ctx, &w);
	FUZZ_ASSERT(!doc.oom);
	if (!w.error) {
		bool ok = fuzz_json_object(doc.data, doc.len);

		if (!ok)
			fprintf(stderr, "replayed fields are not JSON: %.*s\n", (int)doc.len,
				doc.data);
		FUZZ_ASSERT(ok);
	}
	nm_buf_free(&doc);
}

/* Open the spool, read everything back in @format, ack as a sink would, close. */
static void replay(enum nm_format format, unsigned ack_every)
{
	char err[512];
	struct nm_spool *s = nm_spool_open(spool_dir, 64u << 20, err, sizeof(err));
	uint64_t corrupt = 0, unread;
	struct nm_segstore_stats st;
	nm_spool_pos pos;
	struct nm_msg *m;
	unsigned n = 0;
	int rc;

	if (!s) {
		FUZZ_ASSERT(err[0]);
		return;
	}
	unread = nm_spool_unread(s);
	while ((rc = nm_spool_read(s, format, &m, &pos, &corrupt)) != 0) {
		FUZZ_ASSERT(rc == 1 || rc == -ENOMEM);
		if (rc == 1) {
			use_message(m, format);
			nm_msg_unref(m);
		}
		if (++n % ack_every == 0)
			nm_spool_ack(s, pos);
		FUZZ_ASSERT(n <= unread);
	}
	nm_spool_get_stats(s, &st);
	nm_spool_tick(s);
	nm_spool_close(s);
}

/*
 * Byte 0: bit 0 frames the rest as records (else it is a segment's raw bytes),
 * bit 1 writes the first 64 bytes as the ack file, bit 2 with valid slot
 * checksums, bit 3 splits the records over two segments, bit 4 replays in
 * MessagePack (else JSON), bit 5 opens the spool a second time after acking.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum nm_format format;
	uint8_t flags, *seg;
	size_t len;

	if (size < 1)
		return 0;
	flags = data[0];
	data++;
	size--;
	format = flags & 0x10 ? NM_FORMAT_MSGPACK : NM_FORMAT_JSON;
	if (mkdir(spool_dir, 0700) && errno != EEXIST)
		abort();
	empty_spool_dir();
	if ((flags & 0x02) && size >= 64) {
		write_ack(data, flags & 0x04);
		data += 64;
		size -= 64;
	}
	if (flags & 0x01) {
		seg = frame(data, size, &len);
	} else {
		seg = malloc(size ? size : 1);
		if (!seg)
			abort();
		memcpy(seg, data, size);
		len = size;
	}
	if (flags & 0x08) {
		write_file(FIRST_SEG, seg, len / 2);
		write_file(NEXT_SEG, seg + len / 2, len - len / 2);
	} else {
		write_file(FIRST_SEG, seg, len);
	}
	free(seg);
	replay(format, flags & 0x20 ? 2 : 1);
	if (flags & 0x20)
		replay(format == NM_FORMAT_JSON ? NM_FORMAT_MSGPACK : NM_FORMAT_JSON, 1);
	return 0;
}
