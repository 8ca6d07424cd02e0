/* event.c - writes the common fields of every event, then the program's own. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cgroup.h"
#include "encode.h"
#include "event.h"
#include "program.h"

/* Events arrive in bursts within one second: format the date part once per second per thread. */
static __thread struct {
	time_t sec;
	bool valid;
	char prefix[64];
} rfc3339_cache;

#define RFC3339_LEN 30 /* 2026-11-25T13:20:39.123456789Z */

static const char pairs[] = "00010203040506070809101112131415161718192021222324"
			    "25262728293031323334353637383940414243444546474849"
			    "50515253545556575859606162636465666768697071727374"
			    "75767778798081828384858687888990919293949596979899";

/* @wall_ns as RFC 3339 at @out: RFC3339_LEN bytes, no NUL. */
static inline __attribute__((always_inline)) void rfc3339_at(int64_t wall_ns, uint8_t *out)
{
	time_t sec = (time_t)(wall_ns / 1000000000LL);
	long nsec = (long)(wall_ns % 1000000000LL);
	uint32_t n, r;

	if (nsec < 0) {
		nsec += 1000000000L;
		sec--;
	}
	if (__builtin_expect(!rfc3339_cache.valid || rfc3339_cache.sec != sec, 0)) {
		struct tm tm;

		/* once a second, off the per-event path */
		gmtime_r(&sec, &tm);
		snprintf(rfc3339_cache.prefix, sizeof(rfc3339_cache.prefix),
			 "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		rfc3339_cache.sec = sec;
		rfc3339_cache.valid = true;
	}
	memcpy(out, rfc3339_cache.prefix, 20);
	/* the nine digits of the nanoseconds: one, then four pairs */
	n = (uint32_t)nsec;
	out[20] = (uint8_t)('0' + n / 100000000);
	r = n % 100000000;
	memcpy(out + 21, pairs + 2 * (r / 1000000), 2);
	memcpy(out + 23, pairs + 2 * (r / 10000 % 100), 2);
	memcpy(out + 25, pairs + 2 * (r / 100 % 100), 2);
	memcpy(out + 27, pairs + 2 * (r % 100), 2);
	out[29] = 'Z';
}

void nm_format_rfc3339(int64_t wall_ns, char *out, size_t outlen)
{
	uint8_t buf[RFC3339_LEN + 1];

	rfc3339_at(wall_ns, buf);
	buf[RFC3339_LEN] = '\0';
	if (outlen >= sizeof(buf))
		memcpy(out, buf, sizeof(buf));
	else if (outlen)
		out[0] = '\0';
}

/* "00".."ff" for each byte value */
static const char hex_pairs[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
				"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
				"404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
				"606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
				"808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
				"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
				"c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
				"e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

static inline uint8_t *hex64_at(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		memcpy(p + 2 * i, hex_pairs + 2 * ((v >> (56 - 8 * i)) & 0xff), 2);
	return p + 16;
}

/* The run id changes once per agent run: its half of the event id is written once per thread. */
static __thread struct {
	uint64_t run_id;
	bool valid;
	uint8_t hex[16];
} id_cache;

/* Append the literal @lit (its size known at compile time: a few moves, no call). */
#define PUT(p, lit)                                                                                \
	do {                                                                                       \
		memcpy(p, lit, sizeof(lit) - 1);                                                   \
		p += sizeof(lit) - 1;                                                              \
	} while (0)

/*
 * The common fields up to cgroup_id straight into a JSON writer's buffer, one
 * room check for all: the same bytes as the field-by-field path below. False
 * when @w is not a JSON writer at the top of its map (or out of memory).
 */
static bool json_common_fields(const struct nm_event *ev, struct nm_writer *w)
{
	size_t tlen = strlen(ev->type->name), hlen = strlen(ev->host), clen = 0;
	uint8_t *p;

	if (ev->has_task)
		clen = strnlen(ev->command, sizeof(ev->command));
	p = nm_json_reserve(w, 320 + NM_TEXT_MAX(tlen + hlen + clen));
	if (!p)
		return false;
	if (w->count[0])
		*p++ = ',';
	if (__builtin_expect(!id_cache.valid || id_cache.run_id != ev->run_id, 0)) {
		hex64_at(id_cache.hex, ev->run_id);
		id_cache.run_id = ev->run_id;
		id_cache.valid = true;
	}
	PUT(p, "\"id\":\"");
	memcpy(p, id_cache.hex, 16);
	p[16] = '-';
	p = hex64_at(p + 17, ev->seq);
	PUT(p, "\",\"seq\":");
	p = nm_json_u64_at(p, ev->seq);
	PUT(p, ",\"type\":\"");
	p = nm_json_text_at(p, ev->type->name, tlen);
	PUT(p, "\",\"host\":\"");
	p = nm_json_text_at(p, ev->host, hlen);
	PUT(p, "\",\"timestamp_ns\":");
	p = nm_json_u64_at(p, ev->timestamp_ns);
	PUT(p, ",\"time\":\"");
	rfc3339_at(ev->wall_ns, p);
	p += RFC3339_LEN;
	*p++ = '"';
	if (ev->has_task) {
		PUT(p, ",\"pid\":");
		p = nm_json_u64_at(p, ev->pid);
		PUT(p, ",\"tid\":");
		p = nm_json_u64_at(p, ev->tid);
		PUT(p, ",\"uid\":");
		p = nm_json_u64_at(p, ev->uid);
		PUT(p, ",\"command\":\"");
		p = nm_json_text_at(p, ev->command, clen);
		PUT(p, "\",\"cgroup_id\":");
		p = nm_json_u64_at(p, ev->cgroup_id);
	} else {
		PUT(p,
		    ",\"pid\":null,\"tid\":null,\"uid\":null,\"command\":null,\"cgroup_id\":null");
	}
	nm_json_commit(w, p, 11);
	return true;
}

/* The same fields as MessagePack: each key a fixstr, its header byte written out. */
static bool mp_common_fields(const struct nm_event *ev, struct nm_writer *w)
{
	size_t tlen = strlen(ev->type->name), hlen = strlen(ev->host), clen = 0;
	uint8_t *p;

	if (ev->has_task)
		clen = strnlen(ev->command, sizeof(ev->command));
	p = nm_mp_reserve(w, 320 + NM_MP_STR_MAX(tlen) + NM_MP_STR_MAX(hlen) + NM_MP_STR_MAX(clen));
	if (!p)
		return false;
	if (__builtin_expect(!id_cache.valid || id_cache.run_id != ev->run_id, 0)) {
		hex64_at(id_cache.hex, ev->run_id);
		id_cache.run_id = ev->run_id;
		id_cache.valid = true;
	}
	PUT(p, "\xa2"
	       "id"
	       "\xd9\x21"); /* str8 of 33 */
	memcpy(p, id_cache.hex, 16);
	p[16] = '-';
	p = hex64_at(p + 17, ev->seq);
	PUT(p, "\xa3"
	       "seq");
	p = nm_mp_u64_at(p, ev->seq);
	PUT(p, "\xa4"
	       "type");
	p = nm_mp_str_at(p, ev->type->name, tlen);
	PUT(p, "\xa4"
	       "host");
	p = nm_mp_str_at(p, ev->host, hlen);
	PUT(p, "\xac"
	       "timestamp_ns");
	p = nm_mp_u64_at(p, ev->timestamp_ns);
	PUT(p, "\xa4"
	       "time"
	       "\xbe"); /* fixstr of 30 */
	rfc3339_at(ev->wall_ns, p);
	p += RFC3339_LEN;
	if (ev->has_task) {
		PUT(p, "\xa3"
		       "pid");
		p = nm_mp_u64_at(p, ev->pid);
		PUT(p, "\xa3"
		       "tid");
		p = nm_mp_u64_at(p, ev->tid);
		PUT(p, "\xa3"
		       "uid");
		p = nm_mp_u64_at(p, ev->uid);
		PUT(p, "\xa7"
		       "command");
		p = nm_mp_str_at(p, ev->command, clen);
		PUT(p, "\xa9"
		       "cgroup_id");
		p = nm_mp_u64_at(p, ev->cgroup_id);
	} else {
		PUT(p, "\xa3"
		       "pid"
		       "\xc0"
		       "\xa3"
		       "tid"
		       "\xc0"
		       "\xa3"
		       "uid"
		       "\xc0"
		       "\xa7"
		       "command"
		       "\xc0"
		       "\xa9"
		       "cgroup_id"
		       "\xc0");
	}
	nm_mp_commit(w, p, 11);
	return true;
}

void nm_event_fields(const struct nm_event *ev, struct nm_writer *w)
{
	char time_buf[40], id[NM_EVENT_ID_LEN];

	if (json_common_fields(ev, w) || mp_common_fields(ev, w)) {
		if (ev->has_task)
			nm_cgroup_write(ev->cgroup_id, (pid_t)ev->pid, w);
		else
			nm_cgroup_write_none(w);
		ev->type->write_fields(ev, w);
		return;
	}
	nm_format_rfc3339(ev->wall_ns, time_buf, sizeof(time_buf));
	nm_event_id(ev, id);
	nm_w_str(w, "id", id, NM_EVENT_ID_LEN - 1);
	nm_w_u64(w, "seq", ev->seq);
	nm_w_cstr(w, "type", ev->type->name);
	nm_w_cstr(w, "host", ev->host);
	nm_w_u64(w, "timestamp_ns", ev->timestamp_ns);
	nm_w_cstr(w, "time", time_buf);
	if (ev->has_task) {
		nm_w_u64(w, "pid", ev->pid);
		nm_w_u64(w, "tid", ev->tid);
		nm_w_u64(w, "uid", ev->uid);
		nm_w_kstr(w, "command", ev->command, sizeof(ev->command));
		nm_w_u64(w, "cgroup_id", ev->cgroup_id);
		nm_cgroup_write(ev->cgroup_id, (pid_t)ev->pid, w);
	} else {
		nm_w_null(w, "pid");
		nm_w_null(w, "tid");
		nm_w_null(w, "uid");
		nm_w_null(w, "command");
		nm_w_null(w, "cgroup_id");
		nm_cgroup_write_none(w);
	}
	ev->type->write_fields(ev, w);
}

void nm_event_write(const struct nm_event *ev, struct nm_writer *w)
{
	nm_w_begin(w);
	nm_event_fields(ev, w);
	nm_w_end(w);
}

void nm_event_write_fields(const void *event, struct nm_writer *w)
{
	nm_event_write(event, w);
}

void nm_event_encode(const struct nm_event *ev, enum nm_format format, struct nm_buf *out)
{
	struct nm_writer w;

	nm_buf_reset(out);
	nm_writer_init(&w, format, out);
	nm_event_write(ev, &w);
}
