/*
 * The udp overlay backend's packet loop (flannel's proxy): two threads, one
 * per direction, that move IP packets between a TUN device and a UDP socket. A packet read from
 * the TUN goes, whole and unchanged, as the payload of one datagram to the
 * node whose subnet holds its destination (longest-prefix match in the
 * route table the agent sets); a datagram from the socket is written to the
 * TUN when it comes from a node of that table (a next hop): the port is
 * reachable from anywhere on the underlay, and anything written into the
 * TUN reaches the pods as if routed by the cluster. Both directions work in batches: up to BATCH TUN reads, then one
 * sendmmsg; one recvmmsg, then the TUN writes. No allocation per packet.
 * The thread touches no JavaScript state: the agent sets routes and reads
 * counters through the functions below, under the table's mutex.
 */
#define _GNU_SOURCE
#include "udp_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64
/* the largest packet a TUN with a jumbo underlay carries, with room to spare */
#define SLOT 9216
#define SOCKET_BUFFER (4 * 1024 * 1024)

/* One direction's thread and its batch. */
struct lane {
  pthread_t thread;
  int started;
  char *bufs;
  struct mmsghdr msgs[BATCH];
  struct iovec iovs[BATCH];
  struct sockaddr_in peers[BATCH];
};

struct udp_proxy {
  int tun, sock, wake[2];
  uint16_t port; /* network order */
  pthread_mutex_t lock;
  struct udp_proxy_route *routes; /* longest prefix first */
  size_t nroutes;
  uint32_t *sources; /* the routes' next hops, sorted, each once */
  size_t nsources;
  uint64_t counters[UDP_PROXY_COUNTERS];
  struct lane out, in;
};

static void count(struct udp_proxy *p, int which, uint64_t n) {
  __atomic_add_fetch(&p->counters[which], n, __ATOMIC_RELAXED);
}

static uint32_t mask_of(int prefix) {
  return prefix == 0 ? 0 : htonl(~(uint32_t)0 << (32 - prefix));
}

/* Caller holds the lock. */
static const struct udp_proxy_route *lookup(const struct udp_proxy *p, uint32_t dst) {
  for (size_t i = 0; i < p->nroutes; i++) {
    if ((dst & mask_of(p->routes[i].prefix)) == p->routes[i].network) return &p->routes[i];
  }
  return NULL;
}

static int compare_addresses(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* Caller holds the lock. */
static int known_source(const struct udp_proxy *p, uint32_t address) {
  return p->nsources > 0 && bsearch(&address, p->sources, p->nsources, sizeof address, compare_addresses) != NULL;
}

/* Sends msgs[0..n); a full send buffer is waited for briefly, then what is left is dropped as UDP would. */
static void send_all(struct udp_proxy *p, struct lane *l, unsigned n) {
  unsigned done = 0;
  int waited = 0;
  while (done < n) {
    int sent = sendmmsg(p->sock, l->msgs + done, n - done, 0);
    if (sent > 0) {
      done += (unsigned)sent;
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !waited) {
      struct pollfd out = {p->sock, POLLOUT, 0};
      poll(&out, 1, 10);
      waited = 1;
      continue;
    }
    /* an unreachable peer (ICMP error) costs one packet, not the batch */
    if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      count(p, UDP_PROXY_SEND_ERRORS, 1);
      done++;
      continue;
    }
    break;
  }
  count(p, UDP_PROXY_TO_PEERS, done);
  if (done < n) count(p, UDP_PROXY_SEND_ERRORS, n - done);
}

static void tun_to_peers(struct udp_proxy *p) {
  struct lane *l = &p->out;
  for (int more = 1; more;) {
    unsigned n = 0;
    more = 0;
    pthread_mutex_lock(&p->lock);
    for (int i = 0; i < BATCH; i++) {
      char *slot = l->bufs + (size_t)n * SLOT;
      ssize_t len = read(p->tun, slot, SLOT);
      if (len < 0 && errno == EINTR) { i--; continue; }
      if (len < 20) break; /* EAGAIN: drained; shorter than an IPv4 header: not ours */
      if (i == BATCH - 1) more = 1;
      if ((slot[0] >> 4) != 4) continue; /* IPv6: flannel's udp backend carries IPv4 only */
      uint32_t dst;
      memcpy(&dst, slot + 16, 4);
      const struct udp_proxy_route *r = lookup(p, dst);
      if (!r) {
        count(p, UDP_PROXY_NO_ROUTE, 1);
        continue;
      }
      l->iovs[n].iov_base = slot;
      l->iovs[n].iov_len = (size_t)len;
      l->peers[n].sin_addr.s_addr = r->next_hop;
      n++;
    }
    pthread_mutex_unlock(&p->lock);
    if (n > 0) send_all(p, l, n);
  }
}

