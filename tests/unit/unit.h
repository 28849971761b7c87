/*
 * unit: the few lines every CUnit test binary shares. A test file defines its tests and calls
 * unit_run() from main(); the exit status is non-zero when any assertion failed.
 */
#pragma once

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

static inline int unit_run(const char *suite, CU_TestInfo *tests)
{
	CU_SuiteInfo suites[] = {
		{.pName = (char *)suite, .pTests = tests},
		CU_SUITE_INFO_NULL,
	};
	unsigned failures;

	if (CU_initialize_registry() != CUE_SUCCESS || CU_register_suites(suites) != CUE_SUCCESS) {
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failures != 0;
}
