/* gen_corpus.c - writes the seed corpora of tests/fuzz/corpus/ from real records, configs and spools. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "bpf/connection.h"
#include "bpf/packet_drop.h"
#include "bpf/udp_send.h"
#include "src/config.h"
#include "src/msg.h"
#include "src/spool.h"

static const char *top;

static void put(const char *name, const char *file, const void *data, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", top, name);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", top, name, file);
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f)) {
		perror(path);
		exit(1);
	}
}

static void put_str(const char *name, const char *file, const char *s)
{
	put(name, file, s, strlen(s));
}

/*
 * A valid record of program @prog (registry index), as its BPF half would fill
 * it; a program without a case here gets a valid header and a patterned body.
 */
static size_t make_record(size_t prog, int variant, uint8_t *out)
{
	const struct nm_program_type *t = nm_program_types[prog];
	struct nm_record_hdr h = {
		.version = NM_RECORD_VERSION,
		.timestamp_ns = 123456789012ULL,
		.pid = 4242,
		.tid = 4243,
		.uid = 1000,
		.flags = NM_REC_F_TASK,
		.cgroup_id = 77,
	};

	memcpy(h.comm, variant ? "\xff\xfe\"\\\n\x01x" : "curl", variant ? 7 : 4);
	if (!strcmp(t->name, "connection")) {
		struct nm_connection_record r = {.hdr = h};

		r.hdr.type = NM_REC_CONNECTION;
		r.hdr.len = sizeof(r);
		r.c.family = variant == 2 ? AF_UNIX : variant ? AF_INET6 : AF_INET;
		r.c.protocol = 6;
		r.c.sock_type = SOCK_STREAM;
		r.c.dport = 443;
		r.c.sport = 50000;
		r.c.ret = variant ? -111 : 0;
		r.c.conn_flags = 0x3;
		r.c.daddr[0] = 127;
		r.c.daddr[3] = 1;
		r.c.daddr[15] = 1;
		r.c.unix_path_len = variant == 2 ? 8 : 0;
		memcpy(r.c.unix_path, "\0abstrac", 8);
		memcpy(out, &r, sizeof(r));
		return sizeof(r);
	}
	if (!strcmp(t->name, "packet_drop")) {
		struct nm_packet_drop_record r = {.hdr = h};

		r.hdr.type = NM_REC_PACKET_DROP;
		r.hdr.len = sizeof(r);
		r.hdr.flags = variant ? 0 : NM_REC_F_TASK;
		r.d.location = variant ? 0xffffffff81000000ULL : 0;
		r.d.reason = variant ? 0x10002 : 2;
		r.d.ifindex = 1;
		r.d.len = 60;
		r.d.l3_proto = 0x0800;
		r.d.l4_proto = 17;
		r.d.family = variant ? AF_INET6 : AF_INET;
		r.d.sport = 53;
		r.d.dport = 9;
		r.d.drop_flags = 0x7;
		memcpy(r.d.ifname, variant ? "\xc3\x28ifname-with-16c" : "lo", variant ? 16 : 2);
		memcpy(out, &r, sizeof(r));
		return sizeof(r);
	}
	if (strcmp(t->name, "udp_send")) {
		h.type = t->record_type;
		h.len = t->record_size;
		for (uint32_t i = sizeof(h); i < t->record_size; i++)
			out[i] = (uint8_t)(variant ? i * 37 : i < sizeof(h) + 8 ? 2 : 0);
		memcpy(out, &h, sizeof(h));
		return t->record_size;
	}
	struct nm_udp_send_record r = {.hdr = h};

	r.hdr.type = NM_REC_UDP_SEND;
	r.hdr.len = sizeof(r);
	r.u.socket_cookie = 99;
	r.u.family = variant ? AF_INET6 : AF_INET;
	r.u.protocol = 17;
	r.u.dport = 53;
	r.u.send_flags = 1;
	r.u.daddr[0] = 10;
	memcpy(out, &r, sizeof(r));
	return sizeof(r);
}

