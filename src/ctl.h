/* ctl.h - what the parts of ebpf-netmonctl share: the client, one request, MessagePack look-ups. */
#ifndef NM_CTL_H
#define NM_CTL_H

#include <stdbool.h>
#include <stdio.h>
#include <curl/curl.h>
#include <msgpack.h>

#define DEFAULT_SOCKET "/run/ebpf-netmon/control.sock"
#define EXIT_SERVER    1 /* the agent answered with an error */
#define EXIT_UNREACH   2 /* no agent answered */
#define EXIT_USAGE     64

extern const char *prog_name;

struct body {
	char *data;
	size_t len;
};

struct client {
	CURL *curl;
	const char *socket;
	bool json;
	char errbuf[CURL_ERROR_SIZE];
};

/*
 * One request. On success returns 0 and leaves the body in @b (JSON or
 * MessagePack as asked; the caller frees b->data) and the status in @status.
 * If no agent answered, prints why and returns EXIT_UNREACH.
 */
int ctl_request(struct client *c, const char *method, const char *path, bool msgpack,
		struct body *b, long *status);
/* The value of @key in the map @map, or NULL. */
const msgpack_object *ctl_mp_get(const msgpack_object *map, const char *key);
/* A scalar as printable text into @buf ("-" for null or absent; control bytes as '?'). */
const char *ctl_mp_text(const msgpack_object *o, char *buf, size_t len);
const char *ctl_field(const msgpack_object *map, const char *key, char *buf, size_t len);
/* @len bytes with control bytes (names an attacker chose) written as '?'. */
void ctl_put_clean(FILE *out, const char *s, size_t len);

/* `top`: a live view refreshed every second until 'q', ^C or @refreshes (0: no end). */
int ctl_top(struct client *c, long refreshes);

#endif
