/* A minimal KUnit for running KUnit suites in userspace against the shim: a tree's own
 * io-pgtable suite (scripts/kernel-selftests.sh) and the tests `iommucheck export --kunit`
 * writes (kunit_main.c). Each case runs with its own `struct kunit`; a failed expectation marks
 * the case failed and prints where, in KTAP's diagnostic form; a failed assertion also ends the
 * case (longjmp back to lxshim_kunit_run_case); deferred actions run when the case ends. Only
 * what those suites use. */
#ifndef LXSHIM_KUNIT_TEST_H
#define LXSHIM_KUNIT_TEST_H

#include <linux/kernel.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef IS_ERR_OR_NULL
#define IS_ERR_OR_NULL(p) (!(p) || (unsigned long)(p) >= (unsigned long)-4095)
#endif

#define LXSHIM_KUNIT_MAX_ACTIONS 16

typedef void(kunit_action_t)(void *);

struct kunit {
  const char *name;
  int failed;
  jmp_buf *abort; /* where a failed assertion returns to; NULL: the case goes on */
  unsigned n_actions;
  struct {
    kunit_action_t *fn;
    void *data;
  } actions[LXSHIM_KUNIT_MAX_ACTIONS];
};

struct kunit_case {
  void (*run_case)(struct kunit *test);
  const char *name;
};

struct kunit_suite {
  const char *name;
  struct kunit_case *test_cases;
};

