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
#include <sys/file.h>
#include <node_api.h>

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

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"setns", NULL, js_setns, NULL, NULL, NULL, napi_default, NULL},
    {"flock", NULL, js_flock, NULL, NULL, NULL, napi_default, NULL},
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
