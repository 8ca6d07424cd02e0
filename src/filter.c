/* filter.c - in-kernel filters: parsed from the config or a JSON body, put in a program's maps. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <jansson.h>
#include <libconfig.h>

#include "cgroup.h"
#include "filter.h"
#include "program.h"
#include "schema.h"

#define PID_MAX 4194304 /* the kernel's PID_MAX_LIMIT */

enum kind { K_U32, K_PORT, K_CGROUP, K_COMMAND, K_CIDR, K_REASON };

static const struct {
	const char *key[2]; /* include, exclude */
	enum kind kind;
} dims[NM_FD_MAX] = {
	[NM_FD_PID] = {{"pids", "exclude_pids"}, K_U32},
	[NM_FD_UID] = {{"uids", "exclude_uids"}, K_U32},
	[NM_FD_CGROUP] = {{"cgroups", "exclude_cgroups"}, K_CGROUP},
	[NM_FD_COMMAND] = {{"commands", "exclude_commands"}, K_COMMAND},
	[NM_FD_PORT] = {{"ports", "exclude_ports"}, K_PORT},
	[NM_FD_CIDR] = {{"cidrs", "exclude_cidrs"}, K_CIDR},
	[NM_FD_REASON] = {{"drop_reasons", "exclude_drop_reasons"}, K_REASON},
};

const char *nm_filter_key_name(int dim, bool exclude)
{
	return dim >= 0 && dim < NM_FD_MAX ? dims[dim].key[exclude] : NULL;
}

/* The dimension and polarity of @key, or -1. */
static int find_key(const char *key, bool *exclude)
{
	for (int d = 0; d < NM_FD_MAX; d++)
		for (int x = 0; x < 2; x++)
			if (!strcmp(key, dims[d].key[x])) {
				*exclude = x;
				return d;
			}
	return -1;
}

struct nm_filter *nm_filter_new(void)
{
	return calloc(1, sizeof(struct nm_filter));
}

void nm_filter_free(struct nm_filter *f)
{
	if (!f)
		return;
	for (int d = 0; d < NM_FD_MAX; d++)
		for (int x = 0; x < 2; x++) {
			for (size_t i = 0; i < f->list[d][x].n; i++)
				free(f->list[d][x].v[i].text);
			free(f->list[d][x].v);
		}
	free(f);
}

bool nm_filter_empty(const struct nm_filter *f)
{
	for (int d = 0; f && d < NM_FD_MAX; d++)
		if (f->list[d][0].n || f->list[d][1].n)
			return false;
	return true;
}

struct nm_filter *nm_filter_dup(const struct nm_filter *f)
{
	struct nm_filter *c = nm_filter_new();

	if (!c || !f)
		return c;
	for (int d = 0; d < NM_FD_MAX; d++)
		for (int x = 0; x < 2; x++) {
			const struct nm_filter_list *l = &f->list[d][x];
			struct nm_filter_list *o = &c->list[d][x];

			if (!l->n)
				continue;
			o->v = calloc(l->n, sizeof(*o->v));
			if (!o->v)
				goto fail;
			for (size_t i = 0; i < l->n; i++, o->n++) {
				o->v[i] = l->v[i];
				o->v[i].text = NULL;
				if (l->v[i].text && !(o->v[i].text = strdup(l->v[i].text)))
					goto fail;
			}
		}
	return c;
fail:
	nm_filter_free(c);
	return NULL;
}

/* ---- values --------------------------------------------------------------------------------- */

/* The id of cgroup @path ("/a/b", relative to the cgroup2 root): its directory's inode number. */
static int cgroup_id_of(const char *path, uint64_t *id, char *err, size_t errlen)
{
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
			   RESOLVE_NO_XDEV,
	};
	const char *rel = path + strspn(path, "/");
	int root, fd, rc = 0;
	struct stat st;

	if (path[0] != '/') {
		snprintf(err, errlen,
			 "cgroup path \"%.200s\" must start with '/' (the cgroup2 root)", path);
		return -EINVAL;
	}
	root = nm_cgroup2_open_root(NULL);
	if (root < 0) {
		snprintf(err, errlen, "cgroup \"%.200s\": no cgroup2 hierarchy: %s", path,
			 strerror(-root));
		return root;
	}
	fd = *rel ? (int)syscall(SYS_openat2, root, rel, &how, sizeof(how)) : dup(root);
	if (fd < 0 || fstat(fd, &st)) {
		rc = -errno;
		snprintf(err, errlen, "cgroup \"%.200s\": %s", path, strerror(-rc));
	} else {
		*id = (uint64_t)st.st_ino;
	}
	if (fd >= 0)
		close(fd);
	close(root);
	return rc;
}

