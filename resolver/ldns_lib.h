/*
 * ldns_lib: ldns, loaded when it is first needed (dlopen), not when dotd starts.
 *
 * dotd uses ldns off its hot paths only: trust anchor files and rebuilding the rare answers
 * its own wire code does not rewrite (dns_msg.c); the control socket's flush reads names with
 * cache/dns_text.c. Debian's libldns is built with OpenSSL and needs libssl and libcrypto,
 * which dotd never calls (DESIGN.md decision 11: all crypto is wolfSSL's); loading the three at
 * start cost 1.9 MB resident, of which 0.45 MB private (their relocated data), in a daemon that
 * may never need them.
 *
 * The files that call ldns include this instead of <ldns/ldns.h>: each ldns function below is
 * then a pointer into the loaded library. A caller that can fail calls ldns_lib_load() first
 * and fails cleanly without it; a call made without it loads the library or aborts (the
 * library is a dependency: a system without it is a broken install, not bad input).
 * Thread-safe: the first load is done once (pthread_once) for every worker.
 */
#ifndef DOTD_LDNS_LIB_H
#define DOTD_LDNS_LIB_H

/*
 * stdbool.h first: ldns/common.h, when it finds bool undefined, defines _Bool as a signed char,
 * and every struct with a bool in it would then differ between this file's users and the rest.
 */
#include <stdbool.h>

#include <ldns/ldns.h>

/* Every ldns function that dotd's own code calls (not the tests': they link ldns). */
#define LDNS_LIB_FUNCS(X)                                                                          \
	X(ldns_calc_keytag)                                                                        \
	X(ldns_dname2canonical)                                                                    \
	X(ldns_dname_new_frm_str)                                                                  \
	X(ldns_get_errorstr_by_id)                                                                 \
	X(ldns_pkt2wire)                                                                           \
	X(ldns_pkt_additional)                                                                     \
	X(ldns_pkt_answer)                                                                         \
	X(ldns_pkt_authority)                                                                      \
	X(ldns_pkt_edns_data)                                                                      \
	X(ldns_pkt_free)                                                                           \
	X(ldns_pkt_set_ad)                                                                         \
	X(ldns_pkt_set_additional)                                                                 \
	X(ldns_pkt_set_ancount)                                                                    \
	X(ldns_pkt_set_answer)                                                                     \
	X(ldns_pkt_set_arcount)                                                                    \
	X(ldns_pkt_set_authority)                                                                  \
	X(ldns_pkt_set_cd)                                                                         \
	X(ldns_pkt_set_edns_data)                                                                  \
	X(ldns_pkt_set_edns_extended_rcode)                                                        \
	X(ldns_pkt_set_edns_udp_size)                                                              \
	X(ldns_pkt_set_edns_version)                                                               \
	X(ldns_pkt_set_edns_z)                                                                     \
	X(ldns_pkt_set_nscount)                                                                    \
	X(ldns_rdf2native_int16)                                                                   \
	X(ldns_rdf2native_int8)                                                                    \
	X(ldns_rdf_data)                                                                           \
	X(ldns_rdf_deep_free)                                                                      \
	X(ldns_rdf_size)                                                                           \
	X(ldns_rr_clone)                                                                           \
	X(ldns_rr_free)                                                                            \
	X(ldns_rr_get_class)                                                                       \
	X(ldns_rr_get_type)                                                                        \
	X(ldns_rr_list_deep_free)                                                                  \
	X(ldns_rr_list_new)                                                                        \
	X(ldns_rr_list_push_rr)                                                                    \
	X(ldns_rr_list_rr)                                                                         \
	X(ldns_rr_list_rr_count)                                                                   \
	X(ldns_rr_new_frm_fp_l)                                                                    \
	X(ldns_rr_owner)                                                                           \
	X(ldns_rr_rd_count)                                                                        \
	X(ldns_rr_rdf)                                                                             \
	X(ldns_wire2pkt)

/** The loaded library's functions, each with the type ldns declares for it. */
struct ldns_lib {
#define LDNS_LIB_MEMBER(f) __typeof__(f) *f;
	LDNS_LIB_FUNCS(LDNS_LIB_MEMBER)
#undef LDNS_LIB_MEMBER
};

/**
 * Load ldns (LDNS_SONAME) and find its functions, once: 0, or -ELIBACC when the library or a
 * function is missing (logged once, with dlerror()'s words). Later calls return the same.
 */
int ldns_lib_load(void);