static void peers_to_tun(struct udp_proxy *p) {
  struct lane *l = &p->in;
  for (int more = 1; more;) {
    for (int i = 0; i < BATCH; i++) l->msgs[i].msg_hdr.msg_namelen = sizeof l->peers[i];
    int got = recvmmsg(p->sock, l->msgs, BATCH, MSG_DONTWAIT, NULL);
    if (got <= 0) return;
    more = got == BATCH;
    char known[BATCH];
    pthread_mutex_lock(&p->lock);
    for (int i = 0; i < got; i++) known[i] = known_source(p, l->peers[i].sin_addr.s_addr);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < got; i++) {
      if (!known[i]) {
        count(p, UDP_PROXY_UNKNOWN_SOURCE, 1);
        continue;
      }
      /* a packet cut to the slot would reach the pod corrupted: drop it whole */
      if (l->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
        count(p, UDP_PROXY_OVERSIZED, 1);
        continue;
      }
      ssize_t w;
      do w = write(p->tun, l->iovs[i].iov_base, l->msgs[i].msg_len); while (w < 0 && errno == EINTR);
      count(p, w < 0 ? UDP_PROXY_TUN_ERRORS : UDP_PROXY_FROM_PEERS, 1);
    }
  }
}

/*
 * Waits on `fd` (or the wake pipe, which stops both lanes) and moves what it
 * can read. An error the socket reports (POLLERR) is read, which clears it,
 * and counted; an fd that fails for good (the TUN device deleted under it)
 * stops the lane, counted, so the caller sees the loop is broken.
 */
static void serve(struct udp_proxy *p, int fd, void (*move)(struct udp_proxy *)) {
  struct pollfd fds[2] = {{fd, POLLIN, 0}, {p->wake[0], POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents) return;
    if (fd == p->sock && (fds[0].revents & POLLERR)) {
      int err = 0;
      socklen_t len = sizeof err;
      if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) break;
      /* no pending error: the report sits on the error queue, and must be taken off it */
      char discard[256];
      if (err == 0 && recv(fd, discard, sizeof discard, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) break;
      count(p, UDP_PROXY_SOCKET_ERRORS, 1);
      continue;
    }
    if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) break;
    if (fds[0].revents & POLLIN) move(p);
  }
  count(p, UDP_PROXY_LANES_STOPPED, 1);
}

static void *run_out(void *arg) {
  struct udp_proxy *p = arg;
  serve(p, p->tun, tun_to_peers);
  return NULL;
}

static void *run_in(void *arg) {
  struct udp_proxy *p = arg;
  serve(p, p->sock, peers_to_tun);
  return NULL;
}

/* Buffers and message headers of a lane; `out` lanes name the peers they send to, `in` lanes learn the senders. */
static int init_lane(struct lane *l, uint16_t port, int out) {
  l->bufs = malloc((size_t)BATCH * SLOT);
  if (!l->bufs) return ENOMEM;
  for (int i = 0; i < BATCH; i++) {
    l->iovs[i].iov_base = l->bufs + (size_t)i * SLOT;
    l->iovs[i].iov_len = SLOT;
    l->msgs[i].msg_hdr.msg_iov = &l->iovs[i];
    l->msgs[i].msg_hdr.msg_iovlen = 1;
    l->peers[i].sin_family = AF_INET;
    l->peers[i].sin_port = out ? port : 0;
    l->msgs[i].msg_hdr.msg_name = &l->peers[i];
    l->msgs[i].msg_hdr.msg_namelen = sizeof l->peers[i];
  }
  return 0;
}

