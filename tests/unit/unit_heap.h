/*
 * unit_heap: the bytes of heap in use, for the tests that bound what code keeps allocated
 * (test_dnssec_mem, test_tls_heap). AddressSanitizer has its own allocator: glibc's counters
 * say nothing then, and the sanitizer's are read instead.
 */
#pragma once

#include <malloc.h>
#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define HEAP_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEAP_SANITIZER 1
#endif
#endif

#ifdef HEAP_SANITIZER
/* The sanitizer runtime's (sanitizer/allocator_interface.h, which gcc does not install). */
size_t __sanitizer_get_current_allocated_bytes(void);

static inline size_t heap_in_use(void)
{
	return __sanitizer_get_current_allocated_bytes();
}
#else
static inline size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}
#endif
