/* program.c - generic program lifecycle: load, attach/detach every BPF program, counters, decode. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "log.h"
#include "cgroup.h"
#include "program.h"
#include "../bpf/record.h"

const struct nm_program_type *nm_program_type_find(const char *name)
{
	for (const struct nm_program_type *const *t = nm_program_types; *t; t++)
		if (!strcmp((*t)->name, name))
			return *t;
	return NULL;
}

static int set_rodata_u64(struct bpf_object *obj, const char *name, uint64_t v)
{
	struct bpf_map *map;
	const struct btf *btf = bpf_object__btf(obj);
	const struct btf_type *sec;
	const struct btf_var_secinfo *vs;
	void *data;
	size_t size;
	int id;

	/* Shared rodata from common.bpf.h lives in .rodata of every object. */
	map = bpf_object__find_map_by_name(obj, ".rodata");
	if (!map || !btf)
		return -ENOENT;
	id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	if (id < 0)
		return id;
	sec = btf__type_by_id(btf, id);
	data = (void *)bpf_map__initial_value(map, &size);
	if (!data)
		return -ENOENT;
	vs = btf_var_secinfos(sec);
	for (int i = 0; i < btf_vlen(sec); i++, vs++) {
		const struct btf_type *var = btf__type_by_id(btf, vs->type);

		if (strcmp(btf__name_by_offset(btf, var->name_off), name))
			continue;
		if (vs->size != sizeof(v) || vs->offset + sizeof(v) > size)
			return -EINVAL;
		memcpy((char *)data + vs->offset, &v, sizeof(v));
		return 0;
	}
	return -ENOENT;
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
	if (type->loaded && (rc = type->loaded(p, config, err, errlen)))
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
	pthread_mutex_destroy(&p->lock);
	free(p);
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
