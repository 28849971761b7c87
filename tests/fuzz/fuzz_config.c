/*
 * fuzz_config: config_load_string on any text, its complaints written to /dev/null (so that the
 * reporting runs too). What loads must print (config_print, dotd -i) as YAML that loads again
 * and prints the same: a configuration dotd accepts is one it can show, and what it shows means
 * what it loaded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* config_print into a string of its own; *@len is its length. */
static char *print(const struct config *cfg, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	CHECK(f != NULL);
	config_print(cfg, f);
	CHECK(fclose(f) == 0 && text != NULL);
	return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	struct config *cfg = NULL, *again = NULL;
	char *text, *text2;
	size_t len, len2;

	if (!devnull) {
		devnull = fopen("/dev/null", "w");
		CHECK(devnull != NULL);
	}
	if (config_load_string((const char *)data, size, "fuzz", &cfg, devnull) != 0) {
		return 0;
	}
	text = print(cfg, &len);
	/* dotd -i printed something dotd -C refuses? */
	CHECK(config_load_string(text, len, "fuzz", &again, devnull) == 0);
	text2 = print(again, &len2);
	CHECK(len == len2 && memcmp(text, text2, len) == 0);
	config_free(again);
	config_free(cfg);
	free(text);
	free(text2);
	return 0;
}
