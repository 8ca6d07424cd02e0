/* program.c - generic program lifecycle: load, attach/detach every BPF program, counters, decode. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "log.h"
#include "cgroup.h"
#include "filter.h"
#include "program.h"
#include "../bpf/record.h"

const struct nm_program_type *nm_program_type_find(const char *name)
{
	for (const struct nm_program_type *const *t = nm_program_types; *t; t++)
		if (!strcmp((*t)->name, name))
			return *t;
	return NULL;
}

/* The offset of the u64 variable @name in data section @secname of @obj. */
static int find_u64(struct bpf_object *obj, const char *secname, const char *name, size_t *offset)
{
	const struct btf *btf = bpf_object__btf(obj);
	const struct btf_type *sec;
	const struct btf_var_secinfo *vs;
	int id;

	if (!btf)
		return -ENOENT;
	id = btf__find_by_name_kind(btf, secname, BTF_KIND_DATASEC);
	if (id < 0)
		return id;
	sec = btf__type_by_id(btf, id);
	vs = btf_var_secinfos(sec);
	for (int i = 0; i < btf_vlen(sec); i++, vs++) {
		const struct btf_type *var = btf__type_by_id(btf, vs->type);

		if (strcmp(btf__name_by_offset(btf, var->name_off), name))
			continue;
		if (vs->size != sizeof(uint64_t) || vs->offset % sizeof(uint64_t))
			return -EINVAL;
		*offset = vs->offset;
		return 0;
	}
	return -ENOENT;
}

static int set_rodata_u64(struct bpf_object *obj, const char *name, uint64_t v)
{
	/* Shared rodata from common.bpf.h lives in .rodata of every object. */
	struct bpf_map *map = bpf_object__find_map_by_name(obj, ".rodata");
	size_t off, size;
	void *data;
	int rc = find_u64(obj, ".rodata", name, &off);

	if (rc)
		return rc;
	data = map ? (void *)bpf_map__initial_value(map, &size) : NULL;
	if (!data || off + sizeof(v) > size)
		return -ENOENT;
	memcpy((char *)data + off, &v, sizeof(v));
	return 0;
}

/*
 * nm_filter_state in the loaded object's .bss, mapped shared with the kernel:
 * libbpf remaps its own copy only in a skeleton's load, which is not used here.
 */
static int map_filter_state(struct nm_program *p)
{
	struct bpf_map *map = bpf_object__find_map_by_name(p->obj, ".bss");
	long page = sysconf(_SC_PAGESIZE);
	size_t off, len;
	void *m;
	int rc = find_u64(p->obj, ".bss", "nm_filter_state", &off);

	if (rc)
		return rc;
	if (!map || off + sizeof(uint64_t) > bpf_map__value_size(map))
		return -ENOENT;
	len = ((size_t)bpf_map__value_size(map) + (size_t)page - 1) & ~((size_t)page - 1);
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(map), 0);
	if (m == MAP_FAILED)
		return -errno;
	p->state_map = m;
	p->state_map_len = len;
	p->filter_state = (uint64_t *)((char *)m + off);
	return 0;
}

