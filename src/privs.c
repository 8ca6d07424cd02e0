/* privs.c - drops the agent's privileges to what loading, attaching and detaching need. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "fsutil.h"
#include "log.h"
#include "privs.h"

#define BIT(cap) (1ULL << (cap))

uint64_t nm_privs_kept(const struct nm_config *cfg)
{
	/*
	 * CAP_BPF and CAP_PERFMON load the tracing programs and open the
	 * perf events and raw tracepoints they attach through; CAP_NET_ADMIN
	 * loads the cgroup sock_addr programs; CAP_SYSLOG lets /proc/kallsyms
	 * show addresses (packet_drop's locations). The set is taken before
	 * any thread starts, so load-time needs stay for the run (see
	 * nm_privs_drop).
	 */
	uint64_t keep = BIT(CAP_BPF) | BIT(CAP_PERFMON) | BIT(CAP_NET_ADMIN) | BIT(CAP_SYSLOG);

	/* libbpf reads a classic tracepoint's id in tracefs, whose root is root's 0700 */
	if (cfg->has_user && cfg->uid) {
		for (size_t i = 0; i < cfg->nprograms; i++)
			if (cfg->programs[i].common.enabled && cfg->programs[i].type->needs_tracefs)
				keep |= BIT(CAP_DAC_READ_SEARCH);
	}
	return keep;
}

static int cap_last(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int last = -1;

	if (f) {
		if (fscanf(f, "%d", &last) != 1)
			last = -1;
		fclose(f);
	}
	if (last < 0 || last > 63)
		for (last = 0; last < 63 && prctl(PR_CAPBSET_READ, last + 1, 0, 0, 0) >= 0; last++)
			;
	return last;
}

static int threads_running(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	int n = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

static int capset_all(uint64_t permitted, uint64_t effective)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	for (int i = 0; i < 2; i++) {
		data[i].permitted = (uint32_t)(permitted >> (32 * i));
		data[i].effective = (uint32_t)(effective >> (32 * i));
	}
	return syscall(SYS_capset, &hdr, data) ? -errno : 0;
}

static int capget_all(uint64_t *permitted, uint64_t *effective, uint64_t *inheritable)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	*permitted = data[0].permitted | (uint64_t)data[1].permitted << 32;
	*effective = data[0].effective | (uint64_t)data[1].effective << 32;
	*inheritable = data[0].inheritable | (uint64_t)data[1].inheritable << 32;
	return 0;
}

