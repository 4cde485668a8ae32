/* sh: runs pipelines of programs like a shell script (UnixBench "Shell Scripts").
 * sh [-n REPS] CMD ARGS | CMD ARGS ... [; CMD ...]   (tokens "|" and ";" are separate arguments) */
#include "libc.h"

static int run_pipeline(char **tok, int ntok) {
  char **stages[8];
  int nst = 0;
  stages[nst++] = tok;
  for (int i = 0; i < ntok; i++)
    if (strcmp(tok[i], "|") == 0) {
      tok[i] = 0;
      if (nst < 8) stages[nst++] = &tok[i + 1];
    }
  tok[ntok] = 0;
  int pids[8], in = -1, bad = 0;
  for (int s = 0; s < nst; s++) {
    int p[2] = { -1, -1 };
    if (s + 1 < nst && pipe(p) < 0) die("sh: pipe failed\n");
    int pid = fork();
    if (pid == 0) {
      if (in >= 0) { dup2(in, 0); close(in); }
      if (p[1] >= 0) { dup2(p[1], 1); close(p[1]); close(p[0]); }
      char path[64];
      snprintf(path, sizeof path, "/bin/%s", stages[s][0]);
      execve(path, stages[s], environ);
      dprintf(2, "sh: %s: not found\n", stages[s][0]);
      exit(127);
    }
    pids[s] = pid;
    if (in >= 0) close(in);
    if (p[1] >= 0) close(p[1]);
    in = p[0];
  }
  for (int s = 0; s < nst; s++) {
    int st;
    if (wait4(pids[s], &st, 0) != pids[s] || st != 0) bad++;
  }
  return bad;
}

int main(int argc, char **argv) {
  int first = 1;
  long reps = 1;
  if (argc > 2 && strcmp(argv[1], "-n") == 0) { reps = atol(argv[2]); first = 3; }
  int bad = 0, count = 0;
  for (long r = 0; r < reps; r++) {
    char *tok[64];
    int ntok = 0;
    for (int i = first; i <= argc; i++) {
      if (i == argc || strcmp(argv[i], ";") == 0) {
        if (ntok) { bad += run_pipeline(tok, ntok); count++; }
        ntok = 0;
      } else if (ntok < 63) {
        tok[ntok++] = argv[i];
      }
    }
  }
  printf("sh: %d pipelines, %d failed\n", count, bad);
  return bad ? 1 : 0;
}