struct nm_program *nm_program_load(const struct nm_program_type *type,
				   const struct nm_program_common_config *common,
				   const void *config, char *err, size_t errlen)
{
	struct nm_program *p = calloc(1, sizeof(*p));
	struct bpf_map *ring;
	int rc;

	if (!p) {
		snprintf(err, errlen, "%s: out of memory", type->name);
		return NULL;
	}
	p->type = type;
	pthread_mutex_init(&p->lock, NULL);
	rc = type->open(p, config, err, errlen);
	if (rc)
		goto fail;
	ring = bpf_object__find_map_by_name(p->obj, "events");
	if (!ring || bpf_map__set_max_entries(ring, (uint32_t)common->ring_size)) {
		snprintf(err, errlen, "%s: cannot size the ring buffer", type->name);
		goto fail;
	}
	rc = set_rodata_u64(p->obj, "nm_wakeup_bytes", (uint64_t)common->wakeup_bytes);
	if (rc) {
		snprintf(err, errlen, "%s: cannot set wakeup threshold: %s", type->name,
			 strerror(-rc));
		goto fail;
	}
	rc = bpf_object__load(p->obj);
	if (rc) {
		snprintf(
			err, errlen,
			"%s: the kernel refused the BPF program: %s (run with -v for the verifier log)",
			type->name, strerror(-rc));
		goto fail;
	}
	p->loaded = true;
	rc = map_filter_state(p);
	if (rc) {
		snprintf(err, errlen, "%s: the BPF object has no filter state: %s", type->name,
			 strerror(-rc));
		goto fail;
	}
	if (type->loaded && (rc = type->loaded(p, config, err, errlen)))
		goto fail;
	/* before attach: the first event already sees the configured filter */
	if (common->filter && (rc = nm_program_set_filter(p, common->filter, err, errlen)))
		goto fail;
	return p;
fail:
	nm_program_destroy(p);
	return NULL;
}

/* Programs libbpf cannot attach from their section name alone: they need a cgroup. */
static bool attaches_to_cgroup(const struct bpf_program *prog)
{
	switch (bpf_program__type(prog)) {
	case BPF_PROG_TYPE_CGROUP_SKB:
	case BPF_PROG_TYPE_CGROUP_SOCK:
	case BPF_PROG_TYPE_CGROUP_SOCK_ADDR:
	case BPF_PROG_TYPE_CGROUP_SOCKOPT:
	case BPF_PROG_TYPE_CGROUP_SYSCTL:
	case BPF_PROG_TYPE_CGROUP_DEVICE:
	case BPF_PROG_TYPE_SOCK_OPS:
		return true;
	default:
		return false;
	}
}

int nm_program_attach(struct nm_program *p)
{
	struct bpf_program *prog;
	size_t n = 0;
	int cgroup_fd = -1;
	int rc = 0;

	pthread_mutex_lock(&p->lock);
	if (p->attached)
		goto out;
	bpf_object__for_each_program(prog, p->obj) n++;
	p->links = calloc(n, sizeof(*p->links));
	if (!p->links) {
		rc = -ENOMEM;
		goto out;
	}
	bpf_object__for_each_program(prog, p->obj)
	{
		struct bpf_link *link;

		if (attaches_to_cgroup(prog)) {
			/* the link holds the cgroup; the fd is only needed while attaching */
			if (cgroup_fd < 0 &&
			    (cgroup_fd = nm_cgroup2_open_root(p->type->name)) < 0) {
				rc = cgroup_fd;
				break;
			}
			link = bpf_program__attach_cgroup(prog, cgroup_fd);
		} else {
			link = bpf_program__attach(prog);
		}
		if (!link) {
			rc = -errno;
			nm_err("%s: cannot attach %s: %s", p->type->name, bpf_program__name(prog),
			       strerror(-rc));
			break;
		}
		p->links[p->nlinks++] = link;
	}
	if (rc) {
		for (size_t i = 0; i < p->nlinks; i++)
			bpf_link__destroy(p->links[i]);
		free(p->links);
		p->links = NULL;
		p->nlinks = 0;
		goto out;
	}
	p->attached = true;
out:
	if (cgroup_fd >= 0)
		close(cgroup_fd);
	pthread_mutex_unlock(&p->lock);
	return rc;
}

void nm_program_detach(struct nm_program *p)
{
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < p->nlinks; i++)
		bpf_link__destroy(p->links[i]);
	free(p->links);
	p->links = NULL;
	p->nlinks = 0;
	p->attached = false;
	pthread_mutex_unlock(&p->lock);
}

