/* tap.h: a tiny TAP producer for the unit tests (automake's TAP driver reads it).
 *
 *   ok(cond, "what")        one test point
 *   ok_near(a, b, tol, ...) |a - b| <= tol (absolute), prints both on failure
 *   ok_rel(a, b, rtol, ...) |a - b| <= rtol * |b|
 *   return tap_done();      prints the plan; exit status 0 only if all passed
 */
#ifndef L720_TAP_H
#define L720_TAP_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

static int tap_n, tap_failed;

static inline int tap_ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline int tap_ok(int cond, const char *fmt, ...)
{
    va_list ap;
    printf("%s %d - ", cond ? "ok" : "not ok", ++tap_n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    if (!cond)
        tap_failed++;
    return cond;
}

#define ok(cond, ...) tap_ok(!!(cond), __VA_ARGS__)

#define ok_near(a, b, tol, ...)                                                                    \
    do {                                                                                           \
        double tap_a_ = (a), tap_b_ = (b);                                                         \
        if (!tap_ok(fabs(tap_a_ - tap_b_) <= (tol), __VA_ARGS__))                                  \
            printf("#   got %.10g, expected %.10g (tolerance %g)\n", tap_a_, tap_b_,               \
                   (double)(tol));                                                                 \
    } while (0)

#define ok_rel(a, b, rtol, ...)                                                                    \
    do {                                                                                           \
        double tap_a_ = (a), tap_b_ = (b);                                                         \
        if (!tap_ok(fabs(tap_a_ - tap_b_) <= (rtol) * fabs(tap_b_), __VA_ARGS__))                  \
            printf("#   got %.10g, expected %.10g (relative tolerance %g)\n", tap_a_, tap_b_,      \
                   (double)(rtol));                                                                \
    } while (0)

static inline void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void tap_diag(const char *fmt, ...)
{
    va_list ap;
    printf("# ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

static inline void tap_skip_all(const char *why)
{
    printf("1..0 # SKIP %s\n", why);
}

static inline int tap_done(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}

#endif
