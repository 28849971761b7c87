/*
 * cachefile: the cache file on disk (cache_file, dotd-ctl cache dump and load). cache/ holds
 * the format and does no I/O; here are the file's rules:
 *
 *   - written atomically: a temporary file beside it (O_EXCL, mode 0600), fsync, rename over
 *     the old one, fsync of the directory; a crash leaves the old file or the new, never half;
 *   - read only from a regular file no larger than the cache could have written (a FIFO or a
 *     device would block the loop, a huge file would eat memory);
 *   - the wall clock ages the TTLs, since the cache's own clock does not survive a restart.
 *
 * Both run on the loop: 100,000 entries take tens of milliseconds (docs/ARCHITECTURE.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "resolver.h"

/* The largest file read: the cache file of a cache of cache_size bytes is smaller than this. */
static size_t file_max(const struct resolver *r)
{
	return 4 * r->cfg->cache_size + (1u << 20);
}

struct fd_writer {
	int fd;
	int err; /**< the first write error, as a negative errno */
};

static int on_write(void *arg, const void *buf, size_t len)
{
	struct fd_writer *w = arg;
	const uint8_t *p = buf;

	while (len > 0 && w->err == 0) {
		ssize_t n = write(w->fd, p, len);

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			w->err = -errno;
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	return w->err;
}

/* fsync the directory holding @path, so that the rename itself is on disk. */
static void dir_sync(const char *path)
{
	char *copy = strdup(path);
	int fd;

	if (!copy) {
		return;
	}
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(copy);
}

int cachefile_write(struct resolver *r, const char *path, size_t *n_entries, FILE *msg)
{
	struct fd_writer w = {.fd = -1};
	size_t n = 0, tlen = strlen(path) + 32;
	char *tmp = malloc(tlen);
	int ret;

	if (!tmp) {
		return -ENOMEM;
	}
	snprintf(tmp, tlen, "%s.tmp.%ld", path, (long)getpid());
	w.fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (w.fd < 0) {
		ret = -errno;
		fprintf(msg, "cannot create '%s': %s\n", tmp, strerror(-ret));
		goto cleanup;
	}
	ret = cache_dump(r->cache, (uint64_t)time(NULL), on_write, &w, &n);
	if (ret == 0 && w.err) {
		ret = w.err;
	}
	if (ret == 0 && fsync(w.fd) != 0) {
		ret = -errno;
	}
	if (close(w.fd) != 0 && ret == 0) {
		ret = -errno;
	}
	w.fd = -1;
	if (ret != 0) {
		fprintf(msg, "cannot write '%s': %s\n", tmp, strerror(-ret));
		goto cleanup_unlink;
	}
	if (rename(tmp, path) != 0) {
		ret = -errno;
		fprintf(msg, "cannot rename '%s' to '%s': %s\n", tmp, path, strerror(-ret));
		goto cleanup_unlink;
	}
	dir_sync(path);
	*n_entries = n;
	free(tmp);
	return 0;
cleanup_unlink:
	unlink(tmp);
cleanup:
	free(tmp);
	return ret;
}

/* The whole of regular file @path, at most @max bytes, in *@out (malloc'd). */
static int file_slurp(const char *path, size_t max, uint8_t **out, size_t *len, FILE *msg)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t got = 0;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		ret = -errno;
		fprintf(msg, "cannot open '%s': %s\n", path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) != 0) {
		ret = -errno;
		fprintf(msg, "cannot stat '%s': %s\n", path, strerror(-ret));
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		fprintf(msg, "'%s' is not a regular file\n", path);
		goto cleanup;
	}
	if ((uint64_t)st.st_size > max) {
		ret = -EFBIG;
		fprintf(msg,
			"'%s' is %lld bytes, more than a cache of cache_size could write (%zu)\n",
			path, (long long)st.st_size, max);
		goto cleanup;
	}
	buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
	if (!buf) {
		ret = -ENOMEM;
		goto cleanup;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			ret = -errno;
			fprintf(msg, "cannot read '%s': %s\n", path, strerror(-ret));
			goto cleanup;
		}
		if (n == 0) {
			break; /* shrank while read: the checks of cache_load() refuse it */
		}
		got += (size_t)n;
	}
	close(fd);
	*out = buf;
	*len = got;
	return 0;
cleanup:
	free(buf);
	close(fd);
	return ret;
}

static const char *load_error(int ret)
{
	switch (ret) {
	case -EINVAL:
		return "not a dotd cache file";
	case -EPROTONOSUPPORT:
		return "a cache file of another version";
	case -EBADMSG:
		return "truncated or corrupted";
	default:
		return strerror(-ret);
	}
}

int cachefile_read(struct resolver *r, const char *path, struct cache_load_stats *st, FILE *msg)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int ret;

	ret = file_slurp(path, file_max(r), &buf, &len, msg);
	if (ret != 0) {
		return ret;
	}
	ret = cache_load(r->cache, buf, len, (uint64_t)time(NULL), st);
	free(buf);
	if (ret != 0) {
		fprintf(msg, "'%s' refused: %s\n", path, load_error(ret));
	}
	return ret;
}
