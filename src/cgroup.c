/* cgroup.c - the cgroup v2 root, and cgroup ids resolved to paths, containers and systemd units. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "cgroup.h"
#include "log.h"

/* Decode mountinfo's octal escapes (\040 for a space) in place. */
static void unescape_mount_path(char *s)
{
	char *out = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 4;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
}

/*
 * The mount point of the whole cgroup v2 hierarchy (a cgroup2 mount of its
 * root "/") from a mountinfo line, or NULL. Fields: id parent dev root
 * mountpoint options [optional...] - fstype source superoptions.
 */
static char *cgroup2_mount_point(char *line)
{
	char *field[5], *tok, *save = NULL;
	int n = 0;
	bool sep = false;

	for (tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
		if (n < 5) {
			field[n++] = tok;
		} else if (sep) {
			break;
		} else if (!strcmp(tok, "-")) {
			sep = true;
		}
	}
	if (n < 5 || !tok || strcmp(tok, "cgroup2") || strcmp(field[3], "/"))
		return NULL;
	unescape_mount_path(field[4]);
	return field[4];
}

int nm_cgroup2_open_root(const char *who)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *path;
	size_t cap = 0;
	struct statfs st;
	int fd = -ENOENT;

	if (!f) {
		fd = -errno;
		if (who)
			nm_err("%s: cannot read /proc/self/mountinfo: %s", who, strerror(-fd));
		return fd;
	}
	while (getline(&line, &cap, f) > 0) {
		path = cgroup2_mount_point(line);
		if (!path)
			continue;
		fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			fd = -errno;
			if (who)
				nm_err("%s: cannot open the cgroup2 root %s: %s", who, path,
				       strerror(-fd));
		} else if (fstatfs(fd, &st) || st.f_type != CGROUP2_SUPER_MAGIC) {
			if (who)
				nm_err("%s: %s is not a cgroup2 file system", who, path);
			close(fd);
			fd = -ENOTDIR;
		}
		break;
	}
	if (fd == -ENOENT && who)
		nm_err("%s: no cgroup2 file system is mounted (see /proc/self/mountinfo): mount "
		       "one, or set programs.%s.enabled = false",
		       who, who);
	free(line);
	fclose(f);
	return fd;
}

/* ---- ids to paths ------------------------------------------------------------------------- */

/*
 * A direct-mapped cache of id -> path: an id has one slot, a newer id in it
 * replaces it, so its size is the bound. A miss asks /proc/PID/cgroup (the
 * task may be gone: most are short-lived), then walks the hierarchy, at most
 * every WALK_EVERY_MS, filling the cache with every cgroup it passes, so that
 * the next new id is likely there already. What could not be resolved is
 * remembered as such for NEGATIVE_MS.
 */
#define CACHE_SLOTS   16384
#define NEGATIVE_MS   1000
#define WALK_EVERY_MS 250
#define WALK_MAX_DIRS 100000
#define WALK_DEPTH    32
#define PATH_MAX_LEN  1024 /* longer paths are not resolved (reported null) */
#define ID_LEN	      64

struct cg_entry {
	uint64_t id;	  /* 0: empty slot */
	int64_t retry_ms; /* unresolved: look again after this */
	char *path;	  /* "/system.slice/x.service", or NULL while unresolved */
	/* what the path shows, parsed once when it is cached: offsets into path, -1 for none */
	const char *runtime;
	int16_t container_at, unit_at;
	uint16_t unit_len;
};

struct nm_cgroups {
	pthread_mutex_t lock;
	int root_fd;
	int64_t last_walk_ms;
	struct cg_entry slot[CACHE_SLOTS];
};

