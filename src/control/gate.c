/* gate.c - accepts control clients and checks each request header before libmicrohttpd sees it. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "../log.h"

/*
 * Why a gate: libmicrohttpd 0.9.75 answers bad framing with its own HTML
 * (and for a bad Content-Length sends its header block twice), waits out a
 * client that never finishes its header for the whole idle timeout, and
 * goes silent when its connection limit is reached. Here each new client's
 * header is peeked at (never consumed) until it is whole, checked, and only
 * then handed to libmicrohttpd; anything else gets the API's JSON error.
 */

#define HEADER_WAIT_MS 3000  /* a whole request header within this, or the client is dropped */
#define TICK_MS	       20    /* re-peek at clients whose header is still partial */
#define LINE_MAX_BYTES 8192  /* request line; 414 past it */
#define HEADER_MAX     16384 /* whole header block; 431 past it (MHD's pool is larger) */

struct pending {
	int fd;
	uid_t uid;     /* its peer's, counted in c->uids until it is closed or handed over */
	size_t peeked; /* bytes seen at the last look: no new bytes, no new look until the tick */
	struct timespec deadline;
};

struct nm_gate {
	struct nm_control *c; /* borrowed */
	int listen_fd;	      /* owned */
	int stop_fd;	      /* eventfd, owned */
	size_t max_pending;
	size_t npending;
	struct pending *pending;
	struct pollfd *pfds;
	char *peek; /* HEADER_MAX + 2 bytes: one past the limit, and a NUL after it */
	pthread_t thread;
	bool running;
};

static long ms_until(const struct timespec *t, const struct timespec *now)
{
	return (t->tv_sec - now->tv_sec) * 1000 + (t->tv_nsec - now->tv_nsec) / 1000000;
}

/* One JSON answer and close: the client gets no second try on this connection. */
static void refuse(struct nm_gate *g, int fd, unsigned status, const char *reason, const char *msg)
{
	char out[512];
	char body[256];
	int blen, n;

	blen = snprintf(body, sizeof(body), "{\"error\":\"%s\"}\n", msg);
	n = snprintf(out, sizeof(out),
		     "HTTP/1.1 %u %s\r\nConnection: close\r\nContent-Type: application/json\r\n"
		     "Cache-Control: no-store\r\nContent-Length: %d\r\n\r\n%s",
		     status, reason, blen, body);
	/* a few hundred bytes into an empty socket buffer: never blocks, rarely short */
	if (send(fd, out, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		nm_debug("control: answering a refused client: %s", strerror(errno));
	shutdown(fd, SHUT_WR);
	/* what it sent and we did not read would turn our close into a reset before it reads */
	while (recv(fd, g->peek, HEADER_MAX + 1, MSG_DONTWAIT) > 0)
		;
	close(fd);
	nm_reply_count(g->c, status);
	atomic_fetch_add(&g->c->refused_early, 1);
}

/* The value of header @name in @hdr (the lines after the request line), and how often it came. */
static int count_header(const char *hdr, const char *end, const char *name, const char **value)
{
	size_t nlen = strlen(name);
	int count = 0;

	for (const char *p = hdr; p < end;) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));

		if (!eol)
			break;
		if ((size_t)(eol - p) > nlen && !strncasecmp(p, name, nlen) && p[nlen] == ':') {
			count++;
			*value = p + nlen + 1;
		}
		p = eol + 1;
	}
	return count;
}

/* Content-Length: digits only, within the body limit. 0, or the status to refuse with. */
static unsigned check_length(const char *v)
{
	uint64_t n = 0;
	int digits = 0;

	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v >= '0' && *v <= '9'; v++, digits++) {
		if (digits >= 19)
			return 413;
		n = n * 10 + (uint64_t)(*v - '0');
	}
	while (*v == ' ' || *v == '\t')
		v++;
	if (!digits || (*v != '\r' && *v != '\n'))
		return 400;
	return n > NM_CONTROL_BODY_MAX ? 413 : 0;
}

