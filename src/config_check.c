/* config_check.c - what a start would refuse, refused when the config is read: users, groups,
 * modes, paths and their owners, addresses. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <libconfig.h>

#include "config.h"
#include "config_check.h"
#include "fsutil.h"
#include "log.h"
#include "schema.h"

/* The member @key of @group if written, else @group, else @fallback: where a message goes. */
static const config_setting_t *where(const config_setting_t *group, const char *key,
				     const config_setting_t *fallback)
{
	const config_setting_t *s = group ? config_setting_get_member(group, key) : NULL;

	return s ? s : group ? group : fallback;
}

/* At most the first 48 bytes of @v, with anything not printable ASCII shown as '?'. */
static const char *shown(const char *v, char *buf, size_t len)
{
	size_t i = 0;

	for (; v[i] && i + 4 < len && i < 48; i++)
		buf[i] = v[i] >= 0x20 && v[i] < 0x7f ? v[i] : '?';
	strcpy(buf + i, v[i] ? "..." : "");
	return buf;
}

/* Dot-separated labels of 1 to 63 letters, digits, '-' or '_', not starting or ending in '-'. */
static bool valid_hostname(const char *h)
{
	size_t label = 0;

	for (const char *p = h;; p++) {
		if (*p == '.' || !*p) {
			if (!label || p[-1] == '-')
				return false;
			if (!*p)
				return true;
			label = 0;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || (*p == '-' && label)))
			return false;
		if (++label > 63)
			return false;
	}
}

/* "0660", "660", "0": octal digits only, at most 0777. */
static int parse_mode(const char *m, mode_t *mode)
{
	unsigned int v = 0;

	if (!*m)
		return -EINVAL;
	for (; *m; m++) {
		if (*m < '0' || *m > '7')
			return -EINVAL;
		v = v * 8 + (unsigned int)(*m - '0');
		if (v > 0777)
			return -ERANGE;
	}
	*mode = (mode_t)v;
	return 0;
}

typedef int nss_fn(const char *name, void *entry, char *buf, size_t size, void **found);

static int group_by_name(const char *name, void *entry, char *buf, size_t size, void **found)
{
	struct group *r = NULL;
	int rc = getgrnam_r(name, entry, buf, size, &r);

	*found = r;
	return rc;
}

static int user_by_name(const char *name, void *entry, char *buf, size_t size, void **found)
{
	struct passwd *r = NULL;
	int rc = getpwnam_r(name, entry, buf, size, &r);

	*found = r;
	return rc;
}

/*
 * A getXXnam_r look-up with a buffer grown until the entry fits (groups can be
 * large): its return value, or -ENOMEM. *@bufp holds the entry's strings; the
 * caller frees it.
 */
static int nss_lookup(nss_fn *fn, const char *name, void *entry, void **found, char **bufp)
{
	size_t size = 1024;
	int rc;

	for (;;) {
		char *grown = realloc(*bufp, size);

		if (!grown) {
			free(*bufp);
			*bufp = NULL;
			return -ENOMEM;
		}
		*bufp = grown;
		rc = fn(name, entry, *bufp, size, found);
		if (rc != ERANGE || size >= (1u << 22))
			return rc;
		size *= 2;
	}
}

/* A group by name (any size of group entry), or a numeric gid as the control server takes it. */
static int resolve_group(const char *name, gid_t *gid)
{
	struct group gr;
	void *found = NULL;
	char *buf = NULL, *end;
	unsigned long v;
	int rc = nss_lookup(group_by_name, name, &gr, &found, &buf);

	if (rc == -ENOMEM)
		return rc;
	if (!rc && found)
		*gid = gr.gr_gid;
	free(buf);
	if (!rc && found)
		return 0;
	if (rc && rc != ENOENT && rc != ESRCH && rc != EBADF && rc != EPERM)
		return -rc;
	errno = 0;
	v = strtoul(name, &end, 10);
	if (*name >= '0' && *name <= '9' && !*end && !errno && v < (gid_t)-1) {
		*gid = (gid_t)v;
		return 0;
	}
	return -ENOENT;
}

static int check_group(const config_setting_t *s, const char *key, const char *name, gid_t *gid,
		       char *err, size_t errlen)
{
	char buf[64];
	int rc = resolve_group(name, gid);

	if (rc == -ENOENT)
		ERR(s,
		    "'%s' = \"%s\": no such group; name an existing group (getent group) or a "
		    "numeric gid",
		    key, shown(name, buf, sizeof(buf)));
	if (rc == -ENOMEM)
		goto out;
	if (rc)
		ERR(s, "'%s' = \"%s\": cannot look the group up: %s", key,
		    shown(name, buf, sizeof(buf)), strerror(-rc));
out:
	return rc;
}

