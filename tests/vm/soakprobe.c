// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * soakprobe: the soak scenario's probe (tests/vm/scenarios/soak.sh), a guest
 * program built with gcc -static like memhog.
 *
 *   soakprobe [-p PERIOD_MS] [-f FLAG_FILE] [-P PAUSE_FILE] SOCKET
 *   soakprobe -1 SOCKET
 *
 * Every PERIOD_MS (default 200) one `status` request over damond's control
 * socket (a NUL-terminated JSON object, as damondctl sends it), timed from
 * connect to the reply's NUL. One line per request on stdout:
 *
 *   T DT_MS STORM        T: CLOCK_BOOTTIME seconds (the clock of /proc/uptime)
 *   fail T REASON        the request failed (connect, timeout, error reply)
 *
 * STORM is 1 when FLAG_FILE existed when the request started or ended (the
 * scenario creates it while a storm of damondctl clients runs): such a round
 * trip queues behind the storm and is counted apart from the stall.
 * A full listen backlog is waited out (blocking connect): the wait counts.
 * While PAUSE_FILE exists, no request is sent and PAUSE_FILE.idle exists:
 * the scenario counts damond's fds then (when a round trip takes longer
 * than the period, as on 6.12, the probe is connected nearly all the time).
 * Runs until killed.
 *
 * -1: one status request, the reply (without its NUL) on stdout, exit 0; 1
 * when it failed.  The scenario reads damond's status with it: a static
 * program starts much faster than damondctl under TCG.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* one round trip: 0, or -1 with *why set; the reply goes to out when not NULL */
static int request(const char *path, const char **why, FILE *out)
{
	static const char req[] = "{\"method\":\"status\"}";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 30 };
	static char buf[1 << 16];
	char head[256];
	size_t got = 0;
	int fd, r = -1;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*why = "socket";
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		*why = errno == EAGAIN ? "connect: backlog full for 30 s" : "connect";
		goto out;
	}
	/* the request with its terminating NUL */
	if (send(fd, req, sizeof(req), MSG_NOSIGNAL) != (ssize_t)sizeof(req)) {
		*why = "send";
		goto out;
	}
	head[0] = 0;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0) {
			*why = errno == EAGAIN ? "reply: timeout 30 s" : "recv";
			goto out;
		}
		if (n == 0) {
			*why = "closed before the reply ended";
			goto out;
		}
		if (got < sizeof(head) - 1) {
			size_t c = (size_t)n < sizeof(head) - 1 - got ? (size_t)n : sizeof(head) - 1 - got;

			memcpy(head + got, buf, c);
			head[got + c] = 0;
		}
		got += (size_t)n;
		if (out)
			fwrite(buf, 1, buf[n - 1] == 0 ? (size_t)n - 1 : (size_t)n, out);
		if (buf[n - 1] == 0)
			break;
	}
	if (strncmp(head, "{\"error\"", 8) == 0 || strncmp(head, "{ \"error\"", 9) == 0) {
		*why = "error reply";
		goto out;
	}
	r = 0;
out:
	close(fd);
	return r;
}

int main(int argc, char **argv)
{
	const char *flag = NULL, *pause = NULL, *why = NULL;
	char idle[4096];
	long period_ms = 200;
	int c, once = 0;

	while ((c = getopt(argc, argv, "p:f:P:1")) >= 0) {
		switch (c) {
		case '1':
			once = 1;
			break;
		case 'p':
			period_ms = strtol(optarg, NULL, 10);
			break;
		case 'f':
			flag = optarg;
			break;
		case 'P':
			pause = optarg;
			break;
		default:
			fprintf(stderr,
				"usage: soakprobe [-p PERIOD_MS] [-f FLAG_FILE] [-P PAUSE_FILE] SOCKET | -1 SOCKET\n");
			return 2;
		}
	}
	if (optind != argc - 1 || period_ms <= 0) {
		fprintf(stderr, "usage: soakprobe [-p PERIOD_MS] [-f FLAG_FILE] [-P PAUSE_FILE] SOCKET | -1 SOCKET\n");
		return 2;
	}
	if (once) {
		if (request(argv[optind], &why, stdout) < 0) {
			fprintf(stderr, "soakprobe: %s\n", why);
			return 1;
		}
		putchar('\n');
		return 0;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (pause)
		snprintf(idle, sizeof(idle), "%s.idle", pause);
	for (;;) {
		double t0, dt, left;
		int storm;

		if (pause && access(pause, F_OK) == 0) {
			FILE *f = fopen(idle, "w");

			if (f)
				fclose(f);
			while (access(pause, F_OK) == 0)
				usleep(10000);
			unlink(idle);
		}
		t0 = now_s();
		storm = flag && access(flag, F_OK) == 0;
		if (request(argv[optind], &why, NULL) < 0) {
			printf("fail %.3f %s\n", t0, why);
		} else {
			dt = now_s() - t0;
			storm |= flag && access(flag, F_OK) == 0;
			printf("%.3f %.3f %d\n", t0, dt * 1000, storm);
		}
		left = period_ms / 1000.0 - (now_s() - t0);
		if (left > 0) {
			struct timespec ts = { .tv_sec = (time_t)left, .tv_nsec = (long)((left - (time_t)left) * 1e9) };

			nanosleep(&ts, NULL);
		}
	}
}
