/*
 * The system calls Node does not expose and tscni cannot do without:
 *   setns(2)    enter a network namespace on the calling (main) thread, so that
 *               netlink sockets, /proc/sys/net writes and spawned children made
 *               afterwards belong to that namespace (lib/netns);
 *   flock(2)    the whole-file lock the reference host-local takes on its
 *               dataDir/<network>/lock, so that both can share a store (lib/ipam);
 *   netlink     a blocking AF_NETLINK socket: open, send, receive, close
 *               (lib/netlink). A plugin asks and then waits for the answer, so
 *               it needs no event loop, and the socket is made on the calling
 *               thread, in the namespace withNetns entered;
 *   posix_spawn run a helper program (nft) to completion, with a deadline;
 *   AF_UNIX     a blocking stream connection to a local socket (the node
 *               agent's), read and written with fs' sync calls, so that a
 *               plugin asking the agent loads no networking module either;
 *               and, for the agent's side, the credentials of who connected;
 *   TUNSETIFF   a TUN device for the overlay's udp backend, and that backend's
 *               packet loop (udp_proxy.c, threads of its own) started, given
 *               routes, read and stopped.
 * All are synchronous on purpose: the callers rely on nothing else running
 * between the call and their next statement. Every N-API call is checked: a
 * failure throws (or leaves the exception N-API already set) and releases
 * what the call had taken.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <node_api.h>
#include "udp_proxy.h"

extern char **environ;

/* Bails out of a function returning napi_value when an N-API call fails; the
 * pending exception (N-API's own, or ours) reaches the caller. */
#define NAPI_OK(call)                                                   \
  do {                                                                  \
    if ((call) != napi_ok) return throw_napi_failure(env, #call);       \
  } while (0)

static napi_value throw_napi_failure(napi_env env, const char *what) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return NULL;
  const napi_extended_error_info *info = NULL;
  char text[256];
  napi_get_last_error_info(env, &info);
  snprintf(text, sizeof text, "tscni native: %s failed: %s", what,
           info && info->error_message ? info->error_message : "unknown N-API error");
  napi_throw_error(env, "ERR_NAPI", text);
  return NULL;
}

static napi_value throw_errno(napi_env env, const char *syscall, int err) {
  napi_value code, msg, error, num, sc;
  char text[160];
  snprintf(text, sizeof text, "%s: %s", syscall, strerror(err));
  NAPI_OK(napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg));
  NAPI_OK(napi_create_string_utf8(env, "ERR_SYSCALL", NAPI_AUTO_LENGTH, &code));
  NAPI_OK(napi_create_error(env, code, msg, &error));
  NAPI_OK(napi_create_int32(env, err, &num));
  NAPI_OK(napi_set_named_property(env, error, "errno", num));
  NAPI_OK(napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sc));
  NAPI_OK(napi_set_named_property(env, error, "syscall", sc));
  napi_throw(env, error);
  return NULL;
}

static napi_value throw_type(napi_env env, const char *text) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", text);
  return NULL;
}

/* Exactly `want` leading int32 arguments (more may follow); -1 with a TypeError thrown otherwise. */
static int int_args(napi_env env, napi_callback_info info, int32_t *out, size_t want, const char *usage) {
  napi_value argv[4];
  size_t argc = 4;
  if (want > 4 || napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    throw_type(env, usage);
    return -1;
  }
  for (size_t i = 0; i < want; i++) {
    if (napi_get_value_int32(env, argv[i], &out[i]) != napi_ok) {
      throw_type(env, usage);
      return -1;
    }
  }
  return 0;
}

/*
 * The end of every call that opens and sets up an fd: the fd as a number, or,
 * when a set-up step failed (its errno still current), the fd closed and the
 * step named in the error, so a failed open never leaks a descriptor.
 */
static napi_value fd_or_throw(napi_env env, int fd, const char *failed) {
  if (failed) {
    int err = errno;
    close(fd);
    return throw_errno(env, failed, err);
  }
  napi_value v;
  if (napi_create_int32(env, fd, &v) != napi_ok) {
    close(fd);
    return throw_napi_failure(env, "napi_create_int32");
  }
  return v;
}