/*
 * A user by name, or a numeric uid; *@gid gets its primary group and
 * *@has_gid says whether there was a passwd entry to take it from.
 */
static int resolve_user(const char *name, uid_t *uid, gid_t *gid, bool *has_gid)
{
	struct passwd pw;
	void *found = NULL;
	char *buf = NULL, *end;
	unsigned long v;
	int rc = nss_lookup(user_by_name, name, &pw, &found, &buf);

	if (rc == -ENOMEM)
		return rc;
	if (!rc && !found) {
		errno = 0;
		v = strtoul(name, &end, 10);
		if (*name >= '0' && *name <= '9' && !*end && !errno && v < (uid_t)-1) {
			*uid = (uid_t)v;
			struct passwd *byuid = NULL;
			char ubuf[4096];

			/* a numeric uid may still have an entry, which names its group */
			rc = getpwuid_r(*uid, &pw, ubuf, sizeof(ubuf), &byuid);
			*has_gid = !rc && byuid;
			if (*has_gid)
				*gid = pw.pw_gid;
			free(buf);
			return 0;
		}
	}
	if (!rc && found) {
		*uid = pw.pw_uid;
		*gid = pw.pw_gid;
		*has_gid = true;
	}
	free(buf);
	if (!rc && found)
		return 0;
	if (rc && rc != ENOENT && rc != ESRCH && rc != EBADF && rc != EPERM)
		return -rc;
	return -ENOENT;
}

/* `user` and `group`: who the agent is once its programs are loaded (src/privs.c). */
static int validate_user(struct nm_config *c, const config_setting_t *root, char *err,
			 size_t errlen)
{
	const config_setting_t *s = where(root, "user", root);
	bool has_gid = false;
	char buf[64];
	int rc = 0;

	if (c->user) {
		if (!*c->user)
			ERR(s, "'user' is empty; leave it out to keep running as uid 0");
		rc = resolve_user(c->user, &c->uid, &c->gid, &has_gid);
		if (rc == -ENOENT)
			ERR(s,
			    "'user' = \"%s\": no such user; name an existing user (getent passwd) "
			    "or a numeric uid",
			    shown(c->user, buf, sizeof(buf)));
		if (rc == -ENOMEM)
			goto out;
		if (rc)
			ERR(s, "'user' = \"%s\": cannot look the user up: %s",
			    shown(c->user, buf, sizeof(buf)), strerror(-rc));
		c->has_user = true;
		c->has_group = has_gid;
		/* what the agent writes in may be this user's, as well as root's */
		nm_fs_set_agent_uid(c->uid);
	}
	if (c->group) {
		s = where(root, "group", root);
		if (!*c->group)
			ERR(s, "'group' is empty; leave it out for the user's primary group");
		rc = check_group(s, "group", c->group, &c->gid, err, errlen);
		if (rc)
			goto out;
		c->has_group = true;
	}
	if (c->has_user && !c->has_group)
		ERR(s,
		    "'user' = \"%s\" has no passwd entry to take a group from; add group = \"...\";",
		    shown(c->user, buf, sizeof(buf)));
out:
	return rc;
}

/*
 * Whether @path could be created: the nearest ancestor that exists is a
 * directory. 0, or -errno with the reason in @why.
 */
static int check_ancestors(const char *path, char *why, size_t whylen)
{
	char *copy = strdup(path), *slash;
	struct stat st;
	int rc = 0;

	if (!copy)
		return -ENOMEM;
	while ((slash = strrchr(copy, '/'))) {
		slash[slash == copy] = '\0';
		if (!stat(copy, &st)) {
			if (!S_ISDIR(st.st_mode)) {
				snprintf(why, whylen, "%s is not a directory", copy);
				rc = -ENOTDIR;
			}
			break;
		}
		if (errno != ENOENT && errno != ENOTDIR) {
			rc = -errno;
			snprintf(why, whylen, "%s: %s", copy, strerror(errno));
			break;
		}
		if (slash == copy)
			break;
	}
	free(copy);
	return rc;
}

enum path_kind { PATH_FILE, PATH_DIR, PATH_SOCKET };

