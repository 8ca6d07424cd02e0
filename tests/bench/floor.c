/* floor.c - loads tests/bench/floor.bpf.o, attaches it until SIGTERM/SIGINT, prints its counts. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	struct bpf_map *map;
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals;
	int rc = 1;

	if (argc != 2 || ncpu <= 0) {
		fprintf(stderr, "usage: floor FLOOR.bpf.o\n");
		return 64;
	}
	vals = calloc((size_t)ncpu, sizeof(*vals));
	obj = bpf_object__open_file(argv[1], NULL);
	if (!vals || !obj || bpf_object__load(obj)) {
		fprintf(stderr, "floor: cannot load %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	bpf_object__for_each_program(prog, obj)
	{
		if (!bpf_program__attach(prog)) {
			fprintf(stderr, "floor: cannot attach %s: %s\n", bpf_program__name(prog),
				strerror(errno));
			goto out;
		}
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	fprintf(stderr, "floor: attached\n");
	while (!stop)
		pause();
	map = bpf_object__find_map_by_name(obj, "counts");
	for (uint32_t k = 0; map && k < 3; k++) {
		uint64_t sum = 0;

		if (!bpf_map_lookup_elem(bpf_map__fd(map), &k, vals))
			for (int c = 0; c < ncpu; c++)
				sum += vals[c];
		printf("%s%llu", k ? " " : "", (unsigned long long)sum);
	}
	printf("\n");
	rc = 0;
out:
	/* the links and the object go with the process */
	free(vals);
	return rc;
}
