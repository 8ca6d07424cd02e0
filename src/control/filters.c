/* filters.c - GET and POST /api/programs/NAME/filter: a running program's in-kernel filter. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"
#include "../filter.h"
#include "../log.h"
#include "../pipeline.h"

/*
 * The answer is the filter itself, with the keys of the config, so that what
 * GET returns can be POSTed back; {} is no filter.
 */
static enum MHD_Result reply_filter(struct nm_control *c, struct MHD_Connection *conn,
				    struct nm_request *r, struct nm_program *prog)
{
	struct nm_writer w;
	struct nm_buf out;

	nm_reply_start(&w, &out, r->fmt);
	nm_program_write_filter(prog, &w);
	return nm_reply_send(c, conn, MHD_HTTP_OK, &w, NULL);
}

enum MHD_Result nm_ep_filter(struct nm_control *c, struct MHD_Connection *conn,
			     struct nm_request *r)
{
	size_t np = nm_pipeline_program_count(c->p), i;
	const struct nm_program_type *t;
	struct nm_filter *f = NULL;
	struct nm_program *prog;
	enum MHD_Result ret;
	struct ucred cred;
	char err[512];
	int rc;

	for (i = 0; i < np; i++)
		if (!strcmp(nm_pipeline_program_type(c->p, i)->name, r->program))
			break;
	if (i == np)
		return nm_reply_error(c, conn, r->fmt, MHD_HTTP_NOT_FOUND, NULL,
				      "unknown program '%.64s'", r->program);
	t = nm_pipeline_program_type(c->p, i);
	if (r->post && !nm_peer_privileged(c, conn, &cred)) {
		atomic_fetch_add(&c->forbidden, 1);
		nm_info("control: refused a filter for %s to uid %d pid %d", t->name, (int)cred.uid,
			(int)cred.pid);
		if (c->cfg->control.has_admin_group)
			return nm_reply_error(
				c, conn, r->fmt, MHD_HTTP_FORBIDDEN, NULL,
				"setting a filter needs uid 0 or membership of group %s",
				c->cfg->control.admin_group);
		return nm_reply_error(c, conn, r->fmt, MHD_HTTP_FORBIDDEN, NULL,
				      "setting a filter needs uid 0");
	}
	/* parsed before the lock: resolving drop reasons reads the kernel's BTF */
	if (r->post && !r->body_bytes)
		return nm_reply_error(c, conn, r->fmt, MHD_HTTP_BAD_REQUEST, NULL,
				      "the body must be a JSON object of filter lists ({} clears)");
	if (r->post && !(f = nm_filter_from_json(t, r->body, r->body_bytes, err, sizeof(err))))
		return nm_reply_error(c, conn, r->fmt, MHD_HTTP_BAD_REQUEST, NULL, "%s", err);
	/* a reload cannot swap the program while it is used here */
	nm_pipeline_lock_shared(c->p);
	prog = nm_pipeline_program(c->p, i);
	if (!prog) {
		ret = nm_reply_error(c, conn, r->fmt, MHD_HTTP_CONFLICT, NULL,
				     "program %s is disabled in the configuration", t->name);
	} else if (f && (rc = nm_program_set_filter(prog, f, err, sizeof(err)))) {
		ret = nm_reply_error(c, conn, r->fmt, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "%s",
				     err);
	} else {
		if (f)
			nm_info("control: %s filter set (uid %d pid %d)", t->name, (int)cred.uid,
				(int)cred.pid);
		ret = reply_filter(c, conn, r, prog);
	}
	nm_pipeline_unlock_shared(c->p);
	nm_filter_free(f);
	return ret;
}