static struct nm_cgroups *cgroups; /* set and cleared by the main thread alone */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool is_hex64(const char *s, size_t len)
{
	if (len != ID_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* A component that names a container: PREFIX<64 hex>.scope, or the 64 hex digits alone. */
static const char *container_of(const char *comp, size_t len, const char **id)
{
	static const struct {
		const char *prefix, *runtime;
	} scopes[] = {
		{"docker-", "docker"}, {"cri-containerd-", "containerd"},
		{"crio-", "cri-o"},    {"libpod-", "podman"},
		{NULL, NULL},
	};

	if (is_hex64(comp, len)) {
		*id = comp;
		return "";
	}
	if (len < 6 || memcmp(comp + len - 6, ".scope", 6))
		return NULL;
	for (size_t i = 0; scopes[i].prefix; i++) {
		size_t pl = strlen(scopes[i].prefix);

		if (len == pl + ID_LEN + 6 && !memcmp(comp, scopes[i].prefix, pl) &&
		    is_hex64(comp + pl, ID_LEN)) {
			*id = comp + pl;
			return scopes[i].runtime;
		}
	}
	return NULL;
}

void nm_cgroup_parse(const char *path, char *container_id, size_t idlen, const char **runtime,
		     char *unit, size_t unitlen)
{
	const char *bare_runtime = NULL;

	if (idlen)
		container_id[0] = '\0';
	if (unitlen)
		unit[0] = '\0';
	*runtime = "";
	for (const char *p = path; *p;) {
		const char *end = strchr(p, '/'), *id = NULL, *rt;
		size_t len;

		if (!end)
			end = p + strlen(p);
		len = (size_t)(end - p);
		rt = len ? container_of(p, len, &id) : NULL;
		if (rt && idlen > ID_LEN) {
			memcpy(container_id, id, ID_LEN);
			container_id[ID_LEN] = '\0';
			/* the bare form: Docker's cgroupfs driver (/docker/ID) or Kubernetes' */
			if (!*rt)
				rt = bare_runtime ? bare_runtime : "kubernetes";
			*runtime = rt;
		}
		if (len == 6 && !memcmp(p, "docker", 6))
			bare_runtime = "docker";
		if (len > 8 && !memcmp(end - 8, ".service", 8) && len < unitlen) {
			memcpy(unit, p, len);
			unit[len] = '\0';
		}
		p = *end ? end + 1 : end;
	}
}

static struct cg_entry *slot_of(struct nm_cgroups *cg, uint64_t id)
{
	return &cg->slot[(id * 0x9E3779B97F4A7C15ULL) >> (64 - 14)];
}

static void remember(struct nm_cgroups *cg, uint64_t id, const char *path)
{
	struct cg_entry *e = slot_of(cg, id);
	char container[ID_LEN + 1], unit[256], *copy;
	const char *at;

	if (e->id == id && e->path && !strcmp(e->path, path))
		return;
	copy = strdup(path);
	if (!copy)
		return;
	free(e->path);
	*e = (struct cg_entry){.id = id, .path = copy, .container_at = -1, .unit_at = -1};
	nm_cgroup_parse(copy, container, sizeof(container), &e->runtime, unit, sizeof(unit));
	/* the parsed parts are the path's own bytes: keep where they stand (the same text if twice) */
	if (*container && (at = strstr(copy, container)) && at - copy <= INT16_MAX)
		e->container_at = (int16_t)(at - copy);
	if (*unit && (at = strstr(copy, unit)) && at - copy <= INT16_MAX) {
		e->unit_at = (int16_t)(at - copy);
		e->unit_len = (uint16_t)strlen(unit);
	}
	if (!*e->runtime)
		e->runtime = NULL;
}

/* /proc/PID/cgroup's v2 line, checked against @id (the task may have moved or gone). */
static bool path_from_proc(struct nm_cgroups *cg, uint64_t id, pid_t pid)
{
	char file[64], line[PATH_MAX_LEN + 8];
	struct stat st;
	bool ok = false;
	FILE *f;

	if (pid <= 0)
		return false;
	snprintf(file, sizeof(file), "/proc/%d/cgroup", (int)pid);
	f = fopen(file, "re");
	if (!f)
		return false;
	while (!ok && fgets(line, sizeof(line), f)) {
		char *path = line + 3;

		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "0::/", 4))
			continue;
		ok = !fstatat(cg->root_fd, path[1] ? path + 1 : ".", &st, AT_SYMLINK_NOFOLLOW) &&
		     S_ISDIR(st.st_mode) && (uint64_t)st.st_ino == id;
		if (ok)
			remember(cg, id, path);
	}
	fclose(f);
	return ok;
}

/* Depth-first under @dirfd (owned, closed here): every cgroup into the cache. */
static void walk(struct nm_cgroups *cg, int dirfd, char *path, size_t at, int depth, size_t *budget)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *e;

	if (!d) {
		close(dirfd);
		return;
	}
	while ((e = readdir(d)) && *budget) {
		size_t n = strlen(e->d_name);
		struct stat st;
		int fd;

		if (e->d_type != DT_DIR || e->d_name[0] == '.' || at + 1 + n >= PATH_MAX_LEN)
			continue;
		(*budget)--;
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISDIR(st.st_mode))
			continue;
		path[at] = '/';
		memcpy(path + at + 1, e->d_name, n + 1);
		remember(cg, (uint64_t)st.st_ino, path);
		if (depth >= WALK_DEPTH)
			continue;
		fd = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0)
			walk(cg, fd, path, at + 1 + n, depth + 1, budget);
	}
	closedir(d);
}

