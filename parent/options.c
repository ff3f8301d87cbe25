/* rtftp's command line. Every number goes through one bounded parser; every error names
 * the option and exits 2. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "options.h"
#include "tftp.h"

enum {
	OPT_PORT_RANGE = 256, OPT_SINGLE_PORT, OPT_MAX_BLKSIZE, OPT_MAX_WINDOWSIZE, OPT_TIMEOUT,
	OPT_RETRIES, OPT_MAX_TRANSFERS, OPT_MAX_PER_CLIENT, OPT_RRQ_RATE, OPT_LOOKUP_CACHE,
	OPT_MAP_BACKSLASH, OPT_ALLOW_EXT, OPT_SYSLOG, OPT_LOG_FORMAT, OPT_INSECURE, OPT_NO_PROACTIVE,
	OPT_IDLE_TIMEOUT, OPT_MAX_MOUNTERS, OPT_LAUNCH_TIMEOUT, OPT_REMOUNT_AFTER, OPT_CACHE_MB,
	OPT_BACKEND, OPT_CACHE_DIR, OPT_STATE_DIR, OPT_CHECK_CONFIG, OPT_LIBEXEC, OPT_REMOTE_DEADLINE,
};

static const struct option long_opts[] = {
	{ "listen", required_argument, NULL, 'l' },
	{ "user", required_argument, NULL, 'u' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "port-range", required_argument, NULL, OPT_PORT_RANGE },
	{ "single-port", no_argument, NULL, OPT_SINGLE_PORT },
	{ "max-blksize", required_argument, NULL, OPT_MAX_BLKSIZE },
	{ "max-windowsize", required_argument, NULL, OPT_MAX_WINDOWSIZE },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "retries", required_argument, NULL, OPT_RETRIES },
	{ "max-transfers", required_argument, NULL, OPT_MAX_TRANSFERS },
	{ "max-per-client", required_argument, NULL, OPT_MAX_PER_CLIENT },
	{ "rrq-rate", required_argument, NULL, OPT_RRQ_RATE },
	{ "lookup-cache", required_argument, NULL, OPT_LOOKUP_CACHE },
	{ "map-backslash", no_argument, NULL, OPT_MAP_BACKSLASH },
	{ "allow-ext", required_argument, NULL, OPT_ALLOW_EXT },
	{ "syslog", no_argument, NULL, OPT_SYSLOG },
	{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
	{ "insecure-no-sandbox", no_argument, NULL, OPT_INSECURE },
	{ "no-proactive", no_argument, NULL, OPT_NO_PROACTIVE },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT },
	{ "max-mounters", required_argument, NULL, OPT_MAX_MOUNTERS },
	{ "launch-timeout", required_argument, NULL, OPT_LAUNCH_TIMEOUT },
	{ "remount-after", required_argument, NULL, OPT_REMOUNT_AFTER },
	{ "remote-deadline", required_argument, NULL, OPT_REMOTE_DEADLINE },
	{ "mounter-cache-mb", required_argument, NULL, OPT_CACHE_MB },
	{ "guestfs-backend-settings", required_argument, NULL, OPT_BACKEND },
	{ "cache-dir", required_argument, NULL, OPT_CACHE_DIR },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "check-config", required_argument, NULL, OPT_CHECK_CONFIG },
	{ "libexec-dir", required_argument, NULL, OPT_LIBEXEC },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: rtftp [OPTIONS] ROOT\n"
"       rtftp --check-config ROOT/ADDRESS.nbd\n"
"A read-only TFTP server: client A reads ROOT/A/NAME, then NAME on A's remote disk\n"
"(ROOT/A.nbd), then ROOT/default/NAME.\n\n"
"  -l, --listen ADDR[:PORT]   listen here (repeatable; default [::]:69, IPv4 and IPv6)\n"
"  -u, --user USER            run as USER (required when started as root)\n"
"      --port-range LO:HI     local ports for transfers\n"
"      --single-port          answer every transfer from the listening port\n"
"      --max-blksize N        blksize ceiling (default: what fits the path MTU)\n"
"      --max-windowsize N     windowsize ceiling (default 64)\n"
"      --timeout SEC          first retransmit timeout (default 1)\n"
"      --retries N            retransmissions before giving up (default 5)\n"
"      --max-transfers N      transfers at once (default 2000)\n"
"      --max-per-client N     transfers at once per client address (default 16)\n"
"      --rrq-rate N           requests per second per client address (default 20)\n"
"      --lookup-cache SEC     keep lookup results per (client, name) (default 5)\n"
"      --map-backslash        turn \\ into / in names\n"
"      --allow-ext LIST       serve only these extensions (.efi,.img,...)\n"
"      --syslog               log to syslog instead of stderr\n"
"      --log-format text|json transfer records as text (default) or JSON\n"
"  -v, --verbose              per-request detail\n"
"      --insecure-no-sandbox  serve even if the seccomp filter cannot be loaded\n"
"remote disks:\n"
"      --no-proactive         do not start mounters when .nbd files appear\n"
"      --idle-timeout SEC     stop an idle mounter (default 600)\n"
"      --max-mounters N       mounters at once (default: half the RAM at 768 MB each)\n"
"      --launch-timeout SEC   longest appliance launch and mounts (default 120)\n"
"      --remount-after SEC    quiet time after which a request remounts (default 30)\n"
"      --remote-deadline SEC  longest wait for a remote disk's progress (default 10)\n"
"      --mounter-cache-mb N   file bytes a mounter holds for the worker (default 512)\n"
"      --guestfs-backend-settings S   e.g. force_tcg\n"
"      --cache-dir DIR        libguestfs appliance cache (default /var/cache/rtftp)\n"
"      --state-dir DIR        mounters' private temporary folders (default /tmp)\n"
"      --check-config FILE    validate a .nbd file and probe its server, then exit\n"
"      --libexec-dir DIR      where rtftp-worker and rtftp-mounter are (default: beside\n"
"                             rtftp if they are there, else " RTFTP_LIBEXECDIR ")\n"
"  -h, --help, -V, --version\n");
}

static _Noreturn void bad(const char *opt, const char *val, const char *why)
{
	fprintf(stderr, "rtftp: --%s %s: %s (see rtftp --help)\n", opt, val ? val : "", why);
	exit(2);
}

static uint32_t number(const char *opt, const char *s, uint64_t lo, uint64_t hi)
{
	uint64_t v;
	if (tftp_parse_uint(s, hi, &v) < 0 || v < lo) {
		char why[96];
		snprintf(why, sizeof(why), "expected a whole number from %llu to %llu",
			 (unsigned long long)lo, (unsigned long long)hi);
		bad(opt, s, why);
	}
	return (uint32_t)v;
}

static void port_range(struct rtftp_options *o, const char *s)
{
	char lo[8], hi[8];
	const char *colon = strchr(s, ':');
	if (!colon || colon - s >= (long)sizeof(lo) || strlen(colon + 1) >= sizeof(hi))
		bad("port-range", s, "expected LO:HI");
	memcpy(lo, s, (size_t)(colon - s));
	lo[colon - s] = '\0';
	strcpy(hi, colon + 1);
	o->worker.port_lo = (uint16_t)number("port-range", lo, 1, 65535);
	o->worker.port_hi = (uint16_t)number("port-range", hi, 1, 65535);
	if (o->worker.port_lo > o->worker.port_hi)
		bad("port-range", s, "LO is above HI");
}

/* ".efi, .IMG,img" -> ",.efi,.img,.img," */
static void allow_ext(struct rtftp_options *o, const char *s)
{
	char *out = o->worker.allow_ext;
	size_t cap = sizeof(o->worker.allow_ext), n = 0;
	const char *p = s;
	out[n++] = ',';
	while (*p) {
		size_t len = strcspn(p, ",");
		while (len && *p == ' ') { p++; len--; }
		if (len) {
			if (n + len + 3 >= cap)
				bad("allow-ext", s, "list too long");
			if (*p != '.')
				out[n++] = '.';
			memcpy(out + n, p, len);
			n += len;
			out[n++] = ',';
		}
		p += len + (p[len] == ',');
	}
	out[n] = '\0';
	if (n == 1)
		bad("allow-ext", s, "empty list");
}