/** The functions; loads the library first if need be, and aborts if it cannot. */
const struct ldns_lib *ldns_lib_get(void);

#ifndef LDNS_LIB_IMPL
/* From here on, a call to an ldns function goes through the loaded library. */
#define ldns_calc_keytag		 (ldns_lib_get()->ldns_calc_keytag)
#define ldns_dname2canonical		 (ldns_lib_get()->ldns_dname2canonical)
#define ldns_dname_new_frm_str		 (ldns_lib_get()->ldns_dname_new_frm_str)
#define ldns_get_errorstr_by_id		 (ldns_lib_get()->ldns_get_errorstr_by_id)
#define ldns_pkt2wire			 (ldns_lib_get()->ldns_pkt2wire)
#define ldns_pkt_additional		 (ldns_lib_get()->ldns_pkt_additional)
#define ldns_pkt_answer			 (ldns_lib_get()->ldns_pkt_answer)
#define ldns_pkt_authority		 (ldns_lib_get()->ldns_pkt_authority)
#define ldns_pkt_edns_data		 (ldns_lib_get()->ldns_pkt_edns_data)
#define ldns_pkt_free			 (ldns_lib_get()->ldns_pkt_free)
#define ldns_pkt_set_ad			 (ldns_lib_get()->ldns_pkt_set_ad)
#define ldns_pkt_set_additional		 (ldns_lib_get()->ldns_pkt_set_additional)
#define ldns_pkt_set_ancount		 (ldns_lib_get()->ldns_pkt_set_ancount)
#define ldns_pkt_set_answer		 (ldns_lib_get()->ldns_pkt_set_answer)
#define ldns_pkt_set_arcount		 (ldns_lib_get()->ldns_pkt_set_arcount)
#define ldns_pkt_set_authority		 (ldns_lib_get()->ldns_pkt_set_authority)
#define ldns_pkt_set_cd			 (ldns_lib_get()->ldns_pkt_set_cd)
#define ldns_pkt_set_edns_data		 (ldns_lib_get()->ldns_pkt_set_edns_data)
#define ldns_pkt_set_edns_extended_rcode (ldns_lib_get()->ldns_pkt_set_edns_extended_rcode)
#define ldns_pkt_set_edns_udp_size	 (ldns_lib_get()->ldns_pkt_set_edns_udp_size)
#define ldns_pkt_set_edns_version	 (ldns_lib_get()->ldns_pkt_set_edns_version)
#define ldns_pkt_set_edns_z		 (ldns_lib_get()->ldns_pkt_set_edns_z)
#define ldns_pkt_set_nscount		 (ldns_lib_get()->ldns_pkt_set_nscount)
#define ldns_rdf2native_int16		 (ldns_lib_get()->ldns_rdf2native_int16)
#define ldns_rdf2native_int8		 (ldns_lib_get()->ldns_rdf2native_int8)
#define ldns_rdf_data			 (ldns_lib_get()->ldns_rdf_data)
#define ldns_rdf_deep_free		 (ldns_lib_get()->ldns_rdf_deep_free)
#define ldns_rdf_size			 (ldns_lib_get()->ldns_rdf_size)
#define ldns_rr_clone			 (ldns_lib_get()->ldns_rr_clone)
#define ldns_rr_free			 (ldns_lib_get()->ldns_rr_free)
#define ldns_rr_get_class		 (ldns_lib_get()->ldns_rr_get_class)
#define ldns_rr_get_type		 (ldns_lib_get()->ldns_rr_get_type)
#define ldns_rr_list_deep_free		 (ldns_lib_get()->ldns_rr_list_deep_free)
#define ldns_rr_list_new		 (ldns_lib_get()->ldns_rr_list_new)
#define ldns_rr_list_push_rr		 (ldns_lib_get()->ldns_rr_list_push_rr)
#define ldns_rr_list_rr			 (ldns_lib_get()->ldns_rr_list_rr)
#define ldns_rr_list_rr_count		 (ldns_lib_get()->ldns_rr_list_rr_count)
#define ldns_rr_new_frm_fp_l		 (ldns_lib_get()->ldns_rr_new_frm_fp_l)
#define ldns_rr_owner			 (ldns_lib_get()->ldns_rr_owner)
#define ldns_rr_rd_count		 (ldns_lib_get()->ldns_rr_rd_count)
#define ldns_rr_rdf			 (ldns_lib_get()->ldns_rr_rdf)
#define ldns_wire2pkt			 (ldns_lib_get()->ldns_wire2pkt)
#endif

#endif
