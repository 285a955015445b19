/*
 * The two system calls Node does not expose and tscni cannot do without:
 *   setns(2)  enter a network namespace on the calling (main) thread, so that
 *             netlink sockets, /proc/sys/net writes and spawned children made
 *             afterwards belong to that namespace (lib/netns);
 *   flock(2)  the whole-file lock the reference host-local takes on its
 *             dataDir/<network>/lock, so that both can share a store (lib/ipam).
 * Both are synchronous on purpose: the callers rely on nothing else running
 * between the call and their next statement.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>
#include <node_api.h>

extern char **environ;

static napi_value throw_errno(napi_env env, const char *syscall, int err) {
  napi_value code, msg, error, num;
  char text[160];
  snprintf(text, sizeof text, "%s: %s", syscall, strerror(err));
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
  napi_create_string_utf8(env, "ERR_SYSCALL", NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, msg, &error);
  napi_create_int32(env, err, &num);
  napi_set_named_property(env, error, "errno", num);
  napi_value sc;
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sc);
  napi_set_named_property(env, error, "syscall", sc);
  napi_throw(env, error);
  return NULL;
}

static int int_args(napi_env env, napi_callback_info info, int32_t *out, size_t want) {
  napi_value argv[2];
  size_t argc = 2;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, NULL, "expected integer arguments");
    return -1;
  }
  for (size_t i = 0; i < want; i++) {
    if (napi_get_value_int32(env, argv[i], &out[i]) != napi_ok) {
      napi_throw_type_error(env, NULL, "expected integer arguments");
      return -1;
    }
  }
  return 0;
}

/* setns(fd, nstype): nstype 0 accepts any namespace type, CLONE_NEWNET checks it */
static napi_value js_setns(napi_env env, napi_callback_info info) {
  int32_t a[2];
  if (int_args(env, info, a, 2) < 0) return NULL;
  if (setns(a[0], a[1]) != 0) return throw_errno(env, "setns", errno);
  return NULL;
}

/* flock(fd, operation) with LOCK_SH/LOCK_EX/LOCK_UN/LOCK_NB as the kernel defines them */
static napi_value js_flock(napi_env env, napi_callback_info info) {
  int32_t a[2];
  if (int_args(env, info, a, 2) < 0) return NULL;
  int rc;
  do rc = flock(a[0], a[1]); while (rc != 0 && errno == EINTR);
  if (rc != 0) return throw_errno(env, "flock", errno);
  return NULL;
}

/*
 * runProgram(path, argv[]) -> { status, stdout, stderr }: runs a helper
 * program (nft) to completion. posix_spawn uses vfork-style cloning, so the
 * cost does not grow with this process's size the way fork() in libuv does,
 * and nothing of child_process/stream/net has to be loaded: together that is
 * ~15 ms of every nft call from a plugin. stdin is /dev/null; status is the
 * exit code, or 128 + signal number.
 */
struct buf { char *data; size_t len, cap; };

static int buf_read(int fd, struct buf *b) {
  if (b->cap - b->len < 4096) {
    size_t cap = b->cap ? b->cap * 2 : 8192;
    char *d = realloc(b->data, cap);
    if (!d) return -1;
    b->data = d; b->cap = cap;
  }
  ssize_t n;
  do n = read(fd, b->data + b->len, b->cap - b->len); while (n < 0 && errno == EINTR);
  if (n > 0) b->len += (size_t)n;
  return (int)n;
}

static napi_value js_run_program(napi_env env, napi_callback_info info) {
  napi_value argv_js[2];
  size_t argc = 2;
  napi_get_cb_info(env, info, &argc, argv_js, NULL, NULL);
  char path[4096];
  size_t len;
  if (argc < 2 || napi_get_value_string_utf8(env, argv_js[0], path, sizeof path, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "runProgram(path, argv)");
    return NULL;
  }
  uint32_t n = 0;
  napi_get_array_length(env, argv_js[1], &n);
  char **args = calloc(n + 1, sizeof *args);
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    size_t l = 0;
    napi_get_element(env, argv_js[1], i, &v);
    napi_get_value_string_utf8(env, v, NULL, 0, &l);
    args[i] = malloc(l + 1);
    napi_get_value_string_utf8(env, v, args[i], l + 1, &l);
  }
  int out[2] = {-1, -1}, err[2] = {-1, -1};
  int rc = pipe2(out, O_CLOEXEC) == 0 && pipe2(err, O_CLOEXEC) == 0 ? 0 : errno;
  pid_t pid = -1;
  if (rc == 0) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    rc = posix_spawn(&pid, path, &fa, NULL, args, environ);
    posix_spawn_file_actions_destroy(&fa);
  }
  for (uint32_t i = 0; i < n; i++) free(args[i]);
  free(args);
  if (out[1] >= 0) close(out[1]);
  if (err[1] >= 0) close(err[1]);
  struct buf ob = {0}, eb = {0};
  if (rc == 0) {
    struct pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    int open_fds = 2;
    while (open_fds > 0) {
      if (poll(fds, 2, -1) < 0) { if (errno == EINTR) continue; break; }
      for (int i = 0; i < 2; i++) {
        if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        if (buf_read(fds[i].fd, i == 0 ? &ob : &eb) <= 0) { fds[i].fd = -1; open_fds--; }
      }
    }
  }
  if (out[0] >= 0) close(out[0]);
  if (err[0] >= 0) close(err[0]);
  int status = 0;
  if (rc == 0) {
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  }
  if (rc != 0) {
    free(ob.data); free(eb.data);
    return throw_errno(env, "posix_spawn", rc);
  }
  napi_value result, v;
  napi_create_object(env, &result);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  napi_create_int32(env, code, &v); napi_set_named_property(env, result, "status", v);
  napi_create_string_utf8(env, ob.data ? ob.data : "", ob.len, &v); napi_set_named_property(env, result, "stdout", v);
  napi_create_string_utf8(env, eb.data ? eb.data : "", eb.len, &v); napi_set_named_property(env, result, "stderr", v);
  free(ob.data); free(eb.data);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"setns", NULL, js_setns, NULL, NULL, NULL, napi_default, NULL},
    {"flock", NULL, js_flock, NULL, NULL, NULL, napi_default, NULL},
    {"runProgram", NULL, js_run_program, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  napi_value v;
  napi_create_int32(env, CLONE_NEWNET, &v); napi_set_named_property(env, exports, "CLONE_NEWNET", v);
  napi_create_int32(env, LOCK_SH, &v); napi_set_named_property(env, exports, "LOCK_SH", v);
  napi_create_int32(env, LOCK_EX, &v); napi_set_named_property(env, exports, "LOCK_EX", v);
  napi_create_int32(env, LOCK_UN, &v); napi_set_named_property(env, exports, "LOCK_UN", v);
  napi_create_int32(env, LOCK_NB, &v); napi_set_named_property(env, exports, "LOCK_NB", v);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