static int dir_of(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return -ENOENT; /* the working directory: nothing to create */
	if (snprintf(dir, len, "%.*s", slash == path ? 1 : (int)(slash - path), path) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

/*
 * A directory a non-root user writes in: when missing, create it as root
 * (its parents root's) with @mode and give it to the user. One that exists was
 * checked to be the user's already (src/config.c).
 */
static int prepare_dir(const struct nm_config *cfg, const char *dir, mode_t mode, char *err,
		       size_t errlen)
{
	enum nm_fs_refusal why;
	char parent[4096];
	mode_t old_umask;
	struct stat st;
	int fd, rc = 0;

	if (!lstat(dir, &st))
		return 0;
	/* parents the user can pass through, whatever @mode and the umask keep from others */
	old_umask = umask(022);
	if (!dir_of(dir, parent, sizeof(parent)) && (rc = nm_mkdir_p(parent, 0755)))
		snprintf(err, errlen, "cannot create directory %s: %s", parent, strerror(-rc));
	umask(old_umask);
	if (rc)
		return rc;
	fd = nm_fs_open_dir(dir, true, mode, &why, err, errlen);
	if (fd < 0)
		return fd;
	if (fchown(fd, cfg->uid, cfg->gid)) {
		rc = -errno;
		snprintf(err, errlen, "cannot give directory %s to %s: %s", dir, cfg->user,
			 strerror(-rc));
	}
	close(fd);
	return rc;
}

static int prepare_dirs(const struct nm_config *cfg, char *err, size_t errlen)
{
	char dir[4096];
	int rc = 0;

	if (cfg->control.enabled && !dir_of(cfg->control.socket, dir, sizeof(dir)))
		rc = prepare_dir(cfg, dir, 0755, err, errlen);
	for (size_t i = 0; !rc && i < cfg->nsinks; i++) {
		const struct nm_sink_config *sc = &cfg->sinks[i];
		const char *path =
			sc->type == &nm_sink_file ? nm_sink_string_option(sc, "path") : NULL;
		const char *mode =
			sc->type == &nm_sink_file ? nm_sink_string_option(sc, "dir_mode") : NULL;

		if (path && !dir_of(path, dir, sizeof(dir)))
			rc = prepare_dir(cfg, dir, mode ? (mode_t)strtol(mode, NULL, 8) : 0750, err,
					 errlen);
		if (!rc && sc->queue.spool_dir && *sc->queue.spool_dir)
			rc = prepare_dir(cfg, sc->queue.spool_dir, 0700, err, errlen);
	}
	return rc;
}

static void cap_names(uint64_t caps, char *out, size_t len)
{
	static const struct {
		int cap;
		const char *name;
	} names[] = {
		{CAP_DAC_READ_SEARCH, "cap_dac_read_search"},
		{CAP_NET_ADMIN, "cap_net_admin"},
		{CAP_SYSLOG, "cap_syslog"},
		{CAP_PERFMON, "cap_perfmon"},
		{CAP_BPF, "cap_bpf"},
	};
	size_t n = 0;

	out[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((caps & BIT(names[i].cap)) && n < len)
			n += snprintf(out + n, len - n, "%s%s", n ? "," : "", names[i].name);
}

/* Whether the control socket's group must be added: chgrp to it needs membership or CAP_CHOWN. */
static bool needs_groups(const struct nm_config *cfg)
{
	gid_t now[256];
	int n;

	if (cfg->has_user || cfg->has_group)
		return true;
	if (!cfg->control.enabled || cfg->control.gid == getegid())
		return false;
	n = getgroups(sizeof(now) / sizeof(now[0]), now);
	for (int i = 0; i < n; i++)
		if (now[i] == cfg->control.gid)
			return false;
	return true;
}

int nm_privs_drop(const struct nm_config *cfg, char *err, size_t errlen)
{
	uint64_t want = nm_privs_kept(cfg), keep, prm, eff, inh;
	gid_t groups[2];
	size_t ngroups = 0;
	char names[128];
	bool setpcap;
	int last = cap_last(), threads = threads_running(), rc;

	/* capabilities and uids are per thread: one started earlier would keep root's */
	if (threads < 0) {
		snprintf(err, errlen,
			 "privileges: cannot read /proc/self/status (is /proc mounted?)");
		return -ENOENT;
	}
	if (threads != 1) {
		snprintf(err, errlen,
			 "privileges: %d threads run already; they are dropped before any",
			 threads);
		return -EBUSY;
	}
	rc = capget_all(&prm, &eff, &inh);
	if (rc) {
		snprintf(err, errlen, "privileges: capget: %s", strerror(-rc));
		return rc;
	}
	setpcap = eff & BIT(CAP_SETPCAP);
	/* started with fewer (a service manager's bounding set): the kernel says what fails */
	keep = want & prm;
	if (keep != want) {
		cap_names(want & ~keep, names, sizeof(names));
		nm_warn("privileges: started without %s; what needs it will fail", names);
	}
	if (cfg->has_user && cfg->uid) {
		rc = prepare_dirs(cfg, err, errlen);
		if (rc)
			return rc;
	}

	/*
	 * The bounding set first: dropping from it needs CAP_SETPCAP, which goes
	 * next. A service manager may have left it out; no_new_privs and the
	 * emptied permitted set still keep what is only in the bounding set
	 * from ever being gained.
	 */
	for (int cap = 0; cap <= last; cap++) {
		if ((cap < 64 && (keep & BIT(cap))) || prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 1)
			continue;
		if (!setpcap) {
			nm_warn("privileges: without CAP_SETPCAP the bounding set stays as the agent "
				"was started with; grant CAP_SETPCAP (a service's "
				"CapabilityBoundingSet) to have it dropped too");
			break;
		}
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)) {
			rc = -errno;
			snprintf(err, errlen,
				 "privileges: cannot drop capability %d from the bounding set: %s "
				 "(start the agent as root)",
				 cap, strerror(-rc));
			return rc;
		}
	}

	/* the agent's group, and the control socket's so it can be given without CAP_CHOWN */
	if (needs_groups(cfg)) {
		groups[ngroups++] = cfg->has_group ? cfg->gid : getegid();
		if (cfg->control.enabled && cfg->control.gid != groups[0])
			groups[ngroups++] = cfg->control.gid;
		if (setgroups(ngroups, groups) ||
		    (cfg->has_group && setresgid(cfg->gid, cfg->gid, cfg->gid))) {
			rc = -errno;
			snprintf(err, errlen,
				 "privileges: cannot set the groups: %s (start the agent "
				 "as root)",
				 strerror(-rc));
			return rc;
		}
	}
	if (cfg->has_user) {
		/* keep the permitted set across the uid change; it is cut down below */
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) || setresuid(cfg->uid, cfg->uid, cfg->uid) ||
		    prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0)) {
			rc = -errno;
			snprintf(err, errlen, "privileges: cannot become %s (uid %u): %s",
				 cfg->user, (unsigned)cfg->uid, strerror(-rc));
			return rc;
		}
	}
	/* inheritable empty, so ambient empties too; cleared anyway in case */
	rc = capset_all(keep, keep);
	if (!rc && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0))
		rc = -errno;
	if (!rc && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		rc = -errno;
	if (!rc)
		rc = capget_all(&prm, &eff, &inh);
	if (!rc && (prm != keep || eff != keep || inh))
		rc = -EPERM;
	if (rc) {
		snprintf(err, errlen, "privileges: cannot drop the capabilities: %s",
			 strerror(-rc));
		return rc;
	}
	cap_names(keep, names, sizeof(names));
	nm_info("privileges: uid %u gid %u, capabilities %s (bounding set %s), no_new_privs",
		(unsigned)getuid(), (unsigned)getgid(), names[0] ? names : "none",
		setpcap ? "the same" : "kept");
	return 0;
}
