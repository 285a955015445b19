/* The udp overlay backend's packet loop (udp_proxy.c), without N-API: tscni_native.c wraps it. */
#ifndef TSCNI_UDP_PROXY_H
#define TSCNI_UDP_PROXY_H

#include <stddef.h>
#include <stdint.h>

/* A peer's subnet and its node's address, both in network byte order. */
struct udp_proxy_route {
  uint32_t network;
  uint32_t next_hop;
  int prefix;
};

/*
 * What the loop counts. UNKNOWN_SOURCE: datagrams from an address that is no
 * route's next hop (not a node of the cluster); OVERSIZED: datagrams larger
 * than a slot, dropped rather than written cut short; SOCKET_ERRORS: errors
 * the socket reported (POLLERR), read and cleared; LANES_STOPPED: threads
 * that stopped because their fd failed (the TUN device went away), after
 * which the caller must start the loop anew.
 */
enum {
  UDP_PROXY_TO_PEERS, UDP_PROXY_FROM_PEERS, UDP_PROXY_NO_ROUTE, UDP_PROXY_SEND_ERRORS, UDP_PROXY_TUN_ERRORS,
  UDP_PROXY_UNKNOWN_SOURCE, UDP_PROXY_OVERSIZED, UDP_PROXY_SOCKET_ERRORS, UDP_PROXY_LANES_STOPPED, UDP_PROXY_COUNTERS
};

struct udp_proxy;

/* Binds a UDP socket to address:port (address in network order) and starts the threads; 0 or an errno. */
int udp_proxy_start(int tun, uint32_t address, uint16_t port, struct udp_proxy **out);
/* Replaces the route table, and with it the sources datagrams are taken from; 0 or ENOMEM. */
int udp_proxy_set_routes(struct udp_proxy *p, const struct udp_proxy_route *routes, size_t n);
void udp_proxy_counters(struct udp_proxy *p, uint64_t out[UDP_PROXY_COUNTERS]);
/* Stops and joins the threads, closes the socket; the TUN fd stays the caller's. */
void udp_proxy_stop(struct udp_proxy *p);

#endif