static int refusal(struct nm_head_check *hc, unsigned status, const char *reason, const char *msg)
{
	*hc = (struct nm_head_check){status, reason, msg};
	return 0;
}

/* Every slot taken for @request: /health has NM_CONTROL_HEALTH_SLOTS more than the rest. */
static bool full(struct nm_gate *g, const char *request)
{
	uint_fast64_t open = atomic_load(&g->c->connections);
	uint_fast64_t max = (uint_fast64_t)g->c->cfg->control.max_clients;
	const char *target = strchr(request, ' ');
	bool health = target && !strncmp(target, " /health ", 9);

	return open >= max + (health ? NM_CONTROL_HEALTH_SLOTS : 0);
}

int nm_gate_check_head(const char *buf, size_t len, struct nm_head_check *hc)
{
	const char *cl = NULL, *te = NULL, *eol, *end;
	size_t scan;
	int ncl, nte;
	unsigned st;

	*hc = (struct nm_head_check){0};
	/* only the header is checked: what follows it may be a body of any bytes */
	end = memmem(buf, len, "\r\n\r\n", 4);
	scan = end ? (size_t)(end - buf) + 4 : len;
	for (size_t i = 0; i < scan; i++) {
		unsigned char b = (unsigned char)buf[i];

		/* a bare CR or LF: lines split differently by different parsers */
		if ((b == '\r' && i + 1 < len && buf[i + 1] != '\n') ||
		    (b == '\n' && (!i || buf[i - 1] != '\r')))
			b = 0;
		if ((b < 0x20 && b != '\t' && b != '\r' && b != '\n') || b == 0x7f)
			return refusal(
				hc, 400, "Bad Request",
				"malformed request: a NUL, bare CR or LF, or control byte in "
				"the header");
	}
	eol = memchr(buf, '\n', scan);
	if ((!eol && len > LINE_MAX_BYTES) || (eol && eol - buf > LINE_MAX_BYTES))
		return refusal(hc, 414, "URI Too Long", "request line longer than 8192 bytes");
	if (!end) {
		if (len > HEADER_MAX)
			return refusal(hc, 431, "Request Header Fields Too Large",
				       "request header larger than 16384 bytes");
		return -EAGAIN;
	}
	end += 2;
	ncl = count_header(eol + 1, end, "Content-Length", &cl);
	nte = count_header(eol + 1, end, "Transfer-Encoding", &te);
	if (ncl > 1 || (ncl && nte))
		return refusal(hc, 400, "Bad Request",
			       "malformed request: more than one body length (Content-Length, "
			       "Transfer-Encoding)");
	/* no endpoint takes a body that needs one: a chunked body's errors would be MHD's HTML */
	if (nte)
		return refusal(hc, 411, "Length Required",
			       "the API takes no chunked (Transfer-Encoding) bodies: send "
			       "Content-Length");
	if (ncl && (st = check_length(cl))) {
		if (st == 413)
			return refusal(hc, 413, "Content Too Large",
				       "request body larger than 4096 bytes");
		return refusal(hc, 400, "Bad Request",
			       "malformed request: Content-Length is not a decimal number");
	}
	return 0;
}

/* ---- clients per uid: one user cannot take every slot ------------------------------------- */

int nm_clients_init(struct nm_control *c, size_t max)
{
	pthread_mutex_init(&c->uid_lock, NULL);
	c->uids = calloc(max ? max : 1, sizeof(*c->uids));
	c->uids_max = max;
	return c->uids ? 0 : -ENOMEM;
}

void nm_clients_free(struct nm_control *c)
{
	if (!c->uids)
		return;
	pthread_mutex_destroy(&c->uid_lock);
	free(c->uids);
	c->uids = NULL;
}

/*
 * Count one more client of @uid, unless it has max_clients_per_uid already (or no room).
 * Root is not counted: the share keeps users from starving each other and root, and root's
 * own scripts (100 concurrent queries) are held only to max_clients.
 */