/* setns(fd, nstype): nstype 0 accepts any namespace type, CLONE_NEWNET checks it */
static napi_value js_setns(napi_env env, napi_callback_info info) {
  int32_t a[2];
  if (int_args(env, info, a, 2, "setns(fd, nstype)") < 0) return NULL;
  if (setns(a[0], a[1]) != 0) return throw_errno(env, "setns", errno);
  return NULL;
}

/* flock(fd, operation) with LOCK_SH/LOCK_EX/LOCK_UN/LOCK_NB as the kernel defines them */
static napi_value js_flock(napi_env env, napi_callback_info info) {
  int32_t a[2];
  if (int_args(env, info, a, 2, "flock(fd, operation)") < 0) return NULL;
  int rc;
  do rc = flock(a[0], a[1]); while (rc != 0 && errno == EINTR);
  if (rc != 0) return throw_errno(env, "flock", errno);
  return NULL;
}

/*
 * netlinkOpen(protocol, receiveBufferBytes, timeoutMs) -> fd. The receive
 * timeout turns a missing answer into ETIMEDOUT (see netlinkReceive) instead
 * of a hang. The receive buffer holds the acknowledgements of a large batch,
 * which the kernel writes while our send is still running; SO_RCVBUFFORCE
 * (root) may exceed net.core.rmem_max, SO_RCVBUF is the fallback. NETLINK_CAP_ACK
 * keeps an error answer to its header instead of a copy of the whole request.
 */
static napi_value js_netlink_open(napi_env env, napi_callback_info info) {
  int32_t a[3];
  if (int_args(env, info, a, 3, "netlinkOpen(protocol, receiveBufferBytes, timeoutMs)") < 0) return NULL;
  if (a[1] < 0 || a[2] <= 0) return throw_type(env, "netlinkOpen: receiveBufferBytes >= 0 and timeoutMs > 0");
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, a[0]);
  if (fd < 0) return throw_errno(env, "socket(AF_NETLINK)", errno);
  int one = 1, size = a[1];
  struct timeval tv = {a[2] / 1000, (a[2] % 1000) * 1000};
  struct sockaddr_nl local = {.nl_family = AF_NETLINK};
  const char *failed = NULL;
  if (size > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0 &&
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) != 0) failed = "setsockopt(SO_RCVBUF)";
  else if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) failed = "setsockopt(SO_RCVTIMEO)";
  else if (setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one) != 0) failed = "setsockopt(NETLINK_CAP_ACK)";
  else if (bind(fd, (struct sockaddr *)&local, sizeof local) != 0) failed = "bind(AF_NETLINK)";
  return fd_or_throw(env, fd, failed);
}

/* netlinkSend(fd, datagram): one datagram to the kernel, whole or an error. */
static napi_value js_netlink_send(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  size_t argc = 2;
  int32_t fd;
  void *data;
  size_t len;
  bool is_buffer = false;
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_is_buffer(env, argv[1], &is_buffer) != napi_ok || !is_buffer)
    return throw_type(env, "netlinkSend(fd, datagram: Buffer)");
  NAPI_OK(napi_get_buffer_info(env, argv[1], &data, &len));
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  ssize_t n;
  do n = sendto(fd, data, len, 0, (struct sockaddr *)&kernel, sizeof kernel); while (n < 0 && errno == EINTR);
  if (n < 0) return throw_errno(env, "netlink send", errno);
  if ((size_t)n != len) return throw_errno(env, "netlink send (short write)", EMSGSIZE);
  return NULL;
}

/*
 * netlinkReceive(fd) -> Buffer: the next datagram, however large (its size is
 * peeked first, so a big dump part is never truncated). ETIMEDOUT when the
 * socket's receive timeout passes with nothing to read; ENOBUFS when the
 * kernel dropped answers because the receive buffer was full.
 */
