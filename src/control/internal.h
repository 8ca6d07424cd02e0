/* internal.h - what the files of the control server share: its state, requests and answers. */
#ifndef NM_CONTROL_INTERNAL_H
#define NM_CONTROL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>
#include <microhttpd.h>

#include "../control.h"
#include "../program.h"
#include "../store.h"
#include "../writer.h"
#include "params.h"

/* More than this is refused; only POST /api/programs/NAME/filter keeps its body, the rest discard it. */
#define NM_CONTROL_BODY_MAX	65536
#define NM_CONTROL_HEALTH_SLOTS 8 /* connections past max_clients that only /health may use */

struct nm_gate;

struct nm_uid_count {
	uid_t uid;
	unsigned clients;
};

struct nm_control {
	const struct nm_config *cfg; /* borrowed */
	struct nm_pipeline *p;	     /* borrowed */
	struct nm_store *store;
	struct nm_tap tap;
	bool tapped;
	struct MHD_Daemon *mhd;
	struct MHD_Daemon *metrics_mhd; /* metrics.listen, if set */
	int listen_fd;			/* until handed to the gate, which then owns it */
	struct nm_gate *gate;
	dev_t sock_dev; /* the socket file we created, to remove only that */
	ino_t sock_ino;
	struct timespec started;

	/*
	 * Clients handed to libmicrohttpd and not yet closed by it. The gate adds
	 * one before the hand-over (so its next check already sees it; counting at
	 * libmicrohttpd's start notification lagged, and clients past its limit were
	 * closed unanswered), the close notification takes it away.
	 */
	atomic_uint_fast64_t connections;
	atomic_uint_fast64_t connections_total;
	atomic_uint_fast64_t requests;
	atomic_uint_fast64_t status_2xx;
	atomic_uint_fast64_t status_4xx;
	atomic_uint_fast64_t status_5xx;
	atomic_uint_fast64_t forbidden;
	atomic_uint_fast64_t streams;
	atomic_uint_fast64_t refused_early;	/* by the gate, before libmicrohttpd saw them */
	atomic_uint_fast64_t refused_uid_limit; /* of those: the user had max_clients_per_uid */

	/* Clients per peer uid, from accept to close (gate.c): no user takes every slot. */
	pthread_mutex_t uid_lock;
	struct nm_uid_count *uids;
	size_t nuids, uids_max;
};

/* One request, from its first callback to its completion (server.c owns it). */
struct nm_request {
	bool started;	   /* the first call, with the headers, is over */
	bool path_encoded; /* the raw path held a %: refused, never routed */
	size_t body_bytes;
	enum nm_format fmt;		    /* of the answer, from Accept */
	const struct nm_program_type *type; /* list and summary routes: their program */
	char program[128];		    /* attach/detach: the NAME in the path */
	bool attach;
	bool post;		 /* the method is POST */
	bool keep_body;		 /* the path is a filter's: the body is kept in body */
	char *body;		 /* owned; body_bytes long, NUL-terminated */
	struct nm_params params; /* the query string, checked before the endpoint runs */
};

/*
 * An endpoint: runs once its route and parameters are known to be good; queues
 * one response and returns libmicrohttpd's verdict.
 */
typedef enum MHD_Result nm_endpoint(struct nm_control *c, struct MHD_Connection *conn,
				    struct nm_request *r);

/* ---- answers (reply.c): a document is an nm_buf and a writer over it ---- */

/* Point @w at the empty buffer @out and open the document's top map. */
void nm_reply_start(struct nm_writer *w, struct nm_buf *out, enum nm_format fmt);
/*
 * Close the top map and queue the document as the answer with @status (500
 * instead if the writer flagged an error or ran out of memory). The buffer
 * is now owned by the response. @allow, if not NULL, is the Allow header.
 */
enum MHD_Result nm_reply_send(struct nm_control *c, struct MHD_Connection *conn,
			      unsigned int status, struct nm_writer *w, const char *allow);
