/*
 * check.h — the tiny assertion harness of the C tests: CHECK(cond) records a failure with its
 * line and goes on (so one run reports every broken rule), CHECK_EQ_INT shows both values, and
 * check_summary() prints "name: N checks, M failed" and gives the process exit status.
 */
#ifndef SWIFTWS_TESTS_CHECK_H
#define SWIFTWS_TESTS_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_count = 0;
static int check_failures = 0;

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        check_count++;                                                                       \
        if (!(cond)) {                                                                       \
            check_failures++;                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);         \
        }                                                                                    \
    } while (0)

#define CHECK_EQ_INT(actual, expected)                                                       \
    do {                                                                                     \
        long long check_a_ = (long long)(actual), check_e_ = (long long)(expected);          \
        check_count++;                                                                       \
        if (check_a_ != check_e_) {                                                          \
            check_failures++;                                                                \
            fprintf(stderr, "%s:%d: CHECK_EQ_INT failed: %s == %lld, expected %s == %lld\n", \
                    __FILE__, __LINE__, #actual, check_a_, #expected, check_e_);             \
        }                                                                                    \
    } while (0)

#define CHECK_EQ_STR(actual, expected)                                                       \
    do {                                                                                     \
        const char *check_a_ = (actual), *check_e_ = (expected);                             \
        check_count++;                                                                       \
        if (check_a_ == NULL || strcmp(check_a_, check_e_) != 0) {                           \
            check_failures++;                                                                \
            fprintf(stderr, "%s:%d: CHECK_EQ_STR failed: %s == \"%s\", expected \"%s\"\n",   \
                    __FILE__, __LINE__, #actual, check_a_ ? check_a_ : "(null)", check_e_);  \
        }                                                                                    \
    } while (0)

/* Prints the summary line and returns the exit status (0 only if every check passed and at
 * least one ran, so an empty test cannot pass). */
static int check_summary(const char *name) {
    printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
    return (check_failures == 0 && check_count > 0) ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
