/* check.h — minimal test assertions that print the expression and both values.
 * A test program calls CHECK* freely and returns check_summary() from main. */
#ifndef EVM_CHECK_H
#define EVM_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int check_failed_ = 0, check_passed_ = 0;

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (cond) check_passed_++;                                                     \
        else {                                                                         \
            check_failed_++;                                                           \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);   \
        }                                                                              \
    } while (0)

#define CHECK_INT(a, b)                                                                \
    do {                                                                               \
        long long a_ = (long long)(a), b_ = (long long)(b);                            \
        if (a_ == b_) check_passed_++;                                                 \
        else {                                                                         \
            check_failed_++;                                                           \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld vs %lld\n", __FILE__,        \
                    __LINE__, #a, #b, a_, b_);                                         \
        }                                                                              \
    } while (0)

#define CHECK_STR(a, b)                                                                \
    do {                                                                               \
        const char *a_ = (a), *b_ = (b);                                               \
        if (a_ && b_ && strcmp(a_, b_) == 0) check_passed_++;                          \
        else {                                                                         \
            check_failed_++;                                                           \
            fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" vs \"%s\"\n", __FILE__,    \
                    __LINE__, #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");         \
        }                                                                              \
    } while (0)

/* |a - b| <= tol * max(|b|, floor) */
#define CHECK_REL(a, b, tol, floor_)                                                   \
    do {                                                                               \
        double a_ = (a), b_ = (b), s_ = fabs(b_) > (floor_) ? fabs(b_) : (floor_);     \
        if (fabs(a_ - b_) <= (tol) * s_) check_passed_++;                              \
        else {                                                                         \
            check_failed_++;                                                           \
            fprintf(stderr, "%s:%d: %s ~ %s failed: %.10g vs %.10g (rel %.3g > %g)\n", \
                    __FILE__, __LINE__, #a, #b, a_, b_, fabs(a_ - b_) / s_,            \
                    (double)(tol));                                                    \
        }                                                                              \
    } while (0)

/* |a - b| <= tol */
#define CHECK_ABS(a, b, tol)                                                           \
    do {                                                                               \
        double a_ = (a), b_ = (b);                                                     \
        if (fabs(a_ - b_) <= (tol)) check_passed_++;                                   \
        else {                                                                         \
            check_failed_++;                                                           \
            fprintf(stderr, "%s:%d: %s ~ %s failed: %.10g vs %.10g (abs %.3g > %g)\n", \
                    __FILE__, __LINE__, #a, #b, a_, b_, fabs(a_ - b_), (double)(tol)); \
        }                                                                              \
    } while (0)

static inline int check_summary(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, check_passed_, check_failed_);
    return check_failed_ ? 1 : 0;
}

#endif