static napi_value js_netlink_receive(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (int_args(env, info, &fd, 1, "netlinkReceive(fd)") < 0) return NULL;
  /* The peek's buffer size also tells the kernel how large a dump part we
   * take (it caps that at 32 KiB): fewer, fuller datagrams for a big dump. */
  char peek[32768];
  ssize_t size;
  do size = recv(fd, peek, sizeof peek, MSG_PEEK | MSG_TRUNC); while (size < 0 && errno == EINTR);
  if (size < 0) return throw_errno(env, "netlink receive", errno == EAGAIN || errno == EWOULDBLOCK ? ETIMEDOUT : errno);
  void *data;
  napi_value buffer;
  NAPI_OK(napi_create_buffer(env, (size_t)size, &data, &buffer));
  ssize_t n;
  do n = recv(fd, data, (size_t)size, 0); while (n < 0 && errno == EINTR);
  if (n < 0) return throw_errno(env, "netlink receive", errno == EAGAIN || errno == EWOULDBLOCK ? ETIMEDOUT : errno);
  if (n != size) return throw_errno(env, "netlink receive (datagram changed size)", EIO);
  return buffer;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (int_args(env, info, &fd, 1, "close(fd)") < 0) return NULL;
  /* Linux releases the descriptor even when close reports EINTR: never retry. */
  if (close(fd) != 0 && errno != EINTR) return throw_errno(env, "close", errno);
  return NULL;
}

/*
 * tunOpen(name) -> fd: the TUN device `name` (created if absent, gone when
 * the last fd closes), IFF_TUN | IFF_NO_PI: each read is one whole IP packet
 * and each write injects one, with no packet-information header. The fd is
 * non-blocking, so the caller's event loop can poll it.
 */
static napi_value js_tun_open(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1, len = 0;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  /* the length first: a longer name would be silently cut to fit */
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], NULL, 0, &len) != napi_ok || len == 0 || len >= IFNAMSIZ ||
      napi_get_value_string_utf8(env, argv[0], ifr.ifr_name, IFNAMSIZ, &len) != napi_ok)
    return throw_type(env, "tunOpen(name: 1-15 bytes)");
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, "open(/dev/net/tun)", errno);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  return fd_or_throw(env, fd, ioctl(fd, TUNSETIFF, &ifr) != 0 ? "ioctl(TUNSETIFF)" : NULL);
}

/* Running packet loops by handle: an agent runs one. */
#define MAX_PROXIES 4
static struct udp_proxy *proxies[MAX_PROXIES];

static struct udp_proxy *proxy_arg(napi_env env, napi_value v, int32_t *handle) {
  if (napi_get_value_int32(env, v, handle) != napi_ok || *handle < 0 || *handle >= MAX_PROXIES || !proxies[*handle]) {
    throw_type(env, "udp proxy: not a running proxy's handle");
    return NULL;
  }
  return proxies[*handle];
}

/* udpProxyStart(tunFd, address, port) -> handle: binds address:port (UDP) and starts the loop. */
static napi_value js_udp_proxy_start(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  size_t argc = 3, len = 0;
  int32_t tun, port;
  char text[INET_ADDRSTRLEN];
  struct in_addr address;
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  /* the length first, and no NUL inside: a longer string would be cut to a valid address, e.g.
   * "127.100.100.1001" to 127.100.100.100 */
  if (argc < 3 || napi_get_value_int32(env, argv[0], &tun) != napi_ok ||
      napi_get_value_string_utf8(env, argv[1], NULL, 0, &len) != napi_ok || len >= sizeof text ||
      napi_get_value_string_utf8(env, argv[1], text, sizeof text, &len) != napi_ok || strlen(text) != len ||
      inet_pton(AF_INET, text, &address) != 1 ||
      napi_get_value_int32(env, argv[2], &port) != napi_ok || port < 1 || port > 65535)
    return throw_type(env, "udpProxyStart(tunFd, address: IPv4, port: 1-65535)");
  int slot = 0;
  while (slot < MAX_PROXIES && proxies[slot]) slot++;
  if (slot == MAX_PROXIES) return throw_errno(env, "udpProxyStart", EMFILE);
  int err = udp_proxy_start(tun, address.s_addr, (uint16_t)port, &proxies[slot]);
  if (err) return throw_errno(env, "udpProxyStart", err);
  napi_value v;
  NAPI_OK(napi_create_int32(env, slot, &v));
  return v;
}