static void stop_lanes(struct udp_proxy *p) {
  char byte = 1;
  ssize_t w;
  do w = write(p->wake[1], &byte, 1); while (w < 0 && errno == EINTR);
  if (p->out.started) pthread_join(p->out.thread, NULL);
  if (p->in.started) pthread_join(p->in.thread, NULL);
}

static void free_proxy(struct udp_proxy *p) {
  if (p->sock >= 0) close(p->sock);
  if (p->wake[0] >= 0) close(p->wake[0]);
  if (p->wake[1] >= 0) close(p->wake[1]);
  pthread_mutex_destroy(&p->lock);
  free(p->routes);
  free(p->sources);
  free(p->out.bufs);
  free(p->in.bufs);
  free(p);
}

int udp_proxy_start(int tun, uint32_t address, uint16_t port, struct udp_proxy **out) {
  struct udp_proxy *p = calloc(1, sizeof *p);
  if (!p) return ENOMEM;
  p->tun = tun;
  p->sock = p->wake[0] = p->wake[1] = -1;
  p->port = htons(port);
  pthread_mutex_init(&p->lock, NULL);
  int err = 0, size = SOCKET_BUFFER;
  struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = address};
  if ((err = init_lane(&p->out, p->port, 1)) || (err = init_lane(&p->in, p->port, 0))) {
    /* out of memory */
  } else if ((p->sock = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) err = errno;
  /* no SO_REUSEADDR: another socket on this address:port would take the overlay's datagrams */
  else if (bind(p->sock, (struct sockaddr *)&local, sizeof local) != 0) err = errno;
  else if (pipe2(p->wake, O_CLOEXEC) != 0) err = errno;
  if (!err) {
    /* root may pass net.core.[rw]mem_max; the kernel's defaults are the fallback */
    if (setsockopt(p->sock, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
      setsockopt(p->sock, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (setsockopt(p->sock, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
      setsockopt(p->sock, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    /* signals stay with the runtime's threads */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    err = pthread_create(&p->out.thread, NULL, run_out, p);
    p->out.started = !err;
    if (!err) {
      err = pthread_create(&p->in.thread, NULL, run_in, p);
      p->in.started = !err;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err) stop_lanes(p);
  }
  if (err) {
    free_proxy(p);
    return err;
  }
  *out = p;
  return 0;
}

static int longer_first(const void *a, const void *b) {
  return ((const struct udp_proxy_route *)b)->prefix - ((const struct udp_proxy_route *)a)->prefix;
}

int udp_proxy_set_routes(struct udp_proxy *p, const struct udp_proxy_route *routes, size_t n) {
  struct udp_proxy_route *copy = NULL;
  uint32_t *sources = NULL;
  size_t nsources = 0;
  if (n > 0) {
    copy = malloc(n * sizeof *copy);
    sources = malloc(n * sizeof *sources);
    if (!copy || !sources) {
      free(copy);
      free(sources);
      return ENOMEM;
    }
    memcpy(copy, routes, n * sizeof *copy);
    for (size_t i = 0; i < n; i++) {
      copy[i].network &= mask_of(copy[i].prefix);
      sources[i] = copy[i].next_hop;
    }
    qsort(copy, n, sizeof *copy, longer_first);
    qsort(sources, n, sizeof *sources, compare_addresses);
    for (size_t i = 0; i < n; i++) {
      if (nsources == 0 || sources[nsources - 1] != sources[i]) sources[nsources++] = sources[i];
    }
  }
  pthread_mutex_lock(&p->lock);
  struct udp_proxy_route *old = p->routes;
  uint32_t *old_sources = p->sources;
  p->routes = copy;
  p->nroutes = n;
  p->sources = sources;
  p->nsources = nsources;
  pthread_mutex_unlock(&p->lock);
  free(old);
  free(old_sources);
  return 0;
}

void udp_proxy_counters(struct udp_proxy *p, uint64_t out[UDP_PROXY_COUNTERS]) {
  for (int i = 0; i < UDP_PROXY_COUNTERS; i++) out[i] = __atomic_load_n(&p->counters[i], __ATOMIC_RELAXED);
}

void udp_proxy_stop(struct udp_proxy *p) {
  stop_lanes(p);
  free_proxy(p);
}
