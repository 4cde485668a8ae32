/* worker: a long-lived process for the `mixed` workload, like a desktop daemon: computes, sleeps, now and
 * then starts a short-lived child (fork+exec of `true`, or a forked helper), and sometimes a few threads.
 * worker -i ID [-r ROUNDS] [-u SLEEP_US] [-f FORK_EVERY] [-t THREADS] [-k THREAD_STACK] [-c WORK] */
#include "libc.h"

static long work;
static uint32_t mix(uint32_t s, long n) {
  for (long i = 0; i < n; i++) s = xorshift32(&s) + (uint32_t)i;
  return s;
}
static volatile uint32_t thread_sum;
static int thread_fn(void *arg) {
  uint32_t v = mix((uint32_t)(long)arg, work);
  __atomic_fetch_add(&thread_sum, v, __ATOMIC_SEQ_CST);
  return 0;
}

int main(int argc, char **argv) {
  long id = opt_long(argc, argv, 'i', 0), rounds = opt_long(argc, argv, 'r', 10), us = opt_long(argc, argv, 'u', 1000);
  long fork_every = opt_long(argc, argv, 'f', 0), nthreads = opt_long(argc, argv, 't', 0);
  long tstack = opt_long(argc, argv, 'k', 16384);
  work = opt_long(argc, argv, 'c', 200);
  uint32_t sum = (uint32_t)id + 1;
  long children = 0, threads = 0;
  for (long r = 1; r <= rounds; r++) {
    sum = mix(sum, work);
    if (fork_every && r % fork_every == 0) {
      int pid;
      if (r % (2 * fork_every) == 0) {
        char *args[] = { "true", 0 };
        pid = spawn("true", args, 0);
      } else {
        pid = fork();
        if (pid == 0) exit((int)(mix(sum, work) & 0x3f));
      }
      int st;
      if (pid < 0 || wait4(pid, &st, 0) != pid || !WIFEXITED(st)) { printf("worker %ld: child failed\n", id); return 1; }
      sum += (uint32_t)WEXITSTATUS(st);
      children++;
    }
    if (nthreads && r % 3 == 0) {
      struct thread th[8];
      long nt = nthreads > 8 ? 8 : nthreads;
      thread_sum = 0;
      for (long k = 0; k < nt; k++)
        if (thread_create(&th[k], (size_t)tstack, thread_fn, (void *)(long)(sum + (uint32_t)k)) < 0) { printf("worker %ld: no thread\n", id); return 1; }
      for (long k = 0; k < nt; k++) thread_join(&th[k]);
      sum ^= thread_sum;
      threads += nt;
    }
    if (us) nanosleep_us(us);
  }
  printf("worker %ld: %ld rounds, %ld children, %ld threads, sum %08x\n", id, rounds, children, threads, sum);
  return 0;
}