/* A mounter holds a libguestfs appliance: 300-750 MB resident (docs/remote-disks.md).
 * By default they may use half of this machine's memory, at 768 MB each, 1 to 16. */
static uint32_t default_max_mounters(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	uint64_t mib = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page >> 20 : 0;
	uint64_t n = mib / 2 / 768;
	return n < 1 ? 1 : n > 16 ? 16 : (uint32_t)n;
}

static void defaults(struct rtftp_options *o)
{
	memset(o, 0, sizeof(*o));
	o->worker.timeout_ms = 1000;
	o->worker.retries = 5;
	o->worker.max_windowsize = 64;
	o->worker.max_transfers = 2000;
	o->worker.max_per_client = 16;
	o->worker.rrq_rate = 20;
	o->worker.probe_cache_ms = 5000;
	o->worker.remote_deadline_ms = 10000;
	o->worker.remote_disks = 1;
	o->proactive = true;
	o->idle_timeout_s = 600;
	o->max_mounters = default_max_mounters();
	o->launch_timeout_s = 120;
	o->remount_quiet_s = 30;
	o->mounter_cache_bytes = 512ull << 20;
	o->cache_dir = "/var/cache/rtftp";
	o->state_dir = "/tmp";
}

static void add_listen(struct rtftp_options *o, const char *s)
{
	if (o->nlisten >= RTFTP_MAX_LISTEN)
		bad("listen", s, "too many addresses");
	if (addr_parse_listen(s, RTFTP_DEFAULT_PORT, &o->listen[o->nlisten]) < 0)
		bad("listen", s, "expected ADDR, ADDR:PORT or [IPV6]:PORT");
	o->nlisten++;
}

