# Run FUZZER for RUNS inputs over a copy of CORPUS in WORK (the repository is never written).
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
file(GLOB seeds ${CORPUS}/*)
file(COPY ${seeds} DESTINATION ${WORK})
execute_process(COMMAND ${FUZZER} -runs=${RUNS} -max_len=4096 -timeout=10 -rss_limit_mb=1024
		-print_final_stats=1 ${WORK}
	RESULT_VARIABLE status)
if(NOT status EQUAL 0)
	message(FATAL_ERROR "${FUZZER} failed (${status}); the input is in the working directory")
endif()
