/* threads: a worker pool. T threads, each on its own mmap'd stack of S bytes (more than two pages by
 * default, unlike seed 004 5.2's assumption), take items 0..N-1 from a shared counter and add up the
 * Collatz step counts of item+1. threads [-t T] [-s STACK] [-n N] */
#include "libc.h"

static volatile long next_item, total;
static long items;
static long stack_bytes;

static long collatz(unsigned long x) {
  long steps = 0;
  while (x != 1) { x = (x & 1) ? 3 * x + 1 : x / 2; steps++; }
  return steps;
}

/* Touch most of the stack so it is really used: a frame-heavy recursion. */
static long deep(int depth, long seed) {
  volatile char pad[480];
  pad[0] = (char)seed;
  pad[479] = (char)depth;
  if (depth <= 0) return pad[0] + pad[479];
  return deep(depth - 1, seed + 1) + pad[0];
}

static int worker(void *arg) {
  long id = (long)arg, mine = 0, done = 0;
  int depth = (int)(stack_bytes / 2 / 512);
  mine += deep(depth, id) * 0; /* uses about half of the stack; contributes nothing to the sum */
  for (;;) {
    long i = __atomic_fetch_add(&next_item, 1, __ATOMIC_SEQ_CST);
    if (i >= items) break;
    mine += collatz((unsigned long)i + 1);
    if ((++done & 15) == 0) sched_yield();
  }
  __atomic_fetch_add(&total, mine, __ATOMIC_SEQ_CST);
  return (int)done;
}

int main(int argc, char **argv) {
  long t = opt_long(argc, argv, 't', 4);
  stack_bytes = opt_long(argc, argv, 's', 16384);
  items = opt_long(argc, argv, 'n', 1000);
  if (t < 1 || t > 32) die("threads: bad -t\n");
  struct thread th[32];
  for (long i = 0; i < t; i++)
    if (thread_create(&th[i], (size_t)stack_bytes, worker, (void *)i) < 0) die("threads: create failed\n");
  for (long i = 0; i < t; i++) thread_join(&th[i]);
  printf("threads: %ld threads with %ld-byte stacks, %ld items, collatz total %ld\n", t, stack_bytes, items, total);
  return 0;
}
