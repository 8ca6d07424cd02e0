/* main.c - command line, signals, and the reader loop of the ebpf-netmon daemon. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "config.h"
#include "log.h"
#include "pipeline.h"
#include "privs.h"
#include "reload.h"
#include "tracefs.h"
#ifdef NM_WITH_CONTROL
#include "control.h"
#endif

static volatile sig_atomic_t stop_signal;
static struct nm_ratelimit poll_rl;
static volatile sig_atomic_t reopen_requested;
/* Lets a SIGTERM end a push that waits for room (when_full = "block") inside a ring drain. */
static atomic_bool *volatile abort_flag;

static void on_signal(int sig)
{
	if (sig == SIGHUP) {
		reopen_requested = 1;
		return;
	}
	stop_signal = sig;
	if (abort_flag)
		atomic_store(abort_flag, true);
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: ebpf-netmon [-c FILE] [--check-config] [-v] [--version] [--help]\n"
		"\n"
		"Watches the kernel's network activity with eBPF and publishes every event as\n"
		"JSON or MessagePack to the configured sinks.\n"
		"\n"
		"  -c, --config FILE   read FILE (libconfig syntax); without it a built-in default\n"
		"                      runs: every program, JSON lines to stdout, control socket at\n"
		"                      " NM_DEFAULT_SOCKET "\n"
		"      --check-config  validate the configuration and exit (loads nothing)\n"
		"      --print-default print the built-in default configuration and exit\n"
		"  -v, --verbose       debug logging (libbpf's included)\n"
		"  -q, --quiet         log errors and warnings only\n"
		"  -V, --version       print the version and exit\n"
		"  -h, --help          this text\n"
		"\n"
		"Signals: SIGTERM/SIGINT deliver what is queued and exit 0; SIGHUP reopens files\n"
		"and re-reads -c FILE (hot reload: refused whole if invalid, else applied).\n"
		"Exit status: 0 ok, 1 runtime failure, 64 usage error, 78 configuration error.\n"
		"Logs go to stderr; events never do.\n"
		"\n"
		"Programs (each event's \"type\"; keys: --print-default):\n");
	for (const struct nm_program_type *const *t = nm_program_types; *t; t++)
		fprintf(out, "  %-20s%s\n", (*t)->name, (*t)->description);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool needs_tracefs(const struct nm_config *cfg)
{
	for (size_t i = 0; i < cfg->nprograms; i++)
		if (cfg->programs[i].common.enabled && cfg->programs[i].type->needs_tracefs)
			return true;
	return false;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},  {"check-config", no_argument, NULL, 'C'},
		{"print-default", no_argument, NULL, 'P'}, {"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},	   {"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},	   {NULL, 0, NULL, 0},
	};
	const char *config_path = NULL;
	char *default_text = NULL;
	bool check_only = false, verbose = false, quiet = false;
	struct nm_pipeline *pipeline = NULL;
	struct nm_reload *reload = NULL;
	struct nm_config *cfg = NULL;
	struct sigaction sa;
	char err[1024] = "";
	int64_t next_tick;
	int64_t started_ms = mono_ms();
	int opt, status = EXIT_FAILURE;
#ifdef NM_WITH_CONTROL
	struct nm_control *control = NULL;