static void set_string(const char **dst, const char *opt, const char *v, size_t max)
{
	if (strlen(v) >= max)
		bad(opt, v, "too long");
	*dst = v;
}

static void one_option(struct rtftp_options *o, int c, const char *a)
{
	switch (c) {
	case 'l': add_listen(o, a); break;
	case 'u': o->user = a; break;
	case 'v': o->verbose++; o->worker.verbose = 1; break;
	case 'h': usage(stdout); exit(0);
	case 'V': printf("rtftp %s\n", RTFTP_VERSION); exit(0);
	case OPT_PORT_RANGE: port_range(o, a); break;
	case OPT_SINGLE_PORT: o->worker.single_port = 1; break;
	case OPT_MAX_BLKSIZE: o->worker.max_blksize = number("max-blksize", a, 8, 65464); break;
	case OPT_MAX_WINDOWSIZE: o->worker.max_windowsize = number("max-windowsize", a, 1, 65535); break;
	case OPT_TIMEOUT: o->worker.timeout_ms = number("timeout", a, 1, 255) * 1000; break;
	case OPT_RETRIES: o->worker.retries = number("retries", a, 1, 30); break;
	case OPT_MAX_TRANSFERS: o->worker.max_transfers = number("max-transfers", a, 1, 100000); break;
	case OPT_MAX_PER_CLIENT: o->worker.max_per_client = number("max-per-client", a, 1, 100000); break;
	case OPT_RRQ_RATE: o->worker.rrq_rate = number("rrq-rate", a, 1, 1000000); break;
	case OPT_LOOKUP_CACHE: o->worker.probe_cache_ms = number("lookup-cache", a, 0, 3600) * 1000; break;
	case OPT_MAP_BACKSLASH: o->worker.map_backslash = 1; break;
	case OPT_ALLOW_EXT: allow_ext(o, a); break;
	case OPT_SYSLOG: o->syslog = true; break;
	case OPT_LOG_FORMAT:
		if (strcmp(a, "json") && strcmp(a, "text"))
			bad("log-format", a, "expected text or json");
		o->worker.log_json = strcmp(a, "json") == 0;
		break;
	case OPT_INSECURE: o->insecure_no_sandbox = true; o->worker.insecure_no_sandbox = 1; break;
	case OPT_NO_PROACTIVE: o->proactive = false; break;
	case OPT_IDLE_TIMEOUT: o->idle_timeout_s = number("idle-timeout", a, 1, 86400 * 7); break;
	case OPT_MAX_MOUNTERS: o->max_mounters = number("max-mounters", a, 0, 1024); break;
	case OPT_LAUNCH_TIMEOUT: o->launch_timeout_s = number("launch-timeout", a, 5, 3600); break;
	case OPT_REMOUNT_AFTER: o->remount_quiet_s = number("remount-after", a, 1, 86400); break;
	case OPT_REMOTE_DEADLINE: o->worker.remote_deadline_ms = number("remote-deadline", a, 1, 600) * 1000; break;
	case OPT_CACHE_MB: o->mounter_cache_bytes = (uint64_t)number("mounter-cache-mb", a, 1, 65536) << 20; break;
	case OPT_BACKEND: set_string(&o->backend_settings, "guestfs-backend-settings", a, 256); break;
	case OPT_CACHE_DIR: set_string(&o->cache_dir, "cache-dir", a, 200); break;
	case OPT_STATE_DIR:
		if (strlen(a) > RTFTP_STATE_DIR_MAX)
			bad("state-dir", a, "too long: 64 bytes at most (the mounters' libguestfs sockets "
			    "below it must fit a socket address)");
		o->state_dir = a;
		break;
	case OPT_CHECK_CONFIG: o->check_config = a; break;
	case OPT_LIBEXEC: o->libexec_dir = a; break;
	default: usage(stderr); exit(2);
	}
}

void options_parse(int argc, char **argv, struct rtftp_options *o)
{
	int c;
	defaults(o);
	while ((c = getopt_long(argc, argv, "l:u:vhV", long_opts, NULL)) != -1)
		one_option(o, c, optarg);
	if (o->check_config) {
		if (optind != argc)
			bad("check-config", o->check_config, "takes no ROOT");
		return;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "rtftp: exactly one ROOT folder expected (see rtftp --help)\n");
		exit(2);
	}
	o->root = argv[optind];
	o->worker.remote_disks = o->max_mounters > 0;
	o->worker.mounter_wait_ms =
		(o->launch_timeout_s + LAUNCH_BACKSTOP_S + MOUNTER_WAIT_SLACK_S) * 1000u;
}
