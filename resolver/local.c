/*
 * local: the data answered here without a zone: the hosts file (hosts.h) and the block and
 * allow lists (blocklist.h), held by the resolver outside any configuration snapshot, since
 * each is swapped whole when it is read again: the hosts file when it changes on disk (and on
 * reload), the lists on reload, read off the loop so that serving never pauses. Lookups happen
 * when a query arrives, on the loop, so a swap needs no reference counting: the old object is
 * freed at once.
 *
 * At start both are read before the first query is served (a block list that is not in force
 * yet would let its names through); a file that cannot be read is a warning, never a reason not
 * to serve.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blocklist.h"
#include "hosts.h"
#include "log.h"
#include "resolver.h"
#include "steer.h"

/* Log @msgs (lines) as warnings, at most a few, so that a broken list cannot flood the log. */
static void log_lines_warn(const char *what, const char *msgs)
{
	unsigned n = 0;

	while (msgs && *msgs) {
		const char *nl = strchr(msgs, '\n');
		int len = nl ? (int)(nl - msgs) : (int)strlen(msgs);

		if (n++ < 20) {
			log_warn(LOG_MAIN, "%s: %.*s", what, len, msgs);
		}
		msgs += len + (nl ? 1 : 0);
	}
	if (n > 20) {
		log_warn(LOG_MAIN, "%s: %u more", what, n - 20);
	}
}

/* The workers borrow what is in force: they move to the new one before the old is freed. */
static void hosts_install(struct resolver *r, struct hosts *h)
{
	struct hosts *old = r->hosts;

	r->hosts = h;
	resolver_local_changed(r);
	hosts_free(old);
}

static void on_hosts_changed(void *arg, struct hosts *h)
{
	struct resolver *r = arg;

	log_notice(LOG_MAIN, "hosts file '%s' read again: %zu entries", r->hosts_path,
		   hosts_count(h));
	hosts_install(r, h);
}

/* Read hosts_file and watch it, as r->cfg says; none when it is not set. */
static int hosts_apply(struct resolver *r, FILE *msgs)
{
	const char *path = r->cfg->hosts_file;
	struct hosts *h = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *m;
	int ret;

	if (r->hosts_watch) {
		hosts_watch_stop(r->hosts_watch);
		r->hosts_watch = NULL;
	}
	free(r->hosts_path);
	r->hosts_path = NULL;
	if (!path) {
		hosts_install(r, NULL);
		return 0;
	}
	r->hosts_path = strdup(path);
	m = open_memstream(&text, &len);
	if (!r->hosts_path || !m) {
		if (m) {
			fclose(m);
		}
		free(text);
		return -ENOMEM;
	}
	ret = hosts_load(path, &h, m);
	fclose(m);
	log_lines_warn("hosts file", text);
	free(text);
	if (ret == 0) {
		log_notice(LOG_MAIN, "hosts file '%s': %zu entries", path, hosts_count(h));
		hosts_install(r, h);
	} else {
		log_warn(LOG_MAIN, "hosts file '%s': %s; watching for it", path, strerror(-ret));
		if (msgs) {
			fprintf(msgs, "warning: hosts file '%s': %s\n", path, strerror(-ret));
		}
		hosts_install(r, NULL);
	}
	/* Watched whatever happened: a file that appears or is fixed is read then. */
	ret = hosts_watch_start(r->loop, path, on_hosts_changed, r, &r->hosts_watch);
	if (ret != 0) {
		log_warn(LOG_MAIN, "hosts file '%s': cannot watch it (%s): read on reload only",
			 path, strerror(-ret));
	}
	return 0;
}

/* @b is the lists in force in @r (owned or borrowed), with a hit counter per list from zero. */
static void blocks_set(struct resolver *r, struct blocklist *b)
{
	size_t n = 0;

	free(r->block_hits);
	r->block_hits = NULL;
	r->n_block_lists = 0;
	r->blocks = b;
	if (b) {
		blocklist_files(b, &n);
		r->block_hits = calloc(n ? n : 1, sizeof(*r->block_hits));
		r->n_block_lists = r->block_hits ? n : 0;
	}
}

static void blocks_install(struct resolver *r, struct blocklist *b)
{
	struct blocklist *old = r->blocks;

	blocks_set(r, b);
	resolver_local_changed(r);
	blocklist_free(old);
}

void local_borrow(struct resolver *r)
{
	r->hosts = r->main->hosts;
	if (r->blocks != r->main->blocks) {
		blocks_set(r, r->main->blocks); /* its counters are its own */
	}
}

