/* reload.c - POST /api/reload: the privileged hot reload of the agent's configuration file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"
#include "../log.h"
#include "../reload.h"

/* Each line of @text (one error or warning per line) as an element of array @key. */
static void write_lines(struct nm_writer *w, const char *key, const char *text)
{
	nm_w_array(w, key);
	while (*text) {
		size_t n = strcspn(text, "\n");

		if (n)
			nm_w_str(w, NULL, text, n);
		text += n;
		text += *text == '\n';
	}
	nm_w_end_nested(w);
}

static unsigned int status_of(int rc)
{
	switch (rc) {
	case 0:
		return MHD_HTTP_OK;
	case -ENOENT: /* the built-in default: nothing to re-read */
		return MHD_HTTP_CONFLICT;
	case -EINVAL:
		return 422; /* Unprocessable Content: its name in libmicrohttpd changed */
	case -ETIMEDOUT:
	case -ECANCELED:
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	default: /* valid, but a sink or program could not be set up: nothing changed */
		return MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
}

static const char *summary_of(int rc)
{
	switch (rc) {
	case -ENOENT:
		return "no configuration file to re-read: the agent was started without -c";
	case -EINVAL:
		return "configuration refused; the running one stays";
	case -ETIMEDOUT:
	case -ECANCELED:
		return "reload not done; the running configuration stays";
	default:
		return "configuration could not be applied; the running one stays";
	}
}

enum MHD_Result nm_ep_reload(struct nm_control *c, struct MHD_Connection *conn,
			     struct nm_request *r)
{
	struct nm_reload *rl = nm_pipeline_reload(c->p);
	struct nm_reload_result *res;
	struct nm_reload_info info;
	struct nm_writer w;
	struct ucred cred;
	struct nm_buf out;
	char when[40];
	int rc;

	if (!nm_peer_privileged(c, conn, &cred)) {
		atomic_fetch_add(&c->forbidden, 1);
		nm_info("control: refused reload to uid %d pid %d", (int)cred.uid, (int)cred.pid);
		if (c->cfg->control.has_admin_group)
			return nm_reply_error(c, conn, r->fmt, MHD_HTTP_FORBIDDEN, NULL,
					      "reload needs uid 0 or membership of group %s",
					      c->cfg->control.admin_group);
		return nm_reply_error(c, conn, r->fmt, MHD_HTTP_FORBIDDEN, NULL,
				      "reload needs uid 0");
	}
	if (!rl)
		return nm_reply_error(c, conn, r->fmt, MHD_HTTP_CONFLICT, NULL,
				      "this agent cannot reload");
	res = malloc(sizeof(*res));
	if (!res)
		return nm_reply_error(c, conn, r->fmt, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
				      "out of memory");
	nm_info("control: reload requested by uid %d pid %d", (int)cred.uid, (int)cred.pid);
	rc = nm_reload_request(rl, res);
	nm_reload_get_info(rl, &info);
	nm_reply_start(&w, &out, r->fmt);
	if (rc) {
		nm_w_cstr(&w, "error", summary_of(rc));
		write_lines(&w, "errors", res->errors);
	} else {
		nm_w_cstr(&w, "status", "applied");
		nm_w_map(&w, "sinks");
		nm_w_u64(&w, "added", res->sinks_added);
		nm_w_u64(&w, "removed", res->sinks_removed);
		nm_w_u64(&w, "changed", res->sinks_changed);
		nm_w_u64(&w, "unchanged", res->sinks_unchanged);
		nm_w_end_nested(&w);
		nm_w_map(&w, "programs");
		nm_w_u64(&w, "enabled", res->programs_enabled);
		nm_w_u64(&w, "disabled", res->programs_disabled);
		nm_w_end_nested(&w);
	}
	write_lines(&w, "warnings", res->warnings);
	nm_w_u64(&w, "generation", info.generation);
	nm_format_rfc3339(info.loaded_at_ns, when, sizeof(when));
	nm_w_cstr(&w, "loaded_at", when);
	free(res);
	return nm_reply_send(c, conn, status_of(rc), &w, NULL);
}
