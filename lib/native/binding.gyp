{
  "targets": [
    {
      "target_name": "tscni_native",
      "sources": ["tscni_native.c", "udp_proxy.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
