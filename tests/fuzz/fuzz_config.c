/*
 * fuzz_config: config_load_string on any text. What loads must print (config_print) as YAML
 * that loads again: a configuration dotd accepts is always one it can show with -i.
 */
#include <stdio.h>
#include <stdlib.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg = NULL, *again = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (config_load_string((const char *)data, size, "fuzz", &cfg, NULL) != 0) {
		return 0;
	}
	f = open_memstream(&text, &len);
	if (!f) {
		abort();
	}
	config_print(cfg, f);
	fclose(f);
	if (config_load_string(text, len, "printed", &again, NULL) != 0) {
		abort(); /* dotd -i printed something dotd -C refuses */
	}
	config_free(again);
	config_free(cfg);
	free(text);
	return 0;
}
