/*
 * timed-exec PROGRAM [ARGS...]: runs PROGRAM with this process's environment
 * and standard streams, and writes "<wall µs> <peak RSS KiB> <status> <CPU µs>"
 * to fd 3 (CPU = the child's user + system time). The clock starts at fork and
 * stops when wait4 returns, so the figure is the plugin process alone:
 * neither this helper's start-up nor the bench's spawn machinery is in it.
 * Peak RSS is the child's ru_maxrss, which Node's child_process does not
 * expose. Both rusage figures include the programs the plugin ran and waited
 * for (nft, iptables).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: timed-exec PROGRAM [ARGS...]\n");
    return 2;
  }
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  pid_t pid = fork();
  if (pid < 0) { perror("fork"); return 2; }
  if (pid == 0) {
    close(3);
    execv(argv[1], argv + 1);
    perror(argv[1]);
    _exit(127);
  }
  int status;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) < 0) { perror("wait4"); return 2; }
  clock_gettime(CLOCK_MONOTONIC, &end);
  long long us = (end.tv_sec - start.tv_sec) * 1000000LL + (end.tv_nsec - start.tv_nsec) / 1000;
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  long long cpu = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
  dprintf(3, "%lld %ld %d %lld\n", us, ru.ru_maxrss, code, cpu);
  return code;
}