/* udpProxySetRoutes(handle, routes): 12 bytes a route, network order: network, next hop, prefix length, 3 zero bytes. */
static napi_value js_udp_proxy_set_routes(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  size_t argc = 2, len = 0;
  int32_t handle;
  bool is_buffer = false;
  uint8_t *data;
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_type(env, "udpProxySetRoutes(handle, routes: Buffer)");
  struct udp_proxy *p = proxy_arg(env, argv[0], &handle);
  if (!p) return NULL;
  if (napi_is_buffer(env, argv[1], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, argv[1], (void **)&data, &len) != napi_ok || len % 12 != 0)
    return throw_type(env, "udpProxySetRoutes(handle, routes: Buffer of 12-byte entries)");
  size_t n = len / 12;
  struct udp_proxy_route *routes = calloc(n ? n : 1, sizeof *routes);
  if (!routes) return throw_errno(env, "udpProxySetRoutes", ENOMEM);
  for (size_t i = 0; i < n; i++) {
    memcpy(&routes[i].network, data + 12 * i, 4);
    memcpy(&routes[i].next_hop, data + 12 * i + 4, 4);
    routes[i].prefix = data[12 * i + 8];
    if (routes[i].prefix > 32) {
      free(routes);
      return throw_type(env, "udpProxySetRoutes: prefix length above 32");
    }
  }
  int err = udp_proxy_set_routes(p, routes, n);
  free(routes);
  if (err) return throw_errno(env, "udpProxySetRoutes", err);
  return NULL;
}

/* udpProxyCounters(handle) -> [toPeers, fromPeers, noRoute, sendErrors, tunErrors, unknownSource, oversized,
 * socketErrors, lanesStopped] (udp_proxy.h) */
static napi_value js_udp_proxy_counters(napi_env env, napi_callback_info info) {
  napi_value argv[1], out, v;
  size_t argc = 1;
  int32_t handle;
  uint64_t c[UDP_PROXY_COUNTERS];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct udp_proxy *p = argc < 1 ? NULL : proxy_arg(env, argv[0], &handle);
  if (!p) return argc < 1 ? throw_type(env, "udpProxyCounters(handle)") : NULL;
  udp_proxy_counters(p, c);
  NAPI_OK(napi_create_array_with_length(env, UDP_PROXY_COUNTERS, &out));
  for (uint32_t i = 0; i < UDP_PROXY_COUNTERS; i++) {
    NAPI_OK(napi_create_double(env, (double)c[i], &v));
    NAPI_OK(napi_set_element(env, out, i, v));
  }
  return out;
}

/* udpProxyStop(handle): joins the loop's thread and closes its socket; the TUN fd stays open. */
static napi_value js_udp_proxy_stop(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  int32_t handle;
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct udp_proxy *p = argc < 1 ? NULL : proxy_arg(env, argv[0], &handle);
  if (!p) return argc < 1 ? throw_type(env, "udpProxyStop(handle)") : NULL;
  proxies[handle] = NULL;
  udp_proxy_stop(p);
  return NULL;
}

/*
 * runProgram(path, argv[], timeoutMs) -> { status, stdout, stderr }: runs a
 * helper program (nft) to completion. posix_spawn uses vfork-style cloning,
 * so the cost does not grow with this process's size the way fork() in libuv
 * does, and nothing of child_process/stream/net has to be loaded: together
 * that is ~15 ms of every nft call from a plugin. stdin is /dev/null; status
 * is the exit code, or 128 + signal number. A child still running at the
 * deadline is killed (SIGKILL) and reaped, and the call throws ETIMEDOUT: a
 * hung helper must not hang the plugin, and the runtime, with it.
 */