static void decode_and_template(void)
{
	static const char *const tpls[][2] = {
		{"\x00", "netmon/${host}/${type}"},
		{"\x01", "netmon.${type}.${protocol}"},
		{"\x02", "${host}:${pid}:${destination}"},
		{"\x00", "n/${command}/${drop_reason}/${interface}"},
		{"\x01", "t-${destination_port}${uid}"},
		{"\x02", "${id}${seq}${time}${source}${netns}${unix}"},
	};
	uint8_t rec[512], in[1024];
	char name[64];

	for (size_t p = 0; nm_program_types[p]; p++) {
		for (int v = 0; v < 3; v++) {
			size_t n = make_record(p, v, rec);

			in[0] = (uint8_t)p;
			in[1] = 0;
			memcpy(in + 2, rec, n);
			snprintf(name, sizeof(name), "p%zu-v%d", p, v);
			put("decode", name, in, n + 2);
			in[1] = 0x80;
			snprintf(name, sizeof(name), "p%zu-v%d-fixed", p, v);
			put("decode", name, in, n + 2);
			/* near-valid: one byte short */
			in[1] = 0;
			snprintf(name, sizeof(name), "p%zu-v%d-short", p, v);
			put("decode", name, in, n + 1);
		}
		for (size_t t = 0; t < sizeof(tpls) / sizeof(tpls[0]); t++) {
			size_t n = make_record(p, (int)(t % 3), rec), tl = strlen(tpls[t][1]);

			in[0] = (uint8_t)tpls[t][0][0];
			in[1] = (uint8_t)p;
			memcpy(in + 2, tpls[t][1], tl + 1);
			memcpy(in + 3 + tl, rec, n);
			snprintf(name, sizeof(name), "p%zu-t%zu", p, t);
			put("template", name, in, 3 + tl + n);
		}
	}
}

