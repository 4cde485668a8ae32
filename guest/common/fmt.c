/* Supports %d %i %u %x %X %p %s %c %% with the l/ll/z length modifiers, a width and the 0 and - flags. */
#include "fmt.h"

struct out { char *buf; size_t size, n; };

static void put(struct out *o, char c) {
  if (o->n + 1 < o->size) o->buf[o->n] = c;
  o->n++;
}

static void put_num(struct out *o, unsigned long v, int base, int upper, int neg, int width, int zero, int left) {
  char tmp[24];
  const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  int len = 0;
  do { tmp[len++] = digits[v % (unsigned)base]; v /= (unsigned)base; } while (v);
  int total = len + (neg ? 1 : 0);
  if (!left && !zero) for (; total < width; width--) put(o, ' ');
  if (neg) put(o, '-');
  if (!left && zero) for (; total < width; width--) put(o, '0');
  while (len) put(o, tmp[--len]);
  if (left) for (; total < width; width--) put(o, ' ');
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap) {
  struct out o = { buf, size, 0 };
  for (; *fmt; fmt++) {
    if (*fmt != '%') { put(&o, *fmt); continue; }
    fmt++;
    int zero = 0, left = 0, width = 0, lng = 0;
    for (;; fmt++) {
      if (*fmt == '0') zero = 1;
      else if (*fmt == '-') left = 1;
      else break;
    }
    while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
    while (*fmt == 'l' || *fmt == 'z') { lng = 1; fmt++; }
    switch (*fmt) {
    case 'd': case 'i': {
      long v = lng ? va_arg(ap, long) : va_arg(ap, int);
      unsigned long u = v < 0 ? -(unsigned long)v : (unsigned long)v;
      put_num(&o, u, 10, 0, v < 0, width, zero, left);
      break;
    }
    case 'u': put_num(&o, lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 10, 0, 0, width, zero, left); break;
    case 'x': case 'X':
      put_num(&o, lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 16, *fmt == 'X', 0, width, zero, left);
      break;
    case 'p': put(&o, '0'); put(&o, 'x'); put_num(&o, (unsigned long)va_arg(ap, void *), 16, 0, 0, width, zero, left); break;
    case 's': {
      const char *s = va_arg(ap, const char *);
      if (!s) s = "(null)";
      int len = 0;
      while (s[len]) len++;
      if (!left) for (; len < width; width--) put(&o, ' ');
      for (int i = 0; s[i]; i++) put(&o, s[i]);
      if (left) for (; len < width; width--) put(&o, ' ');
      break;
    }
    case 'c': put(&o, (char)va_arg(ap, int)); break;
    case '%': put(&o, '%'); break;
    case 0: fmt--; break;
    default: put(&o, '%'); put(&o, *fmt); break;
    }
  }
  if (o.size) o.buf[o.n < o.size ? o.n : o.size - 1] = 0;
  return (int)o.n;
}

int snprintf(char *buf, size_t size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, size, fmt, ap);
  va_end(ap);
  return n;
}