struct buf { char *data; size_t len, cap; };

static int buf_read(int fd, struct buf *b) {
  if (b->cap - b->len < 4096) {
    size_t cap = b->cap ? b->cap * 2 : 8192;
    char *d = realloc(b->data, cap);
    if (!d) { errno = ENOMEM; return -1; }
    b->data = d; b->cap = cap;
  }
  ssize_t n;
  do n = read(fd, b->data + b->len, b->cap - b->len); while (n < 0 && errno == EINTR);
  if (n > 0) b->len += (size_t)n;
  return (int)n;
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A string argument as a new NUL-terminated copy; NULL (with a TypeError or
 * N-API's exception pending) when it is not a string, holds a NUL, is longer
 * than max_len bytes, or memory ran out. */
static char *string_arg(napi_env env, napi_value v, size_t max_len, const char *what) {
  size_t len = 0, copied = 0;
  char text[200];
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    snprintf(text, sizeof text, "runProgram: %s must be a string", what);
    throw_type(env, text);
    return NULL;
  }
  if (len > max_len) {
    snprintf(text, sizeof text, "runProgram: %s is %zu bytes long, more than the %zu allowed", what, len, max_len);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", text);
    return NULL;
  }
  char *s = malloc(len + 1);
  if (!s) { throw_errno(env, "runProgram: malloc", ENOMEM); return NULL; }
  if (napi_get_value_string_utf8(env, v, s, len + 1, &copied) != napi_ok) {
    free(s);
    throw_napi_failure(env, "napi_get_value_string_utf8");
    return NULL;
  }
  if (strlen(s) != copied) {
    free(s);
    snprintf(text, sizeof text, "runProgram: %s contains a NUL byte", what);
    throw_type(env, text);
    return NULL;
  }
  return s;
}

static void free_args(char **args, uint32_t n) {
  if (!args) return;
  for (uint32_t i = 0; i < n; i++) free(args[i]);
  free(args);
}

/* The result object; NULL with an exception pending when N-API fails. */
static napi_value run_result(napi_env env, int code, const struct buf *ob, const struct buf *eb) {
  napi_value result, v;
  NAPI_OK(napi_create_object(env, &result));
  NAPI_OK(napi_create_int32(env, code, &v));
  NAPI_OK(napi_set_named_property(env, result, "status", v));
  NAPI_OK(napi_create_string_utf8(env, ob->data ? ob->data : "", ob->len, &v));
  NAPI_OK(napi_set_named_property(env, result, "stdout", v));
  NAPI_OK(napi_create_string_utf8(env, eb->data ? eb->data : "", eb->len, &v));
  NAPI_OK(napi_set_named_property(env, result, "stderr", v));
  return result;
}

static napi_value js_run_program(napi_env env, napi_callback_info info) {
  napi_value argv_js[3];
  size_t argc = 3;
  bool is_array = false;
  int32_t timeout_ms = 0;
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv_js, NULL, NULL));
  if (argc < 3 || napi_is_array(env, argv_js[1], &is_array) != napi_ok || !is_array ||
      napi_get_value_int32(env, argv_js[2], &timeout_ms) != napi_ok || timeout_ms <= 0)
    return throw_type(env, "runProgram(path: string, argv: string[], timeoutMs: number > 0)");
  uint32_t n = 0;
  NAPI_OK(napi_get_array_length(env, argv_js[1], &n));
  char *path = string_arg(env, argv_js[0], PATH_MAX - 1, "path");
  if (!path) return NULL;
  char **args = calloc((size_t)n + 1, sizeof *args);
  if (!args) { free(path); return throw_errno(env, "runProgram: calloc", ENOMEM); }
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    char what[32];
    snprintf(what, sizeof what, "argv[%u]", i);
    if (napi_get_element(env, argv_js[1], i, &v) != napi_ok ||
        !(args[i] = string_arg(env, v, 128 * 1024, what))) {
      free(path); free_args(args, n);
      return throw_napi_failure(env, "napi_get_element");
    }
  }

  int out[2] = {-1, -1}, err[2] = {-1, -1};
  int rc = pipe2(out, O_CLOEXEC) == 0 && pipe2(err, O_CLOEXEC) == 0 ? 0 : errno;
  const char *failed = rc ? "pipe2" : NULL;
  pid_t pid = -1;
  if (rc == 0) {
    posix_spawn_file_actions_t fa;
    if ((rc = posix_spawn_file_actions_init(&fa)) != 0) {
      failed = "posix_spawn_file_actions_init";
    } else {
      if ((rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) != 0 ||
          (rc = posix_spawn_file_actions_adddup2(&fa, out[1], 1)) != 0 ||
          (rc = posix_spawn_file_actions_adddup2(&fa, err[1], 2)) != 0)
        failed = "posix_spawn_file_actions";
      else if ((rc = posix_spawn(&pid, path, &fa, NULL, args, environ)) != 0)
        failed = "posix_spawn";
      posix_spawn_file_actions_destroy(&fa);
    }
  }
  free_args(args, n);
  if (out[1] >= 0) close(out[1]);
  if (err[1] >= 0) close(err[1]);

  struct buf ob = {0}, eb = {0};
  bool timed_out = false;
  if (rc == 0) {
    long long deadline = now_ms() + timeout_ms;
    struct pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    int open_fds = 2;
    while (open_fds > 0) {
      long long left = deadline - now_ms();
      if (left <= 0) { timed_out = true; break; }
      int ready = poll(fds, 2, (int)left);
      if (ready < 0) {
        if (errno == EINTR) continue;
        rc = errno; failed = "poll"; break;
      }
      for (int i = 0; i < 2; i++) {
        if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        int got = buf_read(fds[i].fd, i == 0 ? &ob : &eb);
        if (got < 0 && errno == ENOMEM) { rc = ENOMEM; failed = "runProgram: realloc"; open_fds = 0; break; }
        if (got <= 0) { fds[i].fd = -1; open_fds--; }
      }
    }
    /* The child closed its output but may still run (or may have handed the
     * pipes to a grandchild): wait for its exit until the deadline too. */
    int status = 0;
    while (!timed_out) {
      pid_t w = rc == 0 ? waitpid(pid, &status, WNOHANG) : 0;
      if (w == pid) break;
      if (w < 0 && errno != EINTR) { rc = errno; failed = "waitpid"; break; }
      if (rc != 0 || now_ms() >= deadline) { timed_out = rc == 0; break; }
      struct timespec pause = {0, 200000};
      nanosleep(&pause, NULL);
    }
    if (timed_out || rc != 0) {
      kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    }
    if (out[0] >= 0) close(out[0]);
    if (err[0] >= 0) close(err[0]);
    if (rc == 0 && !timed_out) {
      int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      napi_value result = run_result(env, code, &ob, &eb);
      free(ob.data); free(eb.data); free(path);
      return result;
    }
  } else {
    if (out[0] >= 0) close(out[0]);
    if (err[0] >= 0) close(err[0]);
  }
  free(ob.data); free(eb.data);
  char text[PATH_MAX + 120];
  if (timed_out) {
    snprintf(text, sizeof text, "runProgram: %s did not finish within %d ms, killed", path, (int)timeout_ms);
    free(path);
    return throw_errno(env, text, ETIMEDOUT);
  }
  snprintf(text, sizeof text, "%s %s", failed ? failed : "runProgram", path);
  free(path);
  return throw_errno(env, text, rc);
}

