/* event.c - writes the common fields of every event, then the program's own. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "event.h"
#include "program.h"

void nm_format_rfc3339(int64_t wall_ns, char *out, size_t outlen)
{
	time_t sec = (time_t)(wall_ns / 1000000000LL);
	long nsec = (long)(wall_ns % 1000000000LL);
	struct tm tm;

	if (nsec < 0) {
		nsec += 1000000000L;
		sec--;
	}
	gmtime_r(&sec, &tm);
	snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, nsec);
}

void nm_event_write(const struct nm_event *ev, struct nm_writer *w)
{
	char time_buf[40];

	nm_format_rfc3339(ev->wall_ns, time_buf, sizeof(time_buf));
	nm_w_begin(w);
	nm_w_kstr(w, "id", ev->id, sizeof(ev->id));
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
	} else {
		nm_w_null(w, "pid");
		nm_w_null(w, "tid");
		nm_w_null(w, "uid");
		nm_w_null(w, "command");
		nm_w_null(w, "cgroup_id");
	}
	ev->type->write_fields(ev, w);
	nm_w_end(w);
}

void nm_event_encode(const struct nm_event *ev, enum nm_format format, struct nm_buf *out)
{
	struct nm_writer w;

	nm_buf_reset(out);
	nm_writer_init(&w, format, out);
	nm_event_write(ev, &w);
}