static void walk_all(struct nm_cgroups *cg)
{
	size_t budget = WALK_MAX_DIRS;
	int64_t now = mono_ms();
	char path[PATH_MAX_LEN];
	struct stat st;
	int fd;

	if (now - cg->last_walk_ms < WALK_EVERY_MS)
		return;
	cg->last_walk_ms = now;
	if (!fstat(cg->root_fd, &st))
		remember(cg, (uint64_t)st.st_ino, "/");
	fd = openat(cg->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		walk(cg, fd, path, 0, 0, &budget);
}

/* The slot for @id, filled in if it can be (under cg->lock); its path may still be NULL. */
static const struct cg_entry *lookup(struct nm_cgroups *cg, uint64_t id, pid_t pid)
{
	struct cg_entry *e = slot_of(cg, id);

	if (e->id == id && (e->path || mono_ms() < e->retry_ms))
		return e;
	if (path_from_proc(cg, id, pid))
		return e;
	walk_all(cg);
	if (e->id == id && e->path)
		return e;
	free(e->path);
	*e = (struct cg_entry){.id = id, .retry_ms = mono_ms() + NEGATIVE_MS};
	return e;
}

static void write_or_null(struct nm_writer *w, const char *key, const char *v)
{
	if (v && *v)
		nm_w_cstr(w, key, v);
	else
		nm_w_null(w, key);
}

void nm_cgroup_write_none(struct nm_writer *w)
{
	static const char json[] =
		"\"cgroup\":null,\"container_id\":null,\"container_runtime\":null,\"systemd_unit\":null";
	static const char mp[] = "\xa6"
				 "cgroup"
				 "\xc0"
				 "\xac"
				 "container_id"
				 "\xc0"
				 "\xb1"
				 "container_runtime"
				 "\xc0"
				 "\xac"
				 "systemd_unit"
				 "\xc0";
	uint8_t *p = nm_json_reserve(w, sizeof(json));

	/* most events: one copy of the four nulls, as the writer would have put them */
	if (p) {
		if (w->count[0])
			*p++ = ',';
		memcpy(p, json, sizeof(json) - 1);
		nm_json_commit(w, p + sizeof(json) - 1, 4);
		return;
	}
	p = nm_mp_reserve(w, sizeof(mp));
	if (p) {
		memcpy(p, mp, sizeof(mp) - 1);
		nm_mp_commit(w, p + sizeof(mp) - 1, 4);
		return;
	}
	nm_w_null(w, "cgroup");
	nm_w_null(w, "container_id");
	nm_w_null(w, "container_runtime");
	nm_w_null(w, "systemd_unit");
}

void nm_cgroup_write(uint64_t id, pid_t pid, struct nm_writer *w)
{
	struct nm_cgroups *cg = cgroups;
	const struct cg_entry *e;

	if (!cg || !id) {
		nm_cgroup_write_none(w);
		return;
	}
	pthread_mutex_lock(&cg->lock);
	e = lookup(cg, id, pid);
	/* the writer copies the bytes: nothing of the cache leaves the lock */
	if (!e->path) {
		pthread_mutex_unlock(&cg->lock);
		nm_cgroup_write_none(w);
		return;
	}
	nm_w_cstr(w, "cgroup", e->path);
	if (e->container_at >= 0)
		nm_w_str(w, "container_id", e->path + e->container_at, ID_LEN);
	else
		nm_w_null(w, "container_id");
	write_or_null(w, "container_runtime", e->runtime);
	if (e->unit_at >= 0)
		nm_w_str(w, "systemd_unit", e->path + e->unit_at, e->unit_len);
	else
		nm_w_null(w, "systemd_unit");
	pthread_mutex_unlock(&cg->lock);
}

int nm_cgroups_start(void)
{
	struct nm_cgroups *cg = calloc(1, sizeof(*cg));
	int fd;

	if (!cg)
		return -ENOMEM;
	fd = nm_cgroup2_open_root(NULL); /* the caller says what it means to go without */
	if (fd < 0) {
		free(cg);
		return fd;
	}
	pthread_mutex_init(&cg->lock, NULL);
	cg->root_fd = fd;
	cg->last_walk_ms = -WALK_EVERY_MS;
	cgroups = cg;
	return 0;
}

void nm_cgroups_stop(void)
{
	struct nm_cgroups *cg = cgroups;

	if (!cg)
		return;
	cgroups = NULL;
	for (size_t i = 0; i < CACHE_SLOTS; i++)
		free(cg->slot[i].path);
	close(cg->root_fd);
	pthread_mutex_destroy(&cg->lock);
	free(cg);
}
