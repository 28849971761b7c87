/*
 * listen: the client side's listeners, as the resolver sets them up, changes them on reload
 * and closes them (listen.c). Each UDP listener and each client TCP connection it accepts is
 * an origin (origin.h), the only way the query pipeline reaches them; nothing here is for
 * query.c.
 *
 * Ownership: struct resolver owns the listeners (r->listeners) and the client TCP connections
 * (r->tcp_clients). A listener closed by a reload is freed once its handles have closed and no
 * query holds it; a client TCP connection goes on after its listener closed, until idle.
 */
#pragma once

#include <stdio.h>

struct config_listen;
struct listener;
struct resolver;

/**
 * Set up what the listeners share (the TCP work handle, the table of UDP sources); part of
 * resolver_start().
 */
int listener_init(struct resolver *r);

/** Open and bind UDP and TCP on @addr. */
int listener_open(struct resolver *r, const struct config_listen *addr);

/** The listener bound to @addr, or NULL. */
struct listener *listener_find(struct resolver *r, const struct config_listen *addr);

/** Stop listening on @l (a reload removed it); client TCP connections it accepted go on. */
void listener_close(struct resolver *r, struct listener *l);

const char *listener_name(const struct listener *l);

/**
 * Make the listeners those of r->cfg (a reload): the ones no longer configured close, their TCP
 * clients going on until idle; new ones are bound if the process still may. Returns how many
 * could not be bound, each named in @msgs.
 */
size_t listener_apply(struct resolver *r, FILE *msgs);

/** Close every listener and client connection. */
void listener_close_all(struct resolver *r);

/** Free what listener_init() made (resolver_free, after the loop has ended). */
void listener_free(struct resolver *r);
