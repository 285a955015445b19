{
  "targets": [
    {
      "target_name": "tscni_native",
      "sources": ["tscni_native.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
