/*
 * dotd: a DNS-over-TLS stub resolver daemon.
 *
 * main() reads the configuration (a Stubby-compatible YAML file, or the built-in default),
 * binds every listener before serving anything, and runs the libuv loop in the foreground until
 * SIGINT or SIGTERM; then every handle is closed and everything freed. Under systemd
 * (Type=notify) it says READY=1 once serving and STOPPING=1 when the stop begins (notify.h).
 *
 * Exit status: 0 after a clean stop, 1 when the daemon cannot start (a port cannot be bound, the
 * trust store cannot be read), 2 for a configuration error (usage errors included).
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "control.h"
#include "log.h"
#include "notify.h"
#include "resolver.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: dotd [-C FILE] [-i] [-l] [-v LEVEL] [-V] [-h]\n"
		   "  -C FILE   read the configuration (Stubby's YAML) from FILE;\n"
		   "            without it the built-in default (etc/dotd.yml) applies\n"
		   "  -i        print the effective configuration and exit\n"
		   "  -l        log everything (same as -v 7)\n"
		   "  -v LEVEL  log level 0 (emergencies) .. 7 (debug), overrides log_level\n"
		   "  -V        print the version and exit\n"
		   "  -h        this help\n");
}

/*
 * Become @user after the listeners are bound (user: in the configuration): supplementary
 * groups, then group, then user, and check that root cannot be regained. dotd does not go on
 * as root when this fails. Started without root (systemd with CAP_NET_BIND_SERVICE, say),
 * there is nothing to drop.
 */
static int privileges_drop(const char *user)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(user);
	if (!pw) {
		log_err(LOG_MAIN, "user '%s': %s", user, errno ? strerror(errno) : "no such user");
		return -ENOENT;
	}
	if (geteuid() != 0) {
		if (pw->pw_uid == geteuid()) {
			return 0;
		}
		log_err(LOG_MAIN, "user '%s': only root can become another user", user);
		return -EPERM;
	}
	if (initgroups(user, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0) {
		log_err(LOG_MAIN, "cannot become user '%s': %s", user, strerror(errno));
		return -EPERM;
	}
	if (pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		log_err(LOG_MAIN, "user '%s': root could be regained, refusing to go on", user);
		return -EPERM;
	}
	log_notice(LOG_MAIN, "running as user '%s' (uid %u, gid %u)", user, (unsigned)pw->pw_uid,
		   (unsigned)pw->pw_gid);
	return 0;
}

/*
 * The trust anchors are read by the first upstream connection (tls.h, tls_client_load()), after
 * root is gone: config.c checked them as whoever started dotd, so check again as the user dotd
 * now is, and refuse to start rather than fail at the first query.
 */
static int trust_anchors_check(const struct config *cfg, const char *user)
{
	const struct {
		const char *key, *path;
		int mode;
	} anchors[] = {{"tls_ca_file", cfg->ca_file, R_OK},
		       {"tls_ca_path", cfg->ca_path, R_OK | X_OK}};

	for (size_t i = 0; i < sizeof(anchors) / sizeof(anchors[0]); i++) {
		if (anchors[i].path && access(anchors[i].path, anchors[i].mode) != 0) {
			log_err(LOG_MAIN, "%s '%s' cannot be read by user '%s', who reads it: %s",
				anchors[i].key, anchors[i].path, user, strerror(errno));
			return -EACCES;
		}
	}
	return 0;
}

/*
 * The control socket is made while dotd may still be root (it may bind anywhere), and given to
 * @user, who must be able to answer on it and, with the group, to let dotd-ctl in.
 */
static int control_start(struct resolver *r, const char *user)
{
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;

	if (user && geteuid() == 0) {
		struct passwd *pw = getpwnam(user);

		if (!pw) {
			log_err(LOG_MAIN, "user '%s': no such user", user);
			return -ENOENT;
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	return control_open(r, r->cfg->control_socket, uid, gid, &r->control);
}

int main(int argc, char **argv)
{
	const char *file = NULL;
	bool print_only = false;
	int verbosity = -1;
	struct config *cfg = NULL;
	char *user = NULL, *path = NULL;
	struct resolver r;
	uv_loop_t loop;
	int opt, ret, status = 1;

	while ((opt = getopt(argc, argv, "C:ilv:Vh")) != -1) {
		switch (opt) {
		case 'C':
			file = optarg;
			break;
		case 'i':
			print_only = true;
			break;
		case 'l':
			verbosity = LOG_DEBUG;
			break;
		case 'v':
			verbosity = atoi(optarg);
			break;
		case 'V':
			printf("dotd %s\n", DOTD_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	ret = file ? config_load_file(file, &cfg, stderr) : config_load_default(&cfg, stderr);
	if (ret != 0) {
		return 2;
	}
	if (print_only) {
		/* What the start would refuse after the file parsed: a CA file that holds nothing.
		 */
		if (upstream_ca_check(cfg, stderr) != 0) {
			config_free(cfg);
			return 2;
		}
		config_print(cfg, stdout);
		config_free(cfg);
		return 0;
	}
	log_level_set(verbosity >= 0 ? verbosity : cfg->log_level);
	signal(SIGPIPE, SIG_IGN);

	user = cfg->user ? strdup(cfg->user) : NULL;
	if (cfg->user && !user) {
		config_free(cfg);
		return 1;
	}
	uv_loop_init(&loop);
	/*
	 * The service manager's socket is connected while we may still be root (the socket stays
	 * ours after the drop); READY=1 goes only once the listeners are bound and root is gone,
	 * since systemd then starts what waits for us (nss-lookup.target). A socket that cannot be
	 * used is a warning, never a reason not to serve.
	 */
	notify_open();
	/* Reload reads the same file whatever the working directory is then. */
	if (file) {
		path = realpath(file, NULL);
	}
	/* The resolver owns cfg from here on, in its configuration snapshot. */
	ret = resolver_start(&r, &loop, cfg, path ? path : file);
	cfg = NULL;
	r.log_level_forced = verbosity;
	if (ret == 0 && r.cfg->control_socket) {
		ret = control_start(&r, user);
	}
	if (ret == 0 && user) {
		ret = privileges_drop(user);
	}
	if (ret == 0 && user) {
		ret = trust_anchors_check(r.cfg, user);
	}
	if (ret == 0) {
		log_notice(LOG_MAIN, "dotd %s serving with %zu upstream%s (%s authentication)",
			   DOTD_VERSION, r.cfg->n_upstreams, r.cfg->n_upstreams == 1 ? "" : "s",
			   r.cfg->auth == CONFIG_AUTH_REQUIRED ? "strict" : "opportunistic");
		notify_ready(resolver_summary(&r));
		status = 0;
	} else {
		log_err(LOG_MAIN, "cannot start: %s", strerror(ret < 0 ? -ret : ret));
		resolver_stop(&r);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	resolver_free(&r);
	if (uv_loop_close(&loop) != 0) {
		log_err(LOG_MAIN, "handles left open at exit");
		status = 1;
	}
	notify_close();
	tls_cleanup();
	free(user);
	free(path);
	return status;
}