/*
 * The directory a file or socket goes in, judged as a start judges it (sshd's
 * StrictModes: nobody but root or the agent can write it or an ancestor), so
 * --check-config refuses what a start would. A missing directory is fine.
 */
static int check_parent_trust(const config_setting_t *s, const char *key, const char *path,
			      char *err, size_t errlen)
{
	char dir[PATH_MAX], why[2 * PATH_MAX + 300];
	enum nm_fs_refusal refusal;
	const char *slash = strrchr(path, '/');
	int fd, rc = 0;

	if (strlen(path) >= sizeof(dir))
		ERR(s, "'%s' is longer than %d bytes", key, PATH_MAX - 1);
	if (!slash)
		strcpy(dir, ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	rc = nm_fs_check_ancestors(dir, why, sizeof(why));
	if (!rc) {
		fd = nm_fs_open_dir(dir, false, 0, &refusal, why, sizeof(why));
		if (fd >= 0)
			close(fd);
		else if (fd != -ENOENT)
			rc = fd;
	}
	if (rc)
		ERR(s, "'%s': %s", key, why);
out:
	return rc;
}

/* A path the agent will create or open: what is there now must be of @kind or creatable. */
static int check_path(const config_setting_t *s, const char *key, const char *path,
		      enum path_kind kind, char *err, size_t errlen)
{
	static const char *const expected[] = {"a regular file", "a directory", "a socket"};
	char why[300], buf[64];
	struct stat st;
	bool ok;
	int rc = 0;

	if (!lstat(path, &st)) {
		ok = kind == PATH_FILE	? !S_ISDIR(st.st_mode)
		     : kind == PATH_DIR ? S_ISDIR(st.st_mode)
					: S_ISSOCK(st.st_mode);
		if (S_ISLNK(st.st_mode))
			ERR(s,
			    "'%s' = \"%s\" is a symbolic link, which the agent does not follow; "
			    "name the real path",
			    key, shown(path, buf, sizeof(buf)));
		if (!ok && kind == PATH_FILE)
			ERR(s, "'%s' = \"%s\" is a directory; name the file to write in it", key,
			    shown(path, buf, sizeof(buf)));
		if (!ok)
			ERR(s, "'%s' = \"%s\" exists and is not %s", key,
			    shown(path, buf, sizeof(buf)), expected[kind]);
		return kind == PATH_DIR ? 0 : check_parent_trust(s, key, path, err, errlen);
	}
	rc = check_ancestors(path, why, sizeof(why));
	if (rc == -ENOMEM)
		goto out;
	if (rc)
		ERR(s, "'%s' = \"%s\" cannot be created: %s", key, shown(path, buf, sizeof(buf)),
		    why);
	if (kind != PATH_DIR)
		rc = check_parent_trust(s, key, path, err, errlen);
out:
	return rc;
}

static int validate_control(struct nm_control_config *cc, const config_setting_t *root, char *err,
			    size_t errlen)
{
	const config_setting_t *group = config_setting_get_member(root, "control");
	const config_setting_t *s;
	char buf[64];
	int rc = 0;

	s = where(group, "mode", root);
	rc = parse_mode(cc->mode, &cc->socket_mode);
	if (rc)
		ERR(s,
		    "'mode' = \"%s\" is not an octal mode from \"0\" to \"0777\", such as \"0660\"",
		    shown(cc->mode, buf, sizeof(buf)));
	rc = check_group(where(group, "group", root), "group", cc->group, &cc->gid, err, errlen);
	if (rc)
		goto out;
	if (cc->admin_group && *cc->admin_group) {
		rc = check_group(where(group, "admin_group", root), "admin_group", cc->admin_group,
				 &cc->admin_gid, err, errlen);
		if (rc)
			goto out;
		cc->has_admin_group = true;
	}
	if (!cc->enabled)
		goto out;
	s = where(group, "socket", root);
	if (!*cc->socket || strlen(cc->socket) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		ERR(s, "'socket' must be a path of 1 to %zu bytes",
		    sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	rc = check_path(s, "socket", cc->socket, PATH_SOCKET, err, errlen);
out:
	return rc;
}

/* "A.B.C.D:PORT" or "[IPV6]:PORT", literal (a name would be looked up at every start). */
static int validate_metrics(struct nm_metrics_config *mc, bool control,
			    const config_setting_t *root, char *err, size_t errlen)
{
	const config_setting_t *s =
		where(config_setting_get_member(root, "metrics"), "listen", root);
	struct sockaddr_in *in4 = (struct sockaddr_in *)&mc->addr;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&mc->addr;
	char host[64], buf[80];
	const char *colon;
	char *end;
	long port;
	size_t hlen;
	int rc = 0;

	if (!mc->listen)
		return 0;
	if (!control)
		ERR(s, "'listen': the metrics are served by the control server: enable 'control'");
	colon = strrchr(mc->listen, ':');
	if (!colon)
		goto bad;
	hlen = (size_t)(colon - mc->listen);
	if (hlen >= sizeof(host))
		goto bad;
	memcpy(host, mc->listen, hlen);
	host[hlen] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end || errno || port < 1 || port > 65535)
		goto bad;
	memset(&mc->addr, 0, sizeof(mc->addr));
	if (hlen > 2 && host[0] == '[' && host[hlen - 1] == ']') {
		host[hlen - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) != 1)
			goto bad;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		mc->addrlen = sizeof(*in6);
	} else {
		if (inet_pton(AF_INET, host, &in4->sin_addr) != 1)
			goto bad;
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		mc->addrlen = sizeof(*in4);
	}
	return 0;
bad:
	ERR(s,
	    "'listen' = \"%s\" is not ADDRESS:PORT with a literal address, such as "
	    "\"127.0.0.1:9464\" or \"[::1]:9464\"",
	    shown(mc->listen, buf, sizeof(buf)));
out:
	return rc;
}

/* The file sink's output, and every sink's spool directory. */
static int validate_sink_paths(const struct nm_sink_config *sc, const config_setting_t *s,
			       char *err, size_t errlen)
{
	const config_setting_t *queue = config_setting_get_member(s, "queue");
	int rc = 0;

	if (sc->type == &nm_sink_file) {
		for (const struct nm_option *o = sc->type->options; o && o->name; o++) {
			const char *path;

			if (strcmp(o->name, "path") || o->type != NM_OPT_STRING)
				continue;
			path = *(char *const *)((const char *)sc->options + o->offset);
			if (path && (rc = check_path(where(s, "path", s), "path", path, PATH_FILE,
						     err, errlen)))
				return rc;
		}
	}
	if (sc->queue.spool_dir && *sc->queue.spool_dir)
		rc = check_path(where(queue, "spool_dir", s), "spool_dir", sc->queue.spool_dir,
				PATH_DIR, err, errlen);
	return rc;
}

const char *nm_sink_string_option(const struct nm_sink_config *sc, const char *key)
{
	for (const struct nm_option *o = sc->type ? sc->type->options : NULL; o && o->name; o++)
		if (o->type == NM_OPT_STRING && !strcmp(o->name, key))
			return *(char *const *)((const char *)sc->options + o->offset);
	return NULL;
}

/* The name of group @gid, or the number. */
static void group_name(gid_t gid, char *name, size_t len)
{
	struct group gr, *found = NULL;
	char buf[4096];

	if (!getgrgid_r(gid, &gr, buf, sizeof(buf), &found) && found)
		snprintf(name, len, "%s", gr.gr_name);
	else
		snprintf(name, len, "%u", (unsigned)gid);
}

/*
 * What a non-root `user` writes in after the drop (it keeps no capability to
 * write elsewhere): a directory or file that exists must be its own, or the
 * agent creates it owned by the user at start (src/privs.c).
 */
static int check_agent_owns(const struct nm_config *c, const config_setting_t *s, const char *key,
			    const char *path, bool is_dir, char *err, size_t errlen)
{
	char buf[64], grp[64];
	struct stat st;
	int rc = 0;

	if (lstat(path, &st) || st.st_uid == c->uid)
		return 0;
	group_name(c->gid, grp, sizeof(grp));
	if (is_dir)
		ERR(s,
		    "'%s': directory %s is owned by uid %u, but the agent runs as %s once loaded "
		    "and creates files in it: chown %s:%s %s, or name a directory the agent "
		    "creates",
		    key, shown(path, buf, sizeof(buf)), (unsigned)st.st_uid, c->user, c->user, grp,
		    path);
	ERR(s,
	    "'%s' = \"%s\" is owned by uid %u, but the agent runs as %s once loaded and reopens "
	    "only its own files: chown %s:%s %s",
	    key, shown(path, buf, sizeof(buf)), (unsigned)st.st_uid, c->user, c->user, grp, path);
out:
	return rc;
}

static int parent_dir(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return snprintf(dir, len, ".") >= (int)len ? -ENAMETOOLONG : 0;
	return snprintf(dir, len, "%.*s", slash == path ? 1 : (int)(slash - path), path) >= (int)len
		       ? -ENAMETOOLONG
		       : 0;
}

/* A non-root `user`: its directories and files, and the control socket's group. */
static int validate_agent_paths(struct nm_config *c, const config_setting_t *root, char *err,
				size_t errlen)
{
	const config_setting_t *list = config_setting_get_member(root, "sinks");
	const config_setting_t *control = config_setting_get_member(root, "control");
	const config_setting_t *gs = control ? config_setting_get_member(control, "group") : NULL;
	char dir[PATH_MAX], grp[64], buf[64];
	int rc = 0;

	if (!c->has_user || !c->uid)
		return 0;
	group_name(c->gid, grp, sizeof(grp));
	/* the socket's group is the agent's own: chgrp to another would need CAP_CHOWN */
	if (!gs) {
		char *name = strdup(grp);

		if (!name)
			return -ENOMEM;
		free(c->control.group);
		c->control.group = name;
		c->control.gid = c->gid;
	} else if (c->control.gid != c->gid) {
		ERR(gs,
		    "'group' = \"%s\": the agent runs as %s:%s once loaded and gives its socket "
		    "its own group; name \"%s\" (its members may query), or leave 'group' out",
		    shown(c->control.group, buf, sizeof(buf)), c->user, grp, grp);
	}
	if (c->control.enabled && !parent_dir(c->control.socket, dir, sizeof(dir))) {
		rc = check_agent_owns(c, where(control, "socket", root), "socket", dir, true, err,
				      errlen);
		if (rc)
			goto out;
	}
	for (size_t i = 0; list && i < c->nsinks; i++) {
		const struct nm_sink_config *sc = &c->sinks[i];
		const config_setting_t *s = config_setting_get_elem(list, (unsigned)i);
		const config_setting_t *queue = config_setting_get_member(s, "queue");
		const char *path =
			sc->type == &nm_sink_file ? nm_sink_string_option(sc, "path") : NULL;

		if (path && !parent_dir(path, dir, sizeof(dir))) {
			rc = check_agent_owns(c, where(s, "path", s), "path", dir, true, err,
					      errlen);
			if (!rc)
				rc = check_agent_owns(c, where(s, "path", s), "path", path, false,
						      err, errlen);
			if (rc)
				goto out;
		}
		if (sc->queue.spool_dir && *sc->queue.spool_dir) {
			rc = check_agent_owns(c, where(queue, "spool_dir", s), "spool_dir",
					      sc->queue.spool_dir, true, err, errlen);
			if (rc)
				goto out;
		}
	}
out:
	return rc;
}

int nm_config_validate(struct nm_config *c, const config_setting_t *root, char *err, size_t errlen)
{
	const config_setting_t *list = config_setting_get_member(root, "sinks");
	const config_setting_t *s = where(root, "host", root);
	char buf[64];
	int rc = 0;

	if (c->host && strlen(c->host) > 255)
		ERR(s, "'host' is %zu bytes; a host name has at most 255", strlen(c->host));
	if (c->host && !valid_hostname(c->host))
		ERR(s,
		    "'host' = \"%s\" is not a host name: dot-separated labels of 1 to 63 "
		    "letters, digits, '-' or '_'",
		    shown(c->host, buf, sizeof(buf)));
	rc = validate_user(c, root, err, errlen);
	if (rc)
		goto out;
	rc = validate_control(&c->control, root, err, errlen);
	if (!rc)
		rc = validate_metrics(&c->metrics, c->control.enabled, root, err, errlen);
	if (rc)
		goto out;
	for (size_t i = 0; list && i < c->nsinks; i++) {
		rc = validate_sink_paths(&c->sinks[i], config_setting_get_elem(list, (unsigned)i),
					 err, errlen);
		if (rc)
			goto out;
	}
	rc = validate_agent_paths(c, root, err, errlen);
	if (rc)
		goto out;
	if (list && !c->nsinks) {
		int n = nm_setting_where(list, c->warning, sizeof(c->warning));

		if (n >= 0 && (size_t)n < sizeof(c->warning))
			snprintf(c->warning + n, sizeof(c->warning) - n,
				 "warning: 'sinks' is empty: events reach %s; add a sink, or leave "
				 "'sinks' out for JSON lines on stdout",
				 c->control.enabled ? "only the control API's in-memory store"
						    : "no one");
	}
out:
	return rc;
}
