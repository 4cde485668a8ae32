/* Classic Whetstone, double precision (see whetstone.h). Module structure and loop counts as in the
 * published Algol/Fortran original (N1..N11 per loop: 0, 12, 14, 345, 0, 210, 32, 899, 616, 0, 93). The
 * elementary functions are computed here (range reduction plus series), not by a library, so the result
 * only depends on IEEE double arithmetic. */
#include "whetstone.h"

static double T, T1, T2, E1[5];
static int J, K, L;

static uint64_t bits(double x) {
  union { double d; uint64_t u; } v = { x };
  return v.u;
}

static double from_bits(uint64_t u) {
  union { uint64_t u; double d; } v = { u };
  return v.d;
}

static double w_sqrt(double x) { return __builtin_sqrt(x); }

static const double PI = 3.14159265358979323846;
static const double LN2 = 0.69314718055994530942;

/* 2^k for integer k in the normal range. */
static double pow2(int k) { return from_bits((uint64_t)(k + 1023) << 52); }

static double w_exp(double x) {
  int k = (int)(x / LN2 + (x < 0 ? -0.5 : 0.5));
  double r = x - k * LN2;
  double term = 1.0, sum = 1.0;
  for (int i = 1; i < 24; i++) {
    term = term * r / i;
    sum += term;
  }
  return sum * pow2(k);
}

