// Measures the host's RCPSS and RSQRTSS (scripts/rcp/measure.mts runs it and writes the emulator's tables).
//
// Usage: measure tables     -> "rcp <4096 x 3 hex digits>", "rsqrt0 ...", "rsqrt1 ..." (the 12 mantissa bits
//                              below the leading one of the result for inputs 1.m and 2 x 1.m, m = top 12 bits)
//        measure check      -> verifies the model those tables are used in (see measure.mts), prints "ok" or
//                              the first input where it fails
//        measure hash E S.. -> per (exponent, sign): FNV-1a 32 of rcp and rsqrt over its 2^23 inputs
//        measure dump E S   -> those results as binary u32 pairs
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t rcp(uint32_t x) { return f2u(_mm_cvtss_f32(_mm_rcp_ss(_mm_set_ss(u2f(x))))); }
static uint32_t rsq(uint32_t x) { return f2u(_mm_cvtss_f32(_mm_rsqrt_ss(_mm_set_ss(u2f(x))))); }

static uint32_t RCP[4096], RSQ[2][4096];

static void tables(void) {
  for (uint32_t m = 0; m < 4096; m++) {
    RCP[m] = rcp((127u << 23) | (m << 11));
    RSQ[0][m] = rsq((127u << 23) | (m << 11));
    RSQ[1][m] = rsq((128u << 23) | (m << 11));
  }
}

/** The model: measure.mts's description, as C. */
static uint32_t model(int sq, uint32_t x) {
  uint32_t s = x & 0x80000000u, e = (x >> 23) & 255, m = x & 0x7fffff;
  if (e == 255) return m != 0 ? x | 0x400000u : sq ? (s ? 0xffc00000u : 0) : s;
  if (e == 0) return s | 0x7f800000u;
  if (!sq) {
    int re = 253 - (int)e;
    return re <= 0 ? s : s | ((uint32_t)re << 23) | (RCP[m >> 11] & 0x7fffff);
  }
  if (s) return 0xffc00000u;
  int p = ((int)e - 127) & 1;
  int re = 126 - ((int)e - 127 - p) / 2;
  return ((uint32_t)re << 23) | (RSQ[p][m >> 11] & 0x7fffff);
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  tables();
  if (!strcmp(argv[1], "tables")) {
    const char *names[3] = {"rcp", "rsqrt0", "rsqrt1"};
    uint32_t *t[3] = {RCP, RSQ[0], RSQ[1]};
    for (int k = 0; k < 3; k++) {
      printf("%s ", names[k]);
      for (int m = 0; m < 4096; m++) {
        // Every result of an input in [1, 4) has exponent 126 and its low 11 bits clear: 12 bits to keep.
        if (((t[k][m] >> 23) & 255) != 126 || (t[k][m] & 0x7ff) != 0) { printf("\nunexpected %s[%d] = %08x\n", names[k], m, t[k][m]); return 1; }
        printf("%03x", (t[k][m] >> 11) & 0xfff);
      }
      printf("\n");
    }
    return 0;
  }
  if (!strcmp(argv[1], "check")) {
    // Every input (all 2^32 encodings).
    for (uint64_t i = 0; i < (1ull << 32); i++) {
      uint32_t x = (uint32_t)i;
      if (rcp(x) != model(0, x)) { printf("rcp %08x: host %08x model %08x\n", x, rcp(x), model(0, x)); return 1; }
      if (rsq(x) != model(1, x)) { printf("rsqrt %08x: host %08x model %08x\n", x, rsq(x), model(1, x)); return 1; }
    }
    printf("ok\n");
    return 0;
  }
  if (!strcmp(argv[1], "hash")) {
    // One line per (exponent, sign) pair given: FNV-1a (32-bit) over rcp(x), rsqrt(x) for all 2^23 inputs x.
    for (int a = 2; a + 1 < argc; a += 2) {
      uint32_t e = (uint32_t)atoi(argv[a]), s = (uint32_t)atoi(argv[a + 1]);
      uint32_t h = 2166136261u;
      for (uint32_t m = 0; m < (1u << 23); m++) {
        uint32_t x = (s << 31) | (e << 23) | m;
        h = (h ^ rcp(x)) * 16777619u;
        h = (h ^ rsq(x)) * 16777619u;
      }
      printf("%u\n", h);
    }
    return 0;
  }
  if (!strcmp(argv[1], "dump") && argc == 4) {
    // rcp(x), rsqrt(x) as little-endian u32 pairs for all 2^23 inputs of one (exponent, sign): to locate a difference.
    uint32_t e = (uint32_t)atoi(argv[2]), s = (uint32_t)atoi(argv[3]);
    for (uint32_t m = 0; m < (1u << 23); m++) {
      uint32_t x = (s << 31) | (e << 23) | m, r[2] = {rcp(x), rsq(x)};
      fwrite(r, 4, 2, stdout);
    }
    return 0;
  }
  return 2;
}
