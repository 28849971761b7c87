/*
 * lib_floor: the resident memory that dotd's shared libraries cost before dotd runs a line of
 * its own (tests/bench/rss.sh, docs/ARCHITECTURE.md "Memory"). It is linked with the libraries
 * dotd is linked with, and with the same flags (BIND_NOW), but calls none of them: what it
 * holds is the dynamic loader's work (every relocation of every library applied, their
 * constructors run) and the pages that work touched. It waits for a signal.
 */
#include <unistd.h>

int main(void)
{
	pause();
	return 0;
}