#define KUNIT_CASE(fn) \
  { .run_case = fn, .name = #fn }

/* The suite the file declares, for the runner (in the same file or linked with it). */
#define kunit_test_suite(suite) struct kunit_suite *const lxshim_kunit_suite = &(suite)

#define kunit_info(test, fmt, ...) ((void)(test))
#define kunit_err(test, fmt, ...) printf("    # %s: " fmt, (test)->name, ##__VA_ARGS__)

/* Ends a failed check: an optional message, then the case, if it was an assertion. */
static inline void __attribute__((format(printf, 3, 4)))
lxshim_kunit_failed(struct kunit *test, int assertion, const char *fmt, ...) {
  test->failed = 1;
  if (fmt[0]) {
    va_list ap;
    va_start(ap, fmt);
    printf("    # ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
  }
  if (assertion && test->abort) longjmp(*test->abort, 1);
}

#define LXSHIM_KUNIT_WHERE(test, kind) \
  printf("    # %s: %s FAILED at %s:%d\n", (test)->name, kind, __FILE__, __LINE__)

#define LXSHIM_KUNIT_CHECK(test, assertion, cond, ...)                     \
  do {                                                                     \
    if (!(cond)) {                                                         \
      LXSHIM_KUNIT_WHERE(test, (assertion) ? "ASSERTION" : "EXPECTATION"); \
      printf("    # Expected %s to be true\n", #cond);                     \
      lxshim_kunit_failed(test, assertion, "" __VA_ARGS__);                \
    }                                                                      \
  } while (0)

#define LXSHIM_KUNIT_CMP(test, assertion, left, op, right, ...)                                 \
  do {                                                                                          \
    const typeof(left) lxk_left = (left);                                                       \
    const typeof(right) lxk_right = (right);                                                    \
    if (!(lxk_left op lxk_right)) {                                                             \
      LXSHIM_KUNIT_WHERE(test, (assertion) ? "ASSERTION" : "EXPECTATION");                      \
      printf(                                                                                   \
          "    # Expected %s %s %s, but\n    #     %s == %lld (%#llx)\n"                        \
          "    #     %s == %lld (%#llx)\n",                                                     \
          #left, #op, #right, #left, (long long)lxk_left, (unsigned long long)lxk_left, #right, \
          (long long)lxk_right, (unsigned long long)lxk_right);                                 \
      lxshim_kunit_failed(test, assertion, "" __VA_ARGS__);                                     \
    }                                                                                           \
  } while (0)

#define KUNIT_FAIL(test, fmt, ...)                                                                 \
  do {                                                                                             \
    (test)->failed = 1;                                                                            \
    printf("    # %s: FAIL at %s:%d: " fmt "\n", (test)->name, __FILE__, __LINE__, ##__VA_ARGS__); \
  } while (0)

#define KUNIT_EXPECT_TRUE(test, cond) LXSHIM_KUNIT_CHECK(test, 0, cond)
#define KUNIT_EXPECT_TRUE_MSG(test, cond, ...) LXSHIM_KUNIT_CHECK(test, 0, cond, __VA_ARGS__)
#define KUNIT_EXPECT_FALSE_MSG(test, cond, ...) LXSHIM_KUNIT_CHECK(test, 0, !(cond), __VA_ARGS__)
#define KUNIT_ASSERT_TRUE_MSG(test, cond, ...) LXSHIM_KUNIT_CHECK(test, 1, cond, __VA_ARGS__)
#define KUNIT_EXPECT_NOT_ERR_OR_NULL(test, ptr) LXSHIM_KUNIT_CHECK(test, 0, !IS_ERR_OR_NULL(ptr))
#define KUNIT_ASSERT_NOT_ERR_OR_NULL(test, ptr) LXSHIM_KUNIT_CHECK(test, 1, !IS_ERR_OR_NULL(ptr))
#define KUNIT_ASSERT_NOT_NULL(test, ptr) LXSHIM_KUNIT_CHECK(test, 1, (ptr) != NULL)

#define KUNIT_EXPECT_EQ(test, l, r) LXSHIM_KUNIT_CMP(test, 0, l, ==, r)
#define KUNIT_EXPECT_EQ_MSG(test, l, r, ...) LXSHIM_KUNIT_CMP(test, 0, l, ==, r, __VA_ARGS__)
#define KUNIT_ASSERT_EQ(test, l, r) LXSHIM_KUNIT_CMP(test, 1, l, ==, r)
#define KUNIT_ASSERT_EQ_MSG(test, l, r, ...) LXSHIM_KUNIT_CMP(test, 1, l, ==, r, __VA_ARGS__)
#define KUNIT_ASSERT_NE_MSG(test, l, r, ...) LXSHIM_KUNIT_CMP(test, 1, l, !=, r, __VA_ARGS__)
#define KUNIT_ASSERT_LE_MSG(test, l, r, ...) LXSHIM_KUNIT_CMP(test, 1, l, <=, r, __VA_ARGS__)

/* Runs `fn(data)` when the case ends, even after a failed assertion; 0, or -ENOMEM after
 * running it at once. */
static inline int kunit_add_action_or_reset(struct kunit *test, kunit_action_t *fn, void *data) {
  if (test->n_actions == LXSHIM_KUNIT_MAX_ACTIONS) {
    fn(data);
    return -ENOMEM;
  }
  test->actions[test->n_actions].fn = fn;
  test->actions[test->n_actions].data = data;
  test->n_actions++;
  return 0;
}

static inline void *kunit_kzalloc(struct kunit *test, size_t size, gfp_t gfp) {
  void *p = calloc(1, size);
  (void)gfp;
  if (p && kunit_add_action_or_reset(test, free, p)) return NULL;
  return p;
}

/* Runs one case to its end: 1 when it passed. */
static inline int lxshim_kunit_run_case(struct kunit_case *c) {
  jmp_buf abort;
  /* On the heap: what the case changes in it must survive the longjmp. */
  struct kunit *const test = calloc(1, sizeof(*test));
  if (!test) return 0;
  test->name = c->name;
  test->abort = &abort;
  if (!setjmp(abort)) c->run_case(test);
  test->abort = NULL;
  while (test->n_actions) {
    test->n_actions--;
    test->actions[test->n_actions].fn(test->actions[test->n_actions].data);
  }
  const int passed = !test->failed;
  free(test);
  return passed;
}

#endif
