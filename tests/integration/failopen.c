/*
 * failopen: an LD_PRELOAD shim for tests/integration/workers.sh. fopen() and open() of the
 * file FAILOPEN_PATH fail with EACCES in the threads whose name is FAILOPEN_THREAD (dotd's
 * workers are "dotd-w2" to "dotd-wN", resolver/worker.c), and work as usual everywhere else:
 * a file that one worker cannot read while the main thread can, as when it changes on disk
 * between the main thread's reload and a worker's. Without both variables it changes nothing.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

static bool refused(const char *path)
{
	const char *want = getenv("FAILOPEN_PATH");
	const char *thread = getenv("FAILOPEN_THREAD");
	char name[17] = "";

	if (!want || !thread || !path || strcmp(path, want) != 0) {
		return false;
	}
	if (prctl(PR_GET_NAME, name, 0, 0, 0) != 0) {
		return false;
	}
	return strcmp(name, thread) == 0;
}

FILE *fopen(const char *path, const char *mode)
{
	static FILE *(*real)(const char *, const char *);

	if (refused(path)) {
		errno = EACCES;
		return NULL;
	}
	if (!real) {
		real = (FILE * (*)(const char *, const char *)) dlsym(RTLD_NEXT, "fopen");
	}
	return real(path, mode);
}

FILE *fopen64(const char *path, const char *mode)
{
	static FILE *(*real)(const char *, const char *);

	if (refused(path)) {
		errno = EACCES;
		return NULL;
	}
	if (!real) {
		real = (FILE * (*)(const char *, const char *)) dlsym(RTLD_NEXT, "fopen64");
	}
	return real(path, mode);
}

static int open_with(const char *sym, const char *path, int flags, va_list ap)
{
	int (*real)(const char *, int, ...) =
		(int (*)(const char *, int, ...))dlsym(RTLD_NEXT, sym);
	mode_t mode = 0;

	if (flags & (O_CREAT | O_TMPFILE)) {
		mode = (mode_t)va_arg(ap, int);
	}
	if (refused(path)) {
		errno = EACCES;
		return -1;
	}
	return real(path, flags, mode);
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	int ret;

	va_start(ap, flags);
	ret = open_with("open", path, flags, ap);
	va_end(ap);
	return ret;
}

int open64(const char *path, int flags, ...)
{
	va_list ap;
	int ret;

	va_start(ap, flags);
	ret = open_with("open64", path, flags, ap);
	va_end(ap);
	return ret;
}
