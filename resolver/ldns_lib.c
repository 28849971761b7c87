/*
 * ldns_lib: the loading of ldns on first use (ldns_lib.h says why).
 *
 * The library is named by its soname (LDNS_SONAME, found by CMake in the libldns it built
 * against), so the loader finds it where it would have found a NEEDED entry. RTLD_NOW: every
 * function is bound at the load, so a missing one is an error then, never later mid-query.
 */
#define LDNS_LIB_IMPL
#include "ldns_lib.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#ifndef LDNS_SONAME
#error "LDNS_SONAME: the soname of libldns, set by resolver/CMakeLists.txt"
#endif

static struct ldns_lib lib;
static int lib_status = -ELIBACC; /* written once, in lib_open, before pthread_once returns */
static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static const struct {
	const char *name;
	size_t off;
} lib_syms[] = {
#define LDNS_LIB_SYM(f) {#f, offsetof(struct ldns_lib, f)},
	LDNS_LIB_FUNCS(LDNS_LIB_SYM)
#undef LDNS_LIB_SYM
};

static void lib_open(void)
{
	void *h = dlopen(LDNS_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		log_err(LOG_MAIN, "cannot load ldns: %s", dlerror());
		return;
	}
	for (size_t i = 0; i < sizeof(lib_syms) / sizeof(lib_syms[0]); i++) {
		void *sym = dlsym(h, lib_syms[i].name);

		if (!sym) {
			log_err(LOG_MAIN, "cannot load ldns: %s has no %s", LDNS_SONAME,
				lib_syms[i].name);
			dlclose(h);
			memset(&lib, 0, sizeof(lib));
			return;
		}
		/* POSIX: a function's address fits a void *; ISO C has no cast between the two. */
		memcpy((char *)&lib + lib_syms[i].off, &sym, sizeof(sym));
	}
	log_debug(LOG_MAIN, "loaded %s", LDNS_SONAME);
	lib_status = 0; /* the handle stays open for the life of the process */
}

int ldns_lib_load(void)
{
	pthread_once(&lib_once, lib_open);
	return lib_status;
}

const struct ldns_lib *ldns_lib_get(void)
{
	if (ldns_lib_load() != 0) {
		fprintf(stderr, "dotd: %s is needed and cannot be loaded\n", LDNS_SONAME);
		abort();
	}
	return &lib;
}