static void copy_file(const char *name, const char *file, const char *src)
{
	char buf[65536];
	FILE *f = fopen(src, "rb");
	size_t n;

	if (!f) {
		perror(src);
		exit(1);
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	put(name, file, buf, n);
}

static void config(const char *srcdir)
{
	char path[4096];
	char *def = nm_config_default_text();

	put_str("config", "default", def);
	free(def);
	snprintf(path, sizeof(path), "%s/conf/ebpf-netmon.conf", srcdir);
	copy_file("config", "reference", path);
	snprintf(path, sizeof(path), "%s/conf/examples/siem-kafka.conf", srcdir);
	copy_file("config", "siem-kafka", path);
	snprintf(path, sizeof(path), "%s/conf/examples/lossy-ok.conf", srcdir);
	copy_file("config", "lossy-ok", path);
	put_str("config", "small",
		"host = \"edge-17\";\nprograms = { connection = { enabled = true; trace_unix = "
		"true; }; packet_drop = { enabled = false; }; };\nstore = { capacity = 1000; };\n"
		"sinks = ( { name = \"out\"; type = \"stdout\"; format = \"msgpack\"; queue = { "
		"max_events = 100; when_full = \"drop_newest\"; }; } );\n");
	put_str("config", "bad-type",
		"sinks = ( { name = \"x\"; type = \"nope\"; } );\nstore = { capacity = 0x10; };\n");
	put_str("config", "bad-int", "store = { capacity = 99999999999999999999; };\n");
	put_str("config", "file-sink",
		"sinks = ( { name = \"f\"; type = \"file\"; path = \"/nonexistent/dir/e.ndjson\"; "
		"mode = \"0600\"; dir_mode = \"0700\"; rotate_bytes = 1000; } );\n");
}

/* A spool written by the real code: segment bytes as the fuzzer takes them (byte 0: flags). */
static void spool(void)
{
	char dir[] = "/tmp/nm-gen-spool.XXXXXX", sdir[64], path[128], err[256];
	uint8_t rec[512], buf[65536];
	struct nm_spool *s;

	if (!mkdtemp(dir))
		exit(1);
	snprintf(sdir, sizeof(sdir), "%s/s", dir);
	s = nm_spool_open(sdir, 1 << 20, err, sizeof(err));
	if (!s) {
		fprintf(stderr, "spool: %s\n", err);
		exit(1);
	}
	for (int i = 0; i < 4; i++) {
		struct nm_buf json = {0}, mp = {0};
		struct nm_buf *enc[NM_FORMAT_COUNT] = {0};
		struct nm_event ev = {0};
		struct nm_msg *m;
		size_t p = (size_t)i % fuzz_nprograms;
		size_t n = make_record(p, i % 2, rec);

		if (nm_program_decode(fuzz_programs[p], rec, n, &ev))
			exit(1);
		ev.host = "edge-17";
		ev.seq = (uint64_t)i + 1;
		ev.run_id = 0xabcdef;
		ev.wall_ns = 1764000000000000000LL;
		nm_event_encode(&ev, NM_FORMAT_JSON, &json);
		nm_event_encode(&ev, NM_FORMAT_MSGPACK, &mp);
		enc[NM_FORMAT_JSON] = &json;
		if (i % 2)
			enc[NM_FORMAT_MSGPACK] = &mp;
		m = nm_msg_new(&ev, enc, 1);
		if (!m || nm_spool_append(s, m, i % 2 ? NM_FORMAT_MSGPACK : NM_FORMAT_JSON, false))
			exit(1);
		nm_msg_unref(m);
		nm_buf_free(&json);
		nm_buf_free(&mp);
	}
	nm_spool_close(s);
	snprintf(path, sizeof(path), "%s/0000000080000000.seg", sdir);
	{
		FILE *f = fopen(path, "rb");
		size_t n;

		if (!f)
			exit(1);
		n = fread(buf + 1, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[0] = 0x00; /* raw, JSON */
		put("spool", "segment-json", buf, n + 1);
		buf[0] = 0x10; /* raw, MessagePack */
		put("spool", "segment-msgpack", buf, n + 1);
		buf[0] = 0x28; /* two segments, read twice */
		put("spool", "segment-split", buf, n + 1);
		buf[0] = 0x00;
		put("spool", "segment-torn", buf, n - 7); /* a torn final record */
		/* near-valid: one body byte flipped, its CRC now wrong */
		buf[1 + 40] ^= 0x20;
		put("spool", "segment-badcrc", buf, n + 1);
	}
	/* framed: a 2-byte length before each body; the harness adds the checksums */
	for (int v = 0; v < 2; v++) {
		/* version 2, MessagePack, data is the fields, type of 10 bytes, data of 4 or 3 */
		uint8_t head[16] = {2, NM_FORMAT_MSGPACK, 1, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
				    0};
		size_t blen = sizeof(head) + 10 + (v ? 3 : 4);

		head[12] = (uint8_t)(v ? 3 : 4);
		buf[0] = 0x01 | (v ? 0 : 0x10);
		buf[1] = (uint8_t)blen;
		buf[2] = 0;
		memcpy(buf + 3, head, sizeof(head));
		memcpy(buf + 3 + sizeof(head), "connection", 10);
		memcpy(buf + 13 + sizeof(head), "\x81\xa1x\x01", 4); /* {"x": 1}, or cut short */
		put("spool", v ? "framed-cut-map" : "framed-map", buf, 3 + blen);
	}
	unlink(path);
	snprintf(path, sizeof(path), "%s/ack", sdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock", sdir);
	unlink(path);
	rmdir(sdir);
	rmdir(dir);
}

static void control(void)
{
	static const char *const params[][2] = {
		{"\x3f", "type=connection&pid=42&command=curl&limit=10"},
		{"\x3f", "since=2024-05-01T12:00:00Z&until=2024-05-01T13:00:00.123456789+02:00"},
		{"\x46", "duration_seconds=3600&pid=1"},
		{"\x3f", "limit=0&limit=5"},
		{"\x01", "type=loss"},
		{"\x18", "since=2024-02-30T00:00:00Z"},
		{"\x3f", "pid=99999999999999999999999"},
		{"\x7f", "since=2025-01-01 00:00:00 01:00&command"},
	};
	static const char *const heads[] = {
		"GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /api/events?limit=5 HTTP/1.1\r\nHost: x\r\nAccept: application/msgpack\r\n\r\n",
		"POST /api/programs/connection/detach HTTP/1.1\r\nHost: x\r\nContent-Length: "
		"0\r\n\r\n",
		"POST /api/programs/x/attach HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: "
		"5\r\n\r\nhello",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
		"POST / HTTP/1.1\r\ncontent-length: 99999\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
		"GET /health HTTP/1.1\nHost: x\r\n\r\n",
		"GET /health HTTP/1.1\r\nHost: x",
		"GET /\x01 HTTP/1.1\r\n\r\n",
	};
	char name[32];

	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		char in[256];

		in[0] = params[i][0][0];
		snprintf(in + 1, sizeof(in) - 1, "%s", params[i][1]);
		snprintf(name, sizeof(name), "q%zu", i);
		put("params", name, in, strlen(params[i][1]) + 1);
	}
	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		snprintf(name, sizeof(name), "h%zu", i);
		put_str("gate", name, heads[i]);
	}
}

/* gen_corpus DIR [SRCDIR]: the corpora under DIR (tests/fuzz/corpus), configs read from SRCDIR. */
int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: gen_corpus DIR [SRCDIR]\n");
		return 64;
	}
	top = argv[1];
	mkdir(top, 0755);
	fuzz_open_programs();
	decode_and_template();
	config(argc > 2 ? argv[2] : ".");
	spool();
	control();
	return 0;
}