#endif

	while ((opt = getopt_long(argc, argv, "c:vqVh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'C':
			check_only = true;
			break;
		case 'P':
			default_text = nm_config_default_text();
			if (!default_text) {
				fprintf(stderr, "ebpf-netmon: out of memory\n");
				return EXIT_FAILURE;
			}
			fputs(default_text, stdout);
			free(default_text);
			return 0;
		case 'v':
			verbose = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'V':
			printf("ebpf-netmon %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 64;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ebpf-netmon: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 64;
	}

	if (config_path) {
		cfg = nm_config_load_file(config_path, err, sizeof(err));
	} else {
		default_text = nm_config_default_text();
		if (default_text)
			cfg = nm_config_load_string(default_text, "<built-in default>", err,
						    sizeof(err));
		else
			snprintf(err, sizeof(err), "<built-in default>: out of memory");
		free(default_text);
	}
	if (!cfg) {
		fprintf(stderr, "%s\n", err);
		return NM_EX_CONFIG;
	}
	if (check_only) {
		if (cfg->warning[0])
			fprintf(stderr, "%s\n", cfg->warning);
		printf("%s: configuration OK (%zu sinks)\n", cfg->source, cfg->nsinks);
		nm_config_free(cfg);
		return 0;
	}

	nm_log_set_level(verbose ? NM_LOG_DEBUG
			 : quiet ? NM_LOG_WARN
				 : (enum nm_log_level)cfg->log_level);
	nm_log_bridge_libbpf();
	if (cfg->warning[0])
		nm_warn("%s", cfg->warning);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (geteuid() != 0)
		nm_warn("not running as root: loading BPF programs will most likely fail");
	if (needs_tracefs(cfg) && nm_tracefs_ensure(err, sizeof(err))) {
		nm_err("%s", err);
		goto out;
	}
	if (nm_cgroups_start())
		nm_warn("no cgroup v2 hierarchy here: events carry no cgroup path or container id");
	/* here, before any thread starts: each thread gets its creator's capabilities */
	if (nm_privs_drop(cfg, err, sizeof(err))) {
		nm_err("%s", err);
		goto out;
	}

	pipeline = nm_pipeline_create(cfg, err, sizeof(err));
	if (!pipeline) {
		nm_err("%s", err);
		goto out;
	}
	abort_flag = nm_pipeline_abort_flag(pipeline);
	/* From here the reload state owns cfg (and every configuration a reload applies). */
	reload = nm_reload_create(config_path, cfg, pipeline, !verbose && !quiet);
	if (!reload) {
		nm_err("%s: cannot keep the configuration's path for reloads: %s",
		       config_path ? config_path : "<built-in default>", strerror(errno));
		goto out;
	}
	nm_pipeline_set_reload(pipeline, reload);
#ifdef NM_WITH_CONTROL
	if (cfg->control.enabled) {
		control = nm_control_start(cfg, pipeline, err, sizeof(err));
		if (!control) {
			nm_err("%s", err);
			goto out;
		}
	}
#endif
	if (nm_pipeline_start(pipeline, err, sizeof(err))) {
		nm_err("%s", err);
		goto out;
	}
	nm_info("ebpf-netmon %s running: %s, host %s, attached in %lld ms", PACKAGE_VERSION,
		cfg->source, cfg->host, (long long)(mono_ms() - started_ms));

	next_tick = mono_ms() + 1000;
	while (!stop_signal) {
		int rc = nm_pipeline_poll(pipeline,
					  (int)nm_reload_config(reload)->drain_interval_ms);

		if (rc < 0)
			nm_log_ratelimited(&poll_rl, NM_LOG_ERR, "reading the rings failed: %s",
					   strerror(-rc));
		if (reopen_requested) {
			struct nm_reload_result res;

			reopen_requested = 0;
			if (config_path) {
				nm_info("SIGHUP: re-reading %s", config_path);
				nm_reload_apply(reload, &res); /* logs the outcome */
			}
			nm_info("SIGHUP: reopening files");
			nm_pipeline_reopen(pipeline);
		}
		nm_reload_serve(reload); /* POST /api/reload */
		if (mono_ms() >= next_tick) {
			nm_pipeline_tick(pipeline);
			next_tick += 1000;
		}
	}
	nm_info("%s: delivering what is queued, then exiting", strsignal(stop_signal));
	nm_reload_close(reload); /* a request waiting for us would hold the control server up */
#ifdef NM_WITH_CONTROL
	nm_control_stop(control);
	control = NULL;
#endif
	nm_pipeline_shutdown(pipeline);
	status = EXIT_SUCCESS;
out:
	nm_reload_close(reload);
#ifdef NM_WITH_CONTROL
	nm_control_stop(control);
#endif
	abort_flag = NULL;
	nm_pipeline_destroy(pipeline);
	nm_cgroups_stop(); /* after every thread that writes events */
	if (reload)
		nm_reload_destroy(reload); /* cfg with it */
	else
		nm_config_free(cfg);
	return status;
}
