/* 7.x's io-pgtable-arm KUnit suite (drivers/iommu/io-pgtable-arm-selftests.c) under our minimal
 * KUnit (selftest_include/kunit/): the file included whole, its suite's cases run in a loop. */
#include <stdio.h>

#include "lxshim_selftest.h"

/* After the selftest macros. */
#include "drivers/iommu/io-pgtable-arm-selftests.c"

/* 0 when every case passed; prints one line per case. */
int lxshim_selftest_lpae(void) {
  int failed = 0;
  for (struct kunit_case *c = lxshim_kunit_suite->test_cases; c->run_case; c++) {
    const int passed = lxshim_kunit_run_case(c);
    printf("%s.%s: %s\n", lxshim_kunit_suite->name, c->name, passed ? "PASS" : "FAIL");
    failed |= !passed;
  }
  return failed ? -EFAULT : 0;
}
