/*
 * tls_tickets: the session tickets of every upstream, shared by the workers (DESIGN.md,
 * decision 12). Each worker has its own tls_upstream objects, its own connections; a ticket is
 * kept under the upstream's pool key (resolver/upstream.c: address or host name, port,
 * authentication name, pins, strictness, trust anchors, TLS versions), so that a ticket one
 * worker was given resumes the first connection of another, and is never offered to a server
 * under another key: a resumed session carries the authentication of the handshake that made
 * it (tls_auth.c), so its key must say everything that handshake checked.
 *
 * One mutex guards the table; it is taken once per ticket stored and per connection made, never
 * on the query path. The sessions are owned by the store while in it and by the taker after.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tls_int.h"

/* Keys kept; past this the least recently stored-to goes (a reload that changed upstreams). */
#define TICKETS_KEYS_MAX 256

struct tickets_entry {
	struct tickets_entry *next;
	char *key; /**< owned */
	struct tls_sessions sessions;
	unsigned resume_failures; /**< resumptions under this key failed in a row, any worker's */
	bool refused;		  /**< that reached the limit: nothing stored or offered (below) */
};

struct tls_tickets {
	pthread_mutex_t lock;
	struct tickets_entry *entries; /**< most recently stored-to first */
	size_t n_entries;
};

int tls_tickets_new(struct tls_tickets **out)
{
	struct tls_tickets *t = calloc(1, sizeof(*t));

	if (!t) {
		return -ENOMEM;
	}
	if (pthread_mutex_init(&t->lock, NULL) != 0) {
		free(t);
		return -ENOMEM;
	}
	*out = t;
	return 0;
}

WOLFSSL_SESSION *tls_sessions_take(struct tls_sessions *l)
{
	if (l->n == 0) {
		return NULL;
	}
	if (l->n == 1) {
		return wolfSSL_SESSION_dup(l->s[0]);
	}
	return l->s[--l->n];
}

void tls_sessions_put(struct tls_sessions *l, WOLFSSL_SESSION *s)
{
	if (l->n == TLS_SESSIONS) {
		wolfSSL_SESSION_free(l->s[0]);
		memmove(l->s, l->s + 1, (TLS_SESSIONS - 1) * sizeof(l->s[0]));
		l->n--;
	}
	l->s[l->n++] = s;
}

void tls_sessions_drop(struct tls_sessions *l)
{
	for (unsigned i = 0; i < l->n; i++) {
		wolfSSL_SESSION_free(l->s[i]);
	}
	l->n = 0;
}

void tls_tickets_free(struct tls_tickets *t)
{
	struct tickets_entry *e, *next;

	if (!t) {
		return;
	}
	for (e = t->entries; e; e = next) {
		next = e->next;
		tls_sessions_drop(&e->sessions);
		free(e->key);
		free(e);
	}
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* The entry of @key, moved to the front; made when @make. Under the lock. */
static struct tickets_entry *entry_find(struct tls_tickets *t, const char *key, bool make)
{
	struct tickets_entry **pp, *e;

	for (pp = &t->entries; (e = *pp); pp = &e->next) {
		if (strcmp(e->key, key) == 0) {
			*pp = e->next;
			e->next = t->entries;
			t->entries = e;
			return e;
		}
	}
	if (!make) {
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e || !(e->key = strdup(key))) {
		free(e);
		return NULL;
	}
	if (t->n_entries == TICKETS_KEYS_MAX) {
		/* The last one is the least recently stored-to. */
		for (pp = &t->entries; (*pp)->next; pp = &(*pp)->next) {
		}
		tls_sessions_drop(&(*pp)->sessions);
		free((*pp)->key);
		free(*pp);
		*pp = NULL;
		t->n_entries--;
	}
	e->next = t->entries;
	t->entries = e;
	t->n_entries++;
	return e;
}

WOLFSSL_SESSION *tls_tickets_take(struct tls_tickets *t, const char *key)
{
	WOLFSSL_SESSION *s = NULL;
	struct tickets_entry *e;

	pthread_mutex_lock(&t->lock);
	e = entry_find(t, key, false);
	if (e && !e->refused) {
		s = tls_sessions_take(&e->sessions);
	}
	pthread_mutex_unlock(&t->lock);
	return s;
}

bool tls_tickets_put(struct tls_tickets *t, const char *key, WOLFSSL_SESSION *s)
{
	struct tickets_entry *e;

	pthread_mutex_lock(&t->lock);
	e = entry_find(t, key, true);
	if (e && e->refused) {
		e = NULL; /* the server fails its own tickets: not kept for another worker */
	} else if (e) {
		tls_sessions_put(&e->sessions, s);
	}
	pthread_mutex_unlock(&t->lock);
	if (!e) {
		wolfSSL_SESSION_free(s); /* out of memory: the next connection pays a handshake */
	}
	return e != NULL;
}

/*
 * The workers learn together that a server fails the tickets it issued (tls_upstream.c,
 * tls_upstream_resumption_failed()): each failed resumption under @key, whichever worker made
 * it, counts towards @max, and at @max no worker stores or offers a ticket under it. Learnt
 * alone, it cost each worker @max failed handshakes, and again after each reload.
 */
bool tls_tickets_resume_failed(struct tls_tickets *t, const char *key, unsigned max, bool *now)
{
	struct tickets_entry *e;
	bool refused = false;

	*now = false;
	pthread_mutex_lock(&t->lock);
	e = entry_find(t, key, true);
	if (e) {
		tls_sessions_drop(&e->sessions);
		if (!e->refused && ++e->resume_failures >= max) {
			e->refused = true;
			*now = true;
		}
		refused = e->refused;
	}
	pthread_mutex_unlock(&t->lock);
	return refused;
}

bool tls_tickets_resume_refused(struct tls_tickets *t, const char *key)
{
	struct tickets_entry *e;
	bool refused;

	pthread_mutex_lock(&t->lock);
	e = entry_find(t, key, false);
	refused = e && e->refused;
	pthread_mutex_unlock(&t->lock);
	return refused;
}

void tls_tickets_resume_reset(struct tls_tickets *t, const char *key, bool refusal_too)
{
	struct tickets_entry *e;

	pthread_mutex_lock(&t->lock);
	e = entry_find(t, key, false);
	if (e) {
		e->resume_failures = 0;
		if (refusal_too) {
			e->refused = false;
		}
	}
	pthread_mutex_unlock(&t->lock);
}

void tls_tickets_drop(struct tls_tickets *t, const char *key)
{
	struct tickets_entry *e;

	pthread_mutex_lock(&t->lock);
	e = entry_find(t, key, false);
	if (e) {
		tls_sessions_drop(&e->sessions);
	}
	pthread_mutex_unlock(&t->lock);
}

size_t tls_tickets_count(struct tls_tickets *t, const char *key)
{
	struct tickets_entry *e;
	size_t n;

	pthread_mutex_lock(&t->lock);
	e = entry_find(t, key, false);
	n = e ? e->sessions.n : 0;
	pthread_mutex_unlock(&t->lock);
	return n;
}
