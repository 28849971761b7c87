/*
 * test_dl: the deadline lists of resolver.h. The query timer looks only at each list's head,
 * so a list must stay sorted by due time: also after a reload shortened a timeout, when a
 * node due earlier is appended behind nodes of the old, longer duration.
 */
#include <CUnit/Basic.h>

#include "resolver.h"

#define N 6

static void check_sorted(const struct dl_list *l, size_t n)
{
	size_t count = 0;
	uint64_t last = 0;

	for (const struct dl_node *x = l->head; x; x = x->next) {
		CU_ASSERT(x->at >= last);
		CU_ASSERT(x->next || l->tail == x);
		CU_ASSERT(!x->next || x->next->prev == x);
		last = x->at;
		count++;
	}
	CU_ASSERT_EQUAL(count, n);
}

/* One duration: every node goes to the tail, in order. */
static void test_append_same_duration(void)
{
	struct dl_list l = {0};
	struct dl_node n[N] = {{0}};

	for (size_t i = 0; i < N; i++) {
		dl_append(&l, &n[i], 1000 + i * 10 + 5000);
		CU_ASSERT_PTR_EQUAL(l.tail, &n[i]);
	}
	CU_ASSERT_PTR_EQUAL(l.head, &n[0]);
	check_sorted(&l, N);
}

/* The timeout went from 5000 to 1000 ms: the new nodes pass the old ones. */
static void test_append_shorter_duration(void)
{
	struct dl_list l = {0};
	struct dl_node n[N] = {{0}};

	dl_append(&l, &n[0], 100 + 5000);
	dl_append(&l, &n[1], 200 + 5000);
	dl_append(&l, &n[2], 300 + 1000); /* due at 1300: before both */
	CU_ASSERT_PTR_EQUAL(l.head, &n[2]);
	dl_append(&l, &n[3], 400 + 1000);
	CU_ASSERT_PTR_EQUAL(l.head->next, &n[3]);
	dl_append(&l, &n[4], 6000); /* between */
	dl_append(&l, &n[5], 5100); /* equal to n[0]: after it */
	check_sorted(&l, N);
	CU_ASSERT_PTR_EQUAL(n[0].next, &n[5]);
	CU_ASSERT_PTR_EQUAL(l.tail, &n[4]);

	/* Moving a node (a try restarted) and removing keep the list whole. */
	dl_append(&l, &n[2], 5150);
	check_sorted(&l, N);
	dl_remove(&l, &n[4]);
	dl_remove(&l, &n[3]);
	check_sorted(&l, N - 2);
	CU_ASSERT_PTR_EQUAL(l.head, &n[0]);
	CU_ASSERT_FALSE(n[3].linked);
}

/* The client TCP list: all at 0, appended as they are active, least recent at the head. */
static void test_lru(void)
{
	struct dl_list l = {0};
	struct dl_node n[3] = {{0}};

	for (size_t i = 0; i < 3; i++) {
		dl_append(&l, &n[i], 0);
	}
	dl_append(&l, &n[0], 0); /* n[0] active again */
	CU_ASSERT_PTR_EQUAL(l.head, &n[1]);
	CU_ASSERT_PTR_EQUAL(l.tail, &n[0]);
	check_sorted(&l, 3);
}

int main(void)
{
	CU_pSuite suite;
	unsigned failed;

	if (CU_initialize_registry() != CUE_SUCCESS) {
		return 1;
	}
	suite = CU_add_suite("dl", NULL, NULL);
	if (!suite || !CU_add_test(suite, "append, one duration", test_append_same_duration) ||
	    !CU_add_test(suite, "append after a shorter timeout", test_append_shorter_duration) ||
	    !CU_add_test(suite, "least recently active first", test_lru)) {
		CU_cleanup_registry();
		return 1;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