static int parse_cidr(const char *s, struct nm_filter_item *it, char *err, size_t errlen)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned max;
	long plen;

	if (strlen(s) >= sizeof(buf))
		goto bad;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, it->addr) == 1) {
		it->family = 4;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, it->addr) == 1) {
		it->family = 6;
		max = 128;
	} else {
		goto bad;
	}
	plen = max;
	if (slash) {
		errno = 0;
		plen = strtol(slash + 1, &end, 10);
		if (!slash[1] || *end || errno || plen < 0 || plen > (long)max || slash[1] == '+' ||
		    slash[1] == '-' || slash[1] == ' ')
			goto bad;
	}
	it->prefix = (uint8_t)plen;
	/* the host bits are cleared: 10.1.2.3/8 means 10.0.0.0/8 */
	for (unsigned b = (unsigned)plen; b < max; b++)
		it->addr[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
	return 0;
bad:
	snprintf(err, errlen,
		 "\"%.64s\" is not an IPv4 or IPv6 address or CIDR (10.0.0.0/8, fd00::/8)", s);
	return -EINVAL;
}

/*
 * Append one value to list @dim/@exclude: @str when the user wrote a string,
 * else @num. A bare message (no location) in @err.
 */
static int add_value(struct nm_filter *f, int dim, bool exclude, const char *str, long long num,
		     char *err, size_t errlen)
{
	struct nm_filter_list *l = &f->list[dim][exclude];
	const char *key = dims[dim].key[exclude];
	struct nm_filter_item it = {0}, *nv;
	enum kind kind = dims[dim].kind;
	int rc;

	if (l->n >= NM_FILTER_LIST_MAX) {
		snprintf(err, errlen, "'%s' has more than %d entries", key, NM_FILTER_LIST_MAX);
		return -E2BIG;
	}
	if (str && (kind == K_U32 || kind == K_PORT)) {
		snprintf(err, errlen, "'%s' takes numbers, not \"%.64s\"", key, str);
		return -EINVAL;
	}
	if (!str && (kind == K_COMMAND || kind == K_CIDR || kind == K_REASON)) {
		snprintf(err, errlen, "'%s' takes strings, not %lld", key, num);
		return -EINVAL;
	}
	switch (kind) {
	case K_U32:
		if (num < 0 || num > (dim == NM_FD_PID ? PID_MAX : 4294967294LL)) {
			snprintf(err, errlen, "'%s': %lld is out of range (0-%lld)", key, num,
				 dim == NM_FD_PID ? (long long)PID_MAX : 4294967294LL);
			return -ERANGE;
		}
		it.num = (uint64_t)num;
		break;
	case K_PORT:
		if (num < 1 || num > 65535) {
			snprintf(err, errlen, "'%s': port %lld is out of range (1-65535)", key,
				 num);
			return -ERANGE;
		}
		it.num = (uint64_t)num;
		break;
	case K_CGROUP:
		if (!str) {
			if (num < 1) {
				snprintf(err, errlen, "'%s': %lld is not a cgroup id", key, num);
				return -ERANGE;
			}
			it.num = (uint64_t)num;
			break;
		}
		rc = cgroup_id_of(str, &it.num, err, errlen);
		if (rc)
			return rc;
		break;
	case K_COMMAND:
		if (!*str || strlen(str) >= NM_COMM_LEN) {
			snprintf(
				err, errlen,
				"'%s': \"%.64s\" must be 1 to %d bytes, as the kernel keeps commands",
				key, str, NM_COMM_LEN - 1);
			return -EINVAL;
		}
		break;
	case K_CIDR:
		rc = parse_cidr(str, &it, err, errlen);
		if (rc)
			return rc;
		break;
	case K_REASON:
		if (!*str || strlen(str) > 128) {
			snprintf(err, errlen, "'%s': \"%.64s\" is not a drop reason name", key,
				 str);
			return -EINVAL;
		}
		break;
	}
	if (str && !(it.text = strdup(str)))
		return -ENOMEM;
	nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
	if (!nv) {
		free(it.text);
		return -ENOMEM;
	}
	l->v = nv;
	l->v[l->n++] = it;
	return 0;
}

/* The drop reason names of list @l to codes, through the program's own table. */
static int resolve_reasons(const struct nm_program_type *t, struct nm_filter_list *l, char *err,
			   size_t errlen)
{
	const char **names;
	uint32_t *codes;
	int rc;

	if (!l->n)
		return 0;
	names = calloc(l->n, sizeof(*names));
	codes = calloc(l->n, sizeof(*codes));
	rc = names && codes ? 0 : -ENOMEM;
	for (size_t i = 0; !rc && i < l->n; i++)
		names[i] = l->v[i].text;
	if (!rc)
		rc = t->resolve_reasons(names, l->n, codes, err, errlen);
	for (size_t i = 0; !rc && i < l->n; i++)
		l->v[i].num = codes[i];
	free(names);
	free(codes);
	return rc;
}