static void blocks_log(const struct blocklist *b)
{
	const struct blocklist_file_stats *f;
	size_t n;

	f = blocklist_files(b, &n);
	for (size_t i = 0; i < n; i++) {
		if (f[i].error) {
			log_warn(LOG_MAIN, "%s list '%s': %s", f[i].allow ? "allow" : "block",
				 f[i].path, strerror(-f[i].error));
		} else {
			log_notice(LOG_MAIN, "%s list '%s': %zu domains, %zu lines skipped",
				   f[i].allow ? "allow" : "block", f[i].path, f[i].entries,
				   f[i].skipped);
		}
	}
}

/* One load of the lists off the loop, and which reload asked for it. */
struct blocks_job {
	struct resolver *r;
	uint64_t gen; /**< r->blocks_wanted when it started */
};

/* A reload's lists, read off the loop: in force from here, unless a newer reload began. */
static void on_blocks_loaded(void *arg, int status, struct blocklist *b, char *msgs)
{
	struct blocks_job *job = arg;
	struct resolver *r = job->r;
	uint64_t gen = job->gen;

	free(job);
	r->blocks_loading--;
	log_lines_warn("block lists", msgs);
	free(msgs);
	if (r->stopping || status != 0 || gen != r->blocks_wanted) {
		/* Stopping, failed (the old lists stay), or a newer load is on its way. */
		if (status != 0 && !r->stopping) {
			log_warn(LOG_MAIN, "block lists not read again: %s; the old ones stay",
				 strerror(-status));
		}
		blocklist_free(b);
		return;
	}
	blocks_log(b);
	log_notice(LOG_MAIN, "block lists in force: %zu domains", blocklist_size(b));
	blocks_install(r, b);
}

/* Whether libuv's pool of threads is made: only the main thread reads lists off the loop. */
static bool pool_made;

/* Read blocklists and allowlists as r->cfg says: at once (@sync, at start) or off the loop. */
static int blocks_apply(struct resolver *r, bool sync, FILE *msgs)
{
	const struct config *cfg = r->cfg;
	struct blocklist *b = NULL;
	char *text = NULL;
	size_t len = 0;
	bool unpin;
	FILE *m;
	int ret;

	r->blocks_wanted++;
	if (cfg->n_blocklists == 0 && cfg->n_allowlists == 0) {
		blocks_install(r, NULL);
		return 0;
	}
	if (!sync) {
		struct blocks_job *job = malloc(sizeof(*job));

		if (!job) {
			return -ENOMEM;
		}
		job->r = r;
		job->gen = r->blocks_wanted;
		/* libuv makes its pool of threads at the process's first uv_queue_work, and they
		 * inherit the CPUs of the thread that made them: the main thread, pinned to worker
		 * 1's by steer.c, lets go of its pin around that first one, so that lists are read
		 * on any CPU, not on worker 1's alone. */
		unpin = r->steer && !pool_made;
		if (unpin) {
			(void)steer_unpin_self(r->steer);
		}
		ret = blocklist_load_start(r->loop, (const char *const *)cfg->blocklists,
					   cfg->n_blocklists, (const char *const *)cfg->allowlists,
					   cfg->n_allowlists, on_blocks_loaded, job);
		if (unpin) {
			(void)steer_pin_self(r->steer, 0);
		}
		pool_made = pool_made || ret == 0;
		if (ret == 0) {
			r->blocks_loading++;
		} else {
			free(job);
			if (msgs) {
				fprintf(msgs, "warning: cannot read the block lists: %s\n",
					strerror(-ret));
			}
		}
		return ret;
	}
	m = open_memstream(&text, &len);
	if (!m) {
		return -ENOMEM;
	}
	ret = blocklist_load((const char *const *)cfg->blocklists, cfg->n_blocklists,
			     (const char *const *)cfg->allowlists, cfg->n_allowlists, &b, m);
	fclose(m);
	log_lines_warn("block lists", text);
	free(text);
	if (ret != 0) {
		return ret;
	}
	blocks_log(b);
	blocks_install(r, b);
	return 0;
}

int local_start(struct resolver *r)
{
	int ret = hosts_apply(r, NULL);

	if (ret == 0) {
		ret = blocks_apply(r, true, NULL);
	}
	return ret;
}

void local_reload(struct resolver *r, FILE *msgs)
{
	hosts_apply(r, msgs);
	blocks_apply(r, false, msgs);
}

void local_stop(struct resolver *r)
{
	if (r->hosts_watch) {
		hosts_watch_stop(r->hosts_watch);
		r->hosts_watch = NULL;
	}
	/* A load still running is freed by its callback, which sees r->stopping. */
}

void local_free(struct resolver *r)
{
	if (r->main) {
		/* A worker's are borrowed from the main resolver; its counters are its own. */
		r->hosts = NULL;
		r->blocks = NULL;
		free(r->block_hits);
		r->block_hits = NULL;
		return;
	}
	REQUIRE(r->blocks_loading == 0);
	hosts_install(r, NULL);
	blocks_install(r, NULL);
	free(r->hosts_path);
	r->hosts_path = NULL;
}
