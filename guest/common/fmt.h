/* A tiny vsnprintf shared by the kernel and the user libc. */
#ifndef VMT_FMT_H
#define VMT_FMT_H
#include <stdarg.h>
#include <stddef.h>
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...);
#endif
