/* bench_util.h: timing, percentiles and a jsr-server child for the benchmarks. */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static inline double bench_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static inline double bench_pct(double *v, size_t n, double p)
{
	qsort(v, n, sizeof(double), bench_cmp_double);
	return n ? v[(size_t)((double)(n - 1) * p)] : 0;
}

struct bench_server {
	pid_t pid;
	char dir[256], url[256], fpr[64];
};

/* init + a user "kari" (0301) + run on an ephemeral port; 0 on success. */
static inline int bench_server_start(struct bench_server *s, const char *bin)
{
	char cmd[2048], line[512];
	int fds[2];
	FILE *f;

	snprintf(s->dir, sizeof(s->dir), "/tmp/jsr-bench-srv-XXXXXX");
	if (!mkdtemp(s->dir))
		return -1;
	snprintf(cmd, sizeof(cmd),
		 "JSR_ADMIN_PASSWORD=blå-fjord-syv-ugler-benk %s/jsr-server init --data %s/srv | "
		 "sed -n 's/^Fingeravtrykk: //p' > %s/fpr && JSR_PASSWORD=blå-fjord-syv-ugler-benk "
		 "%s/jsr-server user add --data %s/srv --username kari --role kommune_user "
		 "--kommune 0301 > /dev/null", bin, s->dir, s->dir, bin, s->dir);
	if (system(cmd) != 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "%s/fpr", s->dir);
	if (!(f = fopen(cmd, "r")) || !fgets(s->fpr, sizeof(s->fpr), f))
		return -1;
	fclose(f);
	s->fpr[strcspn(s->fpr, "\n")] = '\0';
	if (pipe(fds) != 0)
		return -1;
	s->pid = fork();
	if (s->pid == 0) {
		char data[300], exe[600];

		snprintf(data, sizeof(data), "%s/srv", s->dir);
		snprintf(exe, sizeof(exe), "%s/jsr-server", bin);
		dup2(fds[1], 1);
		close(fds[0]);
		/* a benchmark that exits early (exit(1) on a failed step) takes its server along */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* the benchmarks measure sync, not the second factor (tested in tests/access) */
		setenv("JSR_REQUIRE_TOTP", "0", 1);
		execl(exe, exe, "run", "--data", data, "--listen", "127.0.0.1:0", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	if (!f || !fgets(line, sizeof(line), f))
		return -1;
	/* "jsr-server: lytter på ws://127.0.0.1:PORT/sync" */
	snprintf(s->url, sizeof(s->url), "%s", strstr(line, "ws://") ? strstr(line, "ws://") : "");
	s->url[strcspn(s->url, "\n")] = '\0';
	return s->url[0] ? 0 : -1;
}

/* Peak resident memory of the server, in MiB (VmHWM). */
static inline double bench_server_peak_mib(const struct bench_server *s)
{
	char path[64], line[256];
	FILE *f;
	double kb = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)s->pid);
	if (!(f = fopen(path, "r")))
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmHWM:", 6) == 0)
			kb = strtod(line + 6, NULL);
	fclose(f);
	return kb / 1024.0;
}

/*
 * CPU time (user + system, ms) of this process and of the server: on a
 * noisy VM the wall-clock figures of one run spread by ±20 %, the CPU each
 * side spent much less, so a change's effect shows here first.
 */
static inline double bench_self_cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static inline double bench_server_cpu_ms(const struct bench_server *s)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)s->pid);
	if (!(f = fopen(path, "r")))
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* after the command name in parentheses: state is field 3, utime 14, stime 15 */
	if (!(p = strrchr(buf, ')')) ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) * 1e3 / (double)sysconf(_SC_CLK_TCK);
}

/*
 * Profiling one part: with BENCH_PERF_CTL naming perf's control FIFO
 * (perf record --control=fifo:PATH -D -1 ...) and BENCH_PERF_PART naming
 * the part ("push", "pull", "edits"), perf records only while that part
 * runs, in this process and the server alike. Without them, nothing.
 */
static inline void bench_perf(const char *part, int on)
{
	const char *ctl = getenv("BENCH_PERF_CTL"), *want = getenv("BENCH_PERF_PART");
	FILE *f;

	if (!ctl || !want || strcmp(want, part) != 0 || !(f = fopen(ctl, "w")))
		return;
	fputs(on ? "enable\n" : "disable\n", f);
	fclose(f);
}

static inline void bench_server_stop(struct bench_server *s)
{
	char cmd[300];

	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
	}
	if (getenv("BENCH_KEEP")) { /* e.g. for tests/bench/page_bytes.py */
		fprintf(stderr, "bench: the server's data kept in %s/srv\n", s->dir);
		return;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", s->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench: could not remove %s\n", s->dir);
}

#endif
