/* A minimal KUnit for running a tree's KUnit suites in userspace (scripts/kernel-selftests.sh):
 * a suite's cases run in a loop, each with its own `struct kunit`; a failed expectation or
 * assertion marks the case failed and prints where. Only what io-pgtable's suite uses. */
#ifndef LXSHIM_KUNIT_TEST_H
#define LXSHIM_KUNIT_TEST_H

#include <stdio.h>

#include <linux/kernel.h>

#ifndef IS_ERR_OR_NULL
#define IS_ERR_OR_NULL(p) (!(p) || (unsigned long)(p) >= (unsigned long)-4095)
#endif

struct kunit {
  const char *name;
  int failed;
};

struct kunit_case {
  void (*run_case)(struct kunit *test);
  const char *name;
};

struct kunit_suite {
  const char *name;
  struct kunit_case *test_cases;
};

#define KUNIT_CASE(fn) {.run_case = fn, .name = #fn}

/* The suite the including file declares, for the runner that includes it. */
#define kunit_test_suite(suite) static struct kunit_suite *const lxshim_kunit_suite = &(suite)

#define kunit_info(test, fmt, ...) ((void)(test))
#define kunit_err(test, fmt, ...) printf("    # %s: " fmt, (test)->name, ##__VA_ARGS__)
#define KUNIT_FAIL(test, fmt, ...)                                                  \
  do {                                                                              \
    (test)->failed = 1;                                                             \
    printf("    # %s: FAIL at %s:%d: " fmt "\n", (test)->name, __FILE__, __LINE__, \
           ##__VA_ARGS__);                                                          \
  } while (0)
#define KUNIT_EXPECT_TRUE(test, cond) \
  do {                                \
    if (!(cond)) KUNIT_FAIL(test, "expected %s", #cond); \
  } while (0)
#define KUNIT_EXPECT_NOT_ERR_OR_NULL(test, ptr) KUNIT_EXPECT_TRUE(test, !IS_ERR_OR_NULL(ptr))

#endif