/* What a key of @t's filter must satisfy before its values are read. */
static int check_key(const struct nm_program_type *t, const char *key, int *dim, bool *exclude,
		     char *err, size_t errlen)
{
	*dim = find_key(key, exclude);
	if (*dim < 0) {
		snprintf(err, errlen,
			 "unknown filter key '%.64s' (known: pids, uids, cgroups, commands, ports, "
			 "cidrs, drop_reasons, each also as exclude_...)",
			 key);
		return -EINVAL;
	}
	if (*dim == NM_FD_REASON && !t->resolve_reasons) {
		snprintf(err, errlen, "'%s': program %s has no drop reasons (packet_drop has)", key,
			 t->name);
		return -EINVAL;
	}
	return 0;
}

/* ---- from the config ----------------------------------------------------------------------- */

struct nm_filter *nm_filter_from_setting(const struct nm_program_type *t, const config_setting_t *s,
					 char *err, size_t errlen)
{
	struct nm_filter *f = nm_filter_new();
	const config_setting_t *bad = s;
	int rc = 0;

	if (!f) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (!config_setting_is_group(s)) {
		snprintf(err, errlen, "'filter' must be a group: filter = { ports = [ 53 ]; };");
		rc = -EINVAL;
		goto out;
	}
	for (int i = 0; !rc && i < config_setting_length(s); i++) {
		const config_setting_t *k = config_setting_get_elem(s, i);
		const char *key = config_setting_name(k);
		bool exclude;
		int dim;

		bad = k;
		rc = check_key(t, key, &dim, &exclude, err, errlen);
		if (rc)
			break;
		if (!config_setting_is_array(k) && !config_setting_is_list(k)) {
			snprintf(err, errlen, "'%s' must be a list: %s = [ ... ];", key, key);
			rc = -EINVAL;
			break;
		}
		for (int j = 0; !rc && j < config_setting_length(k); j++) {
			const config_setting_t *e = config_setting_get_elem(k, j);
			int type = config_setting_type(e);

			bad = e;
			if (type == CONFIG_TYPE_STRING)
				rc = add_value(f, dim, exclude, config_setting_get_string(e), 0,
					       err, errlen);
			else if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64)
				rc = add_value(f, dim, exclude, NULL,
					       (long long)config_setting_get_int64(e), err, errlen);
			else {
				snprintf(err, errlen, "'%s' takes numbers or strings", key);
				rc = -EINVAL;
			}
		}
		if (!rc && dim == NM_FD_REASON) {
			bad = k;
			rc = resolve_reasons(t, &f->list[dim][exclude], err, errlen);
		}
	}
out:
	if (rc) {
		if (rc == -ENOMEM)
			snprintf(err, errlen, "out of memory");
		nm_setting_locate(bad, err, errlen);
		nm_filter_free(f);
		return NULL;
	}
	return f;
}

/* ---- from JSON ----------------------------------------------------------------------------- */

struct nm_filter *nm_filter_from_json(const struct nm_program_type *t, const char *text, size_t len,
				      char *err, size_t errlen)
{
	struct nm_filter *f = nm_filter_new();
	json_error_t jerr;
	json_t *root = NULL, *val;
	const char *key;
	int rc = 0;

	if (!f) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, errlen, "the body is not JSON: %s (at byte %d)", jerr.text,
			 jerr.position);
		rc = -EINVAL;
		goto out;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "the body must be a JSON object: {\"ports\": [53]}");
		rc = -EINVAL;
		goto out;
	}
	json_object_foreach(root, key, val)
	{
		bool exclude;
		size_t i;
		json_t *e;
		int dim;

		rc = check_key(t, key, &dim, &exclude, err, errlen);
		if (rc)
			break;
		if (!json_is_array(val)) {
			snprintf(err, errlen, "'%s' must be an array: {\"%s\": [...]}", key, key);
			rc = -EINVAL;
			break;
		}
		json_array_foreach(val, i, e)
		{
			if (json_is_string(e))
				rc = add_value(f, dim, exclude, json_string_value(e), 0, err,
					       errlen);
			else if (json_is_integer(e))
				rc = add_value(f, dim, exclude, NULL,
					       (long long)json_integer_value(e), err, errlen);
			else {
				snprintf(err, errlen, "'%s' takes integers or strings", key);
				rc = -EINVAL;
			}
			if (rc)
				break;
		}
		if (!rc && dim == NM_FD_REASON)
			rc = resolve_reasons(t, &f->list[dim][exclude], err, errlen);
		if (rc)
			break;
	}
out:
	json_decref(root);
	if (rc) {
		if (rc == -ENOMEM)
			snprintf(err, errlen, "out of memory");
		nm_filter_free(f);
		return NULL;
	}
	return f;
}

/* ---- back to fields ------------------------------------------------------------------------ */