static bool uid_acquire(struct nm_control *c, uid_t uid)
{
	unsigned limit = (unsigned)c->cfg->control.max_clients_per_uid;
	bool ok = false;
	size_t i;

	if (uid == 0)
		return true;
	pthread_mutex_lock(&c->uid_lock);
	for (i = 0; i < c->nuids && c->uids[i].uid != uid; i++)
		;
	if (i < c->nuids) {
		ok = c->uids[i].clients < limit;
		c->uids[i].clients += ok;
	} else if (c->nuids < c->uids_max) {
		c->uids[c->nuids++] = (struct nm_uid_count){uid, 1};
		ok = true;
	}
	pthread_mutex_unlock(&c->uid_lock);
	return ok;
}

void nm_clients_release(struct nm_control *c, uid_t uid)
{
	if (uid == 0)
		return; /* never counted: uid_acquire() */
	pthread_mutex_lock(&c->uid_lock);
	for (size_t i = 0; i < c->nuids; i++) {
		if (c->uids[i].uid != uid)
			continue;
		if (!--c->uids[i].clients)
			c->uids[i] = c->uids[--c->nuids];
		break;
	}
	pthread_mutex_unlock(&c->uid_lock);
}

/* The peer's uid on a Unix socket; -1 (nobody's) if the kernel will not say. */
uid_t nm_peer_uid(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) || len != sizeof(cred))
		return (uid_t)-1;
	return cred.uid;
}

enum verdict { WAIT, DROP, PASS, REFUSED };

/* Look at what @p has sent so far; refuse it, pass it on, or wait for more. */
static enum verdict look(struct nm_gate *g, struct pending *p)
{
	ssize_t n = recv(p->fd, g->peek, HEADER_MAX + 1, MSG_PEEK | MSG_DONTWAIT);
	struct nm_head_check hc;

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? WAIT : DROP;
	if (n == 0)
		return DROP; /* gone before finishing its request: its slot is free at once */
	p->peeked = (size_t)n;
	g->peek[n] = '\0';
	if (nm_gate_check_head(g->peek, (size_t)n, &hc))
		return WAIT;
	if (hc.status) {
		refuse(g, p->fd, hc.status, hc.reason, hc.msg);
		return REFUSED;
	}
	if (full(g, g->peek)) {
		refuse(g, p->fd, 503, "Service Unavailable",
		       "too many clients: try again in a moment");
		return REFUSED;
	}
	return PASS;
}

/* The client and its uid count now belong to libmicrohttpd: on_connection() releases them. */
static void hand_over(struct nm_gate *g, struct pending *p)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	atomic_fetch_add(&g->c->connections, 1);
	atomic_fetch_add(&g->c->connections_total, 1);
	/* MHD now owns fd: it closes it on failure too, without a close notification */
	if (MHD_add_connection(g->c->mhd, p->fd, (struct sockaddr *)&sa, sizeof(sa)) != MHD_YES) {
		atomic_fetch_sub(&g->c->connections, 1);
		nm_clients_release(g->c, p->uid);
		nm_info("control: cannot hand a client to the HTTP server: %s", strerror(errno));
	}
}