/*
 * unixConnect(path, timeoutMs) -> fd: a connected, blocking AF_UNIX stream
 * socket whose reads and writes fail with EAGAIN once timeoutMs pass without
 * progress, so a stuck peer cannot hang the caller. ENOENT: no such socket;
 * ECONNREFUSED: nobody listens on it.
 */
static napi_value js_unix_connect(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  size_t argc = 2;
  int32_t timeout_ms;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char *path = argc < 2 ? NULL : string_arg(env, argv[0], sizeof addr.sun_path - 1, "unixConnect: path");
  if (!path) return argc < 2 ? throw_type(env, "unixConnect(path, timeoutMs)") : NULL;
  strcpy(addr.sun_path, path);
  free(path);
  if (napi_get_value_int32(env, argv[1], &timeout_ms) != napi_ok || timeout_ms <= 0)
    return throw_type(env, "unixConnect: timeoutMs > 0");
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket(AF_UNIX)", errno);
  struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  const char *failed = NULL;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) failed = "setsockopt(SO_RCVTIMEO)";
  else if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0) failed = "setsockopt(SO_SNDTIMEO)";
  else if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) failed = "connect";
  return fd_or_throw(env, fd, failed);
}

/*
 * peerCredentials(fd) -> { pid, uid, gid }: who is at the other end of a
 * connected AF_UNIX socket, as the kernel recorded it at connect(2)
 * (SO_PEERCRED), so a server can refuse a peer that is not root or of its group.
 */