void nm_filter_write(const struct nm_filter *f, struct nm_writer *w)
{
	for (int d = 0; f && d < NM_FD_MAX; d++)
		for (int x = 0; x < 2; x++) {
			const struct nm_filter_list *l = &f->list[d][x];

			if (!l->n)
				continue;
			nm_w_array(w, dims[d].key[x]);
			for (size_t i = 0; i < l->n; i++) {
				if (l->v[i].text)
					nm_w_cstr(w, NULL, l->v[i].text);
				else
					nm_w_u64(w, NULL, l->v[i].num);
			}
			nm_w_end_nested(w);
		}
}

/* ---- into the maps ------------------------------------------------------------------------- */

/* Delete every entry of generation @gen from both maps: keys are gathered first, then deleted. */
static int clear_gen(int set_fd, int cidr_fd, uint32_t gen)
{
	size_t cap = NM_FILTER_SET_MAX, n = 0;
	struct nm_filter_key *keys = calloc(cap, sizeof(*keys)), k, *prev = NULL;
	struct nm_filter_cidr_key *ckeys = calloc(NM_FILTER_CIDR_MAX, sizeof(*ckeys)), ck,
				  *cprev = NULL;
	int rc = 0;

	if (!keys || !ckeys) {
		rc = -ENOMEM;
		goto out;
	}
	while (n < cap && !bpf_map_get_next_key(set_fd, prev, &k)) {
		keys[n] = k;
		prev = &keys[n];
		n++;
	}
	for (size_t i = 0; i < n; i++)
		if (keys[i].gen_dim >> 8 == gen && bpf_map_delete_elem(set_fd, &keys[i]) &&
		    errno != ENOENT)
			rc = -errno;
	n = 0;
	while (n < NM_FILTER_CIDR_MAX && !bpf_map_get_next_key(cidr_fd, cprev, &ck)) {
		ckeys[n] = ck;
		cprev = &ckeys[n];
		n++;
	}
	for (size_t i = 0; i < n; i++)
		if (ckeys[i].gen == gen && bpf_map_delete_elem(cidr_fd, &ckeys[i]) &&
		    errno != ENOENT)
			rc = -errno;
out:
	free(keys);
	free(ckeys);
	return rc;
}

/* Add @bit to the entry @key of @fd: a value in both lists has both bits. */
static int set_bit(int fd, const void *key, uint8_t bit)
{
	uint8_t v = 0;

	if (bpf_map_lookup_elem(fd, key, &v) && errno != ENOENT)
		return -errno;
	v |= bit;
	return bpf_map_update_elem(fd, key, &v, BPF_ANY) ? -errno : 0;
}

int nm_filter_apply(const struct nm_filter *f, int set_fd, int cidr_fd, uint64_t *state, char *err,
		    size_t errlen)
{
	uint64_t old = __atomic_load_n(state, __ATOMIC_ACQUIRE);
	uint32_t gen = !(old >> 63);
	uint64_t st = (uint64_t)gen << 63;
	int rc;

	rc = clear_gen(set_fd, cidr_fd, gen);
	if (rc) {
		snprintf(err, errlen, "cannot clear the filter maps: %s", strerror(-rc));
		return rc;
	}
	for (int d = 0; f && d < NM_FD_MAX; d++)
		for (int x = 0; x < 2; x++) {
			const struct nm_filter_list *l = &f->list[d][x];
			uint8_t bit = x ? NM_FILTER_V_EXCLUDE : NM_FILTER_V_INCLUDE;

			for (size_t i = 0; i < l->n; i++) {
				const struct nm_filter_item *it = &l->v[i];

				if (d == NM_FD_CIDR) {
					struct nm_filter_cidr_key k = {
						.prefixlen = 16u + it->prefix,
						.gen = (uint8_t)gen,
						.family = it->family,
					};

					memcpy(k.addr, it->addr, sizeof(k.addr));
					rc = set_bit(cidr_fd, &k, bit);
				} else {
					struct nm_filter_key k = {.gen_dim =
									  gen << 8 | (uint32_t)d};

					/* every number as 8 bytes: one key shape for the BPF side */
					if (d == NM_FD_COMMAND)
						strncpy((char *)k.v, it->text, NM_COMM_LEN - 1);
					else
						memcpy(k.v, &it->num, sizeof(it->num));
					rc = set_bit(set_fd, &k, bit);
				}
				if (rc) {
					snprintf(err, errlen, "cannot fill the filter maps: %s",
						 strerror(-rc));
					return rc;
				}
			}
			if (l->n)
				st |= x ? NM_FILTER_EXCLUDE(d) : NM_FILTER_INCLUDE(d);
		}
	/* the switch: one store, seen by each event's single load of the state */
	__atomic_store_n(state, st, __ATOMIC_RELEASE);
	return 0;
}
