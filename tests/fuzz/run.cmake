# Run FUZZER for RUNS inputs (from libFuzzer seed SEED, with dictionary DICT) over a copy of
# CORPUS in WORK: the repository is never written. A failure leaves its input in WORK.
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/corpus)
file(GLOB seeds ${CORPUS}/*)
file(COPY ${seeds} DESTINATION ${WORK}/corpus)
execute_process(COMMAND ${FUZZER} -runs=${RUNS} -seed=${SEED} -dict=${DICT} -max_len=4096
		-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=${WORK}/
		${WORK}/corpus
	WORKING_DIRECTORY ${WORK}
	RESULT_VARIABLE status)
if(NOT status EQUAL 0)
	message(FATAL_ERROR "${FUZZER} failed (${status}); its input is in ${WORK}")
endif()
