/* The classic double-precision Whetstone benchmark (H.J. Curnow and B.A. Wichmann, 1976), freestanding:
 * no libc, its own elementary functions, so the same source runs in the guest and natively on the host
 * (test/whetstone.test.ts compares the two bit for bit). */
#ifndef WHETSTONE_H
#define WHETSTONE_H
#include <stdint.h>

#define WHET_RESULTS 12

/* Run `loops` loops (each loop is 100 thousand Whetstone instructions by the benchmark's own count) and store
 * the final values of the modules' variables as IEEE bit patterns. */
void whetstone(long loops, uint64_t out[WHET_RESULTS]);

#endif