void nm_program_destroy(struct nm_program *p)
{
	if (!p)
		return;
	nm_program_detach(p);
	if (p->type->close)
		p->type->close(p);
	nm_filter_free(p->filter);
	if (p->state_map)
		munmap(p->state_map, p->state_map_len);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

int nm_program_set_filter(struct nm_program *p, const struct nm_filter *f, char *err, size_t errlen)
{
	struct bpf_map *set = bpf_object__find_map_by_name(p->obj, "nm_filter_set");
	struct bpf_map *cidr = bpf_object__find_map_by_name(p->obj, "nm_filter_cidr");
	struct nm_filter *copy = NULL;
	char why[256];
	int rc;

	if (!p->loaded || !p->filter_state || !set || !cidr) {
		snprintf(err, errlen, "%s: not loaded", p->type->name);
		return -ENOENT;
	}
	if (!nm_filter_empty(f) && !(copy = nm_filter_dup(f))) {
		snprintf(err, errlen, "%s: out of memory", p->type->name);
		return -ENOMEM;
	}
	pthread_mutex_lock(&p->lock);
	rc = nm_filter_apply(copy, bpf_map__fd(set), bpf_map__fd(cidr), p->filter_state, why,
			     sizeof(why));
	if (rc) {
		snprintf(err, errlen, "%s: %s", p->type->name, why);
		nm_filter_free(copy);
	} else {
		nm_filter_free(p->filter);
		p->filter = copy;
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

void nm_program_write_filter(struct nm_program *p, struct nm_writer *w)
{
	pthread_mutex_lock(&p->lock);
	nm_filter_write(p->filter, w);
	pthread_mutex_unlock(&p->lock);
}

int nm_program_ring_fd(const struct nm_program *p)
{
	return bpf_map__fd(bpf_object__find_map_by_name(p->obj, "events"));
}

int nm_program_read_counters(const struct nm_program *p, struct nm_program_counters *out)
{
	int ncpu = libbpf_num_possible_cpus();
	struct bpf_map *map = bpf_object__find_map_by_name(p->obj, "counters");
	uint64_t *vals;
	uint64_t sums[NM_CNT_MAX] = {0};

	memset(out, 0, sizeof(*out));
	if (ncpu <= 0 || !map)
		return -ENOENT;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (uint32_t k = 0; k < NM_CNT_MAX; k++) {
		if (bpf_map_lookup_elem(bpf_map__fd(map), &k, vals))
			continue;
		for (int c = 0; c < ncpu; c++)
			sums[k] += vals[c];
	}
	free(vals);
	out->emitted = sums[NM_CNT_EMITTED];
	out->ring_full = sums[NM_CNT_RING_FULL];
	out->read_error = sums[NM_CNT_READ_ERROR];
	out->suppressed = sums[NM_CNT_SUPPRESSED];
	out->filtered = sums[NM_CNT_FILTERED];
	return 0;
}

int nm_program_decode(struct nm_program *p, const void *data, size_t size, struct nm_event *ev)
{
	struct nm_record_hdr hdr;

	if (size < sizeof(hdr))
		goto bad;
	memcpy(&hdr, data, sizeof(hdr));
	if (hdr.version != NM_RECORD_VERSION || hdr.type != p->type->record_type ||
	    hdr.len != p->type->record_size || size < hdr.len)
		goto bad;

	ev->type = p->type;
	ev->timestamp_ns = hdr.timestamp_ns;
	ev->has_task = hdr.flags & NM_REC_F_TASK;
	ev->pid = hdr.pid;
	ev->tid = hdr.tid;
	ev->uid = hdr.uid;
	ev->cgroup_id = hdr.cgroup_id;
	memcpy(ev->command, hdr.comm, sizeof(ev->command));
	if (p->type->decode(p, data, ev))
		goto bad;
	atomic_fetch_add_explicit(&p->decoded, 1, memory_order_relaxed);
	return 0;
bad:
	atomic_fetch_add_explicit(&p->decode_errors, 1, memory_order_relaxed);
	return -EBADMSG;
}