static napi_value js_peer_credentials(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (int_args(env, info, &fd, 1, "peerCredentials(fd)") < 0) return NULL;
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return throw_errno(env, "getsockopt(SO_PEERCRED)", errno);
  napi_value out, v;
  NAPI_OK(napi_create_object(env, &out));
  NAPI_OK(napi_create_int32(env, cred.pid, &v));
  NAPI_OK(napi_set_named_property(env, out, "pid", v));
  NAPI_OK(napi_create_uint32(env, cred.uid, &v));
  NAPI_OK(napi_set_named_property(env, out, "uid", v));
  NAPI_OK(napi_create_uint32(env, cred.gid, &v));
  NAPI_OK(napi_set_named_property(env, out, "gid", v));
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"setns", NULL, js_setns, NULL, NULL, NULL, napi_default, NULL},
    {"flock", NULL, js_flock, NULL, NULL, NULL, napi_default, NULL},
    {"netlinkOpen", NULL, js_netlink_open, NULL, NULL, NULL, napi_default, NULL},
    {"netlinkSend", NULL, js_netlink_send, NULL, NULL, NULL, napi_default, NULL},
    {"netlinkReceive", NULL, js_netlink_receive, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
    {"unixConnect", NULL, js_unix_connect, NULL, NULL, NULL, napi_default, NULL},
    {"peerCredentials", NULL, js_peer_credentials, NULL, NULL, NULL, napi_default, NULL},
    {"runProgram", NULL, js_run_program, NULL, NULL, NULL, napi_default, NULL},
    {"tunOpen", NULL, js_tun_open, NULL, NULL, NULL, napi_default, NULL},
    {"udpProxyStart", NULL, js_udp_proxy_start, NULL, NULL, NULL, napi_default, NULL},
    {"udpProxySetRoutes", NULL, js_udp_proxy_set_routes, NULL, NULL, NULL, napi_default, NULL},
    {"udpProxyCounters", NULL, js_udp_proxy_counters, NULL, NULL, NULL, napi_default, NULL},
    {"udpProxyStop", NULL, js_udp_proxy_stop, NULL, NULL, NULL, napi_default, NULL},
  };
  NAPI_OK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  const struct { const char *name; int value; } constants[] = {
    {"CLONE_NEWNET", CLONE_NEWNET}, {"LOCK_SH", LOCK_SH}, {"LOCK_EX", LOCK_EX},
    {"LOCK_UN", LOCK_UN}, {"LOCK_NB", LOCK_NB},
  };
  for (size_t i = 0; i < sizeof constants / sizeof constants[0]; i++) {
    napi_value v;
    NAPI_OK(napi_create_int32(env, constants[i].value, &v));
    NAPI_OK(napi_set_named_property(env, exports, constants[i].name, v));
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