static double w_log(double x) {
  uint64_t u = bits(x);
  int e = (int)((u >> 52) & 0x7ff) - 1023;
  double m = from_bits((u & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL);
  if (m > 1.41421356237309504880) {
    m *= 0.5;
    e++;
  }
  /* log(m) = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172 */
  double s = (m - 1.0) / (m + 1.0), s2 = s * s, p = s, sum = 0.0;
  for (int i = 1; i < 40; i += 2) {
    sum += p / i;
    p *= s2;
  }
  return 2.0 * sum + e * LN2;
}

/* sin and cos of r with |r| <= pi/4 (Taylor series). */
static double sin_k(double r) {
  double r2 = r * r, term = r, sum = r;
  for (int i = 1; i < 12; i++) {
    term = -term * r2 / ((2 * i) * (2 * i + 1));
    sum += term;
  }
  return sum;
}
static double cos_k(double r) {
  double r2 = r * r, term = 1.0, sum = 1.0;
  for (int i = 1; i < 12; i++) {
    term = -term * r2 / ((2 * i - 1) * (2 * i));
    sum += term;
  }
  return sum;
}

/* Reduce x to r in [-pi/4, pi/4] and the quadrant q (x = q pi/2 + r). */
static double reduce(double x, int *q) {
  double k = x * (2.0 / PI);
  long n = (long)(k + (k < 0 ? -0.5 : 0.5));
  *q = (int)(n & 3);
  return (x - n * 1.57079632673412561417) - n * 6.07710050650619224932e-11;
}

static double w_sin(double x) {
  int q;
  double r = reduce(x, &q);
  switch (q) {
    case 0: return sin_k(r);
    case 1: return cos_k(r);
    case 2: return -sin_k(r);
    default: return -cos_k(r);
  }
}

static double w_cos(double x) {
  int q;
  double r = reduce(x, &q);
  switch (q) {
    case 0: return cos_k(r);
    case 1: return -sin_k(r);
    case 2: return -cos_k(r);
    default: return sin_k(r);
  }
}

static double w_atan(double x) {
  double sign = 1.0;
  if (x < 0) {
    x = -x;
    sign = -1.0;
  }
  double base = 0.0;
  if (x > 1.0) {
    x = 1.0 / x;
    base = PI / 2;
    sign = -sign;
  }
  /* Halve the angle three times: atan(x) = 2 atan(x / (1 + sqrt(1 + x^2))), then the series. */
  for (int i = 0; i < 3; i++) x = x / (1.0 + w_sqrt(1.0 + x * x));
  double x2 = x * x, p = x, sum = 0.0;
  for (int i = 1; i < 30; i += 2) {
    sum += (i & 2 ? -p : p) / i;
    p *= x2;
  }
  double a = 8.0 * sum;
  return base != 0.0 ? -sign * (base - a) : sign * a;
}

static void PA(double E[]) {
  int j = 0;
  do {
    E[1] = (E[1] + E[2] + E[3] - E[4]) * T;
    E[2] = (E[1] + E[2] - E[3] + E[4]) * T;
    E[3] = (E[1] - E[2] + E[3] + E[4]) * T;
    E[4] = (-E[1] + E[2] + E[3] + E[4]) / T2;
    j += 1;
  } while (j < 6);
}

static void P0(void) {
  E1[J] = E1[K];
  E1[K] = E1[L];
  E1[L] = E1[J];
}

static void P3(double X, double Y, double *Z) {
  double X1 = X, Y1 = Y;
  X1 = T * (X1 + Y1);
  Y1 = T * (X1 + Y1);
  *Z = (X1 + Y1) / T2;
}

void whetstone(long loops, uint64_t out[WHET_RESULTS]) {
  double X1, X2, X3, X4, X, Y, Z, X11 = 0;
  long N2 = 12 * loops, N3 = 14 * loops, N4 = 345 * loops, N6 = 210 * loops, N7 = 32 * loops, N8 = 899 * loops,
       N9 = 616 * loops, N11 = 93 * loops;
  T = 0.499975;
  T1 = 0.50025;
  T2 = 2.0;

  /* Module 2: array elements as simple variables. */
  X1 = 1.0;
  X2 = -1.0;
  X3 = -1.0;
  X4 = -1.0;
  for (long i = 0; i < N2; i++) {
    X1 = (X1 + X2 + X3 - X4) * T;
    X2 = (X1 + X2 - X3 + X4) * T;
    X3 = (X1 - X2 + X3 + X4) * T;
    X4 = (-X1 + X2 + X3 + X4) * T;
  }
  /* Module 3: array as parameter. */
  E1[1] = 1.0;
  E1[2] = -1.0;
  E1[3] = -1.0;
  E1[4] = -1.0;
  for (long i = 0; i < N3; i++) PA(E1);
  /* Module 4: conditional jumps. */
  J = 1;
  for (long i = 0; i < N4; i++) {
    J = J == 1 ? 2 : 3;
    J = J > 2 ? 0 : 1;
    J = J < 1 ? 1 : 0;
  }
  /* Module 6: integer arithmetic. */
  J = 1;
  K = 2;
  L = 3;
  for (long i = 0; i < N6; i++) {
    J = J * (K - J) * (L - K);
    K = L * K - (L - J) * K;
    L = (L - K) * (K + J);
    E1[L - 1] = J + K + L;
    E1[K - 1] = J * K * L;
  }
  /* Module 7: trigonometric functions. */
  X = 0.5;
  Y = 0.5;
  for (long i = 0; i < N7; i++) {
    X = T * w_atan(T2 * w_sin(X) * w_cos(X) / (w_cos(X + Y) + w_cos(X - Y) - 1.0));
    Y = T * w_atan(T2 * w_sin(Y) * w_cos(Y) / (w_cos(X + Y) + w_cos(X - Y) - 1.0));
  }
  /* Module 8: procedure calls. */
  double X8 = 1.0, Y8 = 1.0;
  Z = 1.0;
  for (long i = 0; i < N8; i++) P3(X8, Y8, &Z);
  /* Module 9: array references. */
  J = 1;
  K = 2;
  L = 3;
  E1[1] = 1.0;
  E1[2] = 2.0;
  E1[3] = 3.0;
  for (long i = 0; i < N9; i++) P0();
  /* Module 11: standard functions. */
  X11 = 0.75;
  for (long i = 0; i < N11; i++) X11 = w_sqrt(w_exp(w_log(X11) / T1));

  out[0] = bits(X1);
  out[1] = bits(X2);
  out[2] = bits(X3);
  out[3] = bits(X4);
  out[4] = bits(E1[1]);
  out[5] = bits(E1[2]);
  out[6] = bits(E1[3]);
  out[7] = bits(E1[4]);
  out[8] = bits(X);
  out[9] = bits(Y);
  out[10] = bits(Z);
  out[11] = bits(X11);
}