static void accept_all(struct nm_gate *g, const struct timespec *now)
{
	for (;;) {
		int fd = accept4(g->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct pending *p;
		uid_t uid;

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				nm_debug("control: accept: %s", strerror(errno));
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		if (g->npending == g->max_pending) {
			refuse(g, fd, 503, "Service Unavailable",
			       "too many clients: try again in a moment");
			continue;
		}
		uid = nm_peer_uid(fd);
		if (!uid_acquire(g->c, uid)) {
			atomic_fetch_add(&g->c->refused_uid_limit, 1);
			refuse(g, fd, 503, "Service Unavailable",
			       "too many connections from your user (control.max_clients_per_uid): "
			       "close some");
			continue;
		}
		p = &g->pending[g->npending++];
		p->fd = fd;
		p->uid = uid;
		p->peeked = 0;
		p->deadline = *now;
		p->deadline.tv_sec += HEADER_WAIT_MS / 1000;
	}
}

static void *gate_main(void *arg)
{
	struct nm_gate *g = arg;
	struct timespec now;

	for (;;) {
		bool stalled = false;
		size_t i;
		int rc;

		g->pfds[0] = (struct pollfd){.fd = g->stop_fd, .events = POLLIN};
		g->pfds[1] = (struct pollfd){.fd = g->listen_fd, .events = POLLIN};
		for (i = 0; i < g->npending; i++) {
			/* a partial header stays readable: look again on the tick, not on POLLIN */
			short ev = g->pending[i].peeked ? POLLRDHUP : POLLIN;

			stalled |= g->pending[i].peeked != 0;
			g->pfds[2 + i] = (struct pollfd){.fd = g->pending[i].fd, .events = ev};
		}
		rc = poll(g->pfds, 2 + g->npending, stalled ? TICK_MS : 500);
		if (rc < 0 && errno != EINTR)
			break;
		if (g->pfds[0].revents)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		/* in reverse, so that removing one by swapping in the last keeps pfds[] aligned */
		for (i = g->npending; i-- > 0;) {
			struct pending *p = &g->pending[i];
			short rev = g->pfds[2 + i].revents;
			enum verdict v = WAIT;

			if (rev || p->peeked)
				v = look(g, p);
			/* hung up with its header unfinished: the slot is free now, not at the deadline */
			if (v == WAIT && (rev & (POLLRDHUP | POLLHUP | POLLERR)))
				v = DROP;
			if (v == WAIT && ms_until(&p->deadline, &now) <= 0) {
				refuse(g, p->fd, 408, "Request Timeout",
				       "no whole request header within 3 seconds");
				v = REFUSED;
			}
			if (v == WAIT)
				continue;
			if (v == DROP)
				close(p->fd);
			if (v == PASS)
				hand_over(g, p);
			else
				nm_clients_release(g->c, p->uid);
			*p = g->pending[--g->npending];
		}
		if (g->pfds[1].revents)
			accept_all(g, &now);
	}
	for (size_t i = 0; i < g->npending; i++) {
		close(g->pending[i].fd);
		nm_clients_release(g->c, g->pending[i].uid);
	}
	g->npending = 0;
	return NULL;
}

struct nm_gate *nm_gate_start(struct nm_control *c, int listen_fd, size_t max_pending, char *err,
			      size_t errlen)
{
	struct nm_gate *g = calloc(1, sizeof(*g));
	int rc;

	if (!g) {
		snprintf(err, errlen, "control: out of memory");
		close(listen_fd);
		return NULL;
	}
	g->c = c;
	g->listen_fd = listen_fd;
	g->max_pending = max_pending;
	g->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	g->pending = calloc(max_pending, sizeof(*g->pending));
	g->pfds = calloc(max_pending + 2, sizeof(*g->pfds));
	g->peek = malloc(HEADER_MAX + 2);
	if (g->stop_fd < 0 || !g->pending || !g->pfds || !g->peek) {
		snprintf(err, errlen, "control: cannot set up the accepting thread: out of memory");
		goto fail;
	}
	rc = pthread_create(&g->thread, NULL, gate_main, g);
	if (rc) {
		snprintf(err, errlen, "control: cannot start a thread: %s", strerror(rc));
		goto fail;
	}
	g->running = true;
	return g;
fail:
	nm_gate_stop(g);
	return NULL;
}

void nm_gate_stop(struct nm_gate *g)
{
	uint64_t one = 1;

	if (!g)
		return;
	if (g->running) {
		if (write(g->stop_fd, &one, sizeof(one)) < 0)
			nm_debug("control: stopping the accepting thread: %s", strerror(errno));
		pthread_join(g->thread, NULL);
	}
	if (g->stop_fd >= 0)
		close(g->stop_fd);
	close(g->listen_fd);
	free(g->pending);
	free(g->pfds);
	free(g->peek);
	free(g);
}
