/* event.c - writes the common fields of every event, then the program's own. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cgroup.h"
#include "event.h"
#include "program.h"

/* Events arrive in bursts within one second: format the date part once per second per thread. */
static __thread struct {
	time_t sec;
	bool valid;
	char prefix[64];
} rfc3339_cache;

void nm_format_rfc3339(int64_t wall_ns, char *out, size_t outlen)
{
	time_t sec = (time_t)(wall_ns / 1000000000LL);
	long nsec = (long)(wall_ns % 1000000000LL);
	char buf[40];

	if (nsec < 0) {
		nsec += 1000000000L;
		sec--;
	}
	if (!rfc3339_cache.valid || rfc3339_cache.sec != sec) {
		struct tm tm;

		gmtime_r(&sec, &tm);
		snprintf(rfc3339_cache.prefix, sizeof(rfc3339_cache.prefix),
			 "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		rfc3339_cache.sec = sec;
		rfc3339_cache.valid = true;
	}
	memcpy(buf, rfc3339_cache.prefix, 20);
	for (int i = 28; i >= 20; i--) {
		buf[i] = (char)('0' + nsec % 10);
		nsec /= 10;
	}
	buf[29] = 'Z';
	buf[30] = '\0';
	if (outlen >= 31)
		memcpy(out, buf, 31);
	else if (outlen)
		out[0] = '\0';
}

void nm_event_fields(const struct nm_event *ev, struct nm_writer *w)
{
	char time_buf[40], id[NM_EVENT_ID_LEN];

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
