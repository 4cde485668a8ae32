/* server: a memcached-like key-value server over the NIC, memcached's ASCII protocol over UDP frames
 * (8-byte frame header: request id, sequence 0, datagram count 1, reserved; memcached protocol.txt "UDP").
 * Commands: set <key> <flags> <exptime> <bytes>\r\n<data>\r\n, get <key>, delete <key>, quit.
 * Prints counters and an FNV-1a digest of every response it sent. */
#include "libc.h"

#define SLOTS 256
struct item { int used; char key[64]; unsigned flags; int len; char data[256]; };
static struct item table[SLOTS];

static struct item *lookup(const char *key, int create) {
  uint32_t h = fnv1a(FNV_INIT, key, strlen(key));
  struct item *free_slot = 0;
  for (int i = 0; i < SLOTS; i++) {
    struct item *it = &table[(h + (uint32_t)i) % SLOTS];
    if (it->used == 1 && strcmp(it->key, key) == 0) return it;
    if (it->used == 2 && !free_slot) free_slot = it; /* tombstone */
    if (it->used == 0) { if (!free_slot) free_slot = it; break; }
  }
  if (!create || !free_slot) return 0;
  free_slot->used = 1;
  strcpy(free_slot->key, key);
  return free_slot;
}

static char *word(char **s) {
  while (**s == ' ') (*s)++;
  char *w = *s;
  while (**s && **s != ' ' && **s != '\r' && **s != '\n') (*s)++;
  if (**s == ' ') *(*s)++ = 0;
  else if (**s) { **s = 0; (*s)++; if (**s == '\n') (*s)++; }
  return w;
}

int main(void) {
  int fd = socket_dgram();
  if (fd < 0) die("server: no socket\n");
  static char req[2048], resp[2048];
  long requests = 0, sets = 0, gets = 0, hits = 0, dels = 0, errors = 0;
  uint32_t digest = FNV_INIT;
  printf("server: listening\n");
  for (;;) {
    long n = recvfrom(fd, req, sizeof req - 1);
    if (n < 8) { errors++; continue; }
    req[n] = 0;
    char *s = req + 8, *cmd = word(&s);
    int o = 8;
    memcpy(resp, req, 2);
    resp[2] = resp[3] = 0; resp[4] = 0; resp[5] = 1; resp[6] = resp[7] = 0;
    if (strcmp(cmd, "quit") == 0) break;
    requests++;
    if (strcmp(cmd, "set") == 0) {
      char *key = word(&s), *fl = word(&s);
      word(&s);
      long len = atol(word(&s));
      sets++;
      struct item *it = strlen(key) < 64 && len >= 0 && len <= 256 && s + len <= req + n ? lookup(key, 1) : 0;
      if (it) {
        it->flags = (unsigned)atol(fl);
        it->len = (int)len;
        memcpy(it->data, s, (size_t)len);
        o += snprintf(resp + o, sizeof resp - (size_t)o, "STORED\r\n");
      } else {
        errors++;
        o += snprintf(resp + o, sizeof resp - (size_t)o, "SERVER_ERROR out of memory\r\n");
      }
    } else if (strcmp(cmd, "get") == 0) {
      char *key = word(&s);
      gets++;
      struct item *it = lookup(key, 0);
      if (it) {
        hits++;
        o += snprintf(resp + o, sizeof resp - (size_t)o, "VALUE %s %u %d\r\n", it->key, it->flags, it->len);
        memcpy(resp + o, it->data, (size_t)it->len);
        o += it->len;
        o += snprintf(resp + o, sizeof resp - (size_t)o, "\r\nEND\r\n");
      } else {
        o += snprintf(resp + o, sizeof resp - (size_t)o, "END\r\n");
      }
    } else if (strcmp(cmd, "delete") == 0) {
      struct item *it = lookup(word(&s), 0);
      dels++;
      if (it) it->used = 2;
      o += snprintf(resp + o, sizeof resp - (size_t)o, it ? "DELETED\r\n" : "NOT_FOUND\r\n");
    } else {
      errors++;
      o += snprintf(resp + o, sizeof resp - (size_t)o, "ERROR\r\n");
    }
    digest = fnv1a(digest, resp, (size_t)o);
    sendto(fd, resp, (size_t)o);
  }
  printf("server: %ld requests, %ld sets, %ld gets, %ld hits, %ld deletes, %ld errors, digest %08x\n", requests, sets,
         gets, hits, dels, errors, digest);
  return 0;
}