/* Queue @out (now owned by the response; 500 if it ran out of memory) as a @content_type answer. */
enum MHD_Result nm_reply_buf(struct nm_control *c, struct MHD_Connection *conn, unsigned int status,
			     struct nm_buf *out, const char *content_type, const char *allow);
/* {"error": "..."} with @status. */
enum MHD_Result nm_reply_error(struct nm_control *c, struct MHD_Connection *conn,
			       enum nm_format fmt, unsigned int status, const char *allow,
			       const char *msgfmt, ...) __attribute__((format(printf, 6, 7)));
/* Count an answer by its status class, for /api/stats. */
void nm_reply_count(struct nm_control *c, unsigned int status);

/* ---- endpoints (queries.c, stream.c) ---- */

nm_endpoint nm_ep_health, nm_ep_programs, nm_ep_stats, nm_ep_events, nm_ep_list, nm_ep_summary,
	nm_ep_program_action, nm_ep_stream, nm_ep_metrics, nm_ep_reload;
/* GET and POST /api/programs/NAME/filter, NAME in r->program (filters.c). */
nm_endpoint nm_ep_filter;

struct ucred;
/* uid 0, or the admin group as the peer process's primary or supplementary group (queries.c). */
bool nm_peer_privileged(struct nm_control *c, struct MHD_Connection *conn, struct ucred *cred);

/* The body of /api/stats, into @w's open top map: /metrics renders the same calls (queries.c). */
void nm_stats_write(struct nm_control *c, struct nm_writer *w);
/* Serve /metrics on cfg->metrics.listen too, if set (metrics.c). 0, or -errno with @err set. */
int nm_metrics_listen(struct nm_control *c, char *err, size_t errlen);
void nm_metrics_stop(struct nm_control *c);

/* ---- the gate (gate.c): accepts clients, checks each header, hands it to c->mhd ---- */

/*
 * Accept on @listen_fd (now owned by the gate, closed on failure too) in a
 * thread of its own, holding at most @max_pending clients whose header is not
 * yet whole. NULL with @err set.
 */
struct nm_gate *nm_gate_start(struct nm_control *c, int listen_fd, size_t max_pending, char *err,
			      size_t errlen);
/* Stop accepting and drop the clients not yet handed over. */
void nm_gate_stop(struct nm_gate *g);
/* The per-uid client counts (c->uids), room for @max clients at once; before the gate starts. */
int nm_clients_init(struct nm_control *c, size_t max);
/* After libmicrohttpd has stopped: it releases its clients' counts until then. */
void nm_clients_free(struct nm_control *c);
/* A client of @uid, counted by the gate at accept, is gone. */
void nm_clients_release(struct nm_control *c, uid_t uid);
/* The peer's uid of Unix socket @fd (SO_PEERCRED), or (uid_t)-1. */
uid_t nm_peer_uid(int fd);

/* Why a request head was refused: the answer's status, reason phrase and message. */
struct nm_head_check {
	unsigned status; /* 0: the head is whole and its framing fine */
	const char *reason;
	const char *msg;
};

/*
 * The gate's framing checks on the first @len bytes a client sent (any bytes;
 * @buf[@len] must be readable and NUL): -EAGAIN while the header is not yet
 * whole, else 0 with @hc->status set when it is refused. Separate from the
 * socket so that tests/fuzz/fuzz_gate.c can feed it arbitrary heads.
 */
int nm_gate_check_head(const char *buf, size_t len, struct nm_head_check *hc);

/* ---- the socket file (socket.c) ---- */

/*
 * Create the socket at cfg->control.socket with its directory (checked like
 * sshd's StrictModes), mode and group, replacing a stale one, and listen: sets c->listen_fd, sock_dev and
 * sock_ino. 0, or a negative errno with @err set.
 */
int nm_control_socket_open(struct nm_control *c, char *err, size_t errlen);
/* Remove the socket file, if it is still the one we created. */
void nm_control_socket_remove(struct nm_control *c);

#endif
