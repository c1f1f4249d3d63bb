/* Runs the KUnit suite of one file `iommucheck export --kunit` wrote, linked with a tree's
 * io-pgtable code and the shim's runtime (conform/linux_build.h, build_linux_kunit), and prints
 * the results as KTAP: exit 0 when every case passed, 1 otherwise. Table pages come from a
 * scratch host (no device: the tests walk coherently), each followed by an unmapped guard page
 * so that a write past a table's end is a crash rather than a silent write into the next one. */
#include <kunit/test.h>
#include <stdio.h>

#include "runtime.h"
#include "scratch_host.h"

extern struct kunit_suite *const lxshim_kunit_suite;

static struct lxshim_scratch scratch;
static uint64_t (*scratch_alloc)(void *ctx, uint64_t size, uint64_t align);

static uint64_t guarded_alloc(void *ctx, uint64_t size, uint64_t align) {
  const uint64_t paddr = scratch_alloc(ctx, size, align);
  scratch.next += 4096;
  return paddr;
}

static void warn(void *ctx, const char *message) {
  (void)ctx;
  printf("    # WARN: %s\n", message);
}

int main(void) {
  struct iommucheck_host host = lxshim_scratch_host(&scratch, warn);
  scratch_alloc = host.alloc_table;
  host.alloc_table = guarded_alloc;
  struct lxshim_ctx ctx;
  if (lxshim_ctx_init(&ctx, &host, 8, 0) != 0) return 2;
  lxshim_enter(&ctx);
  const struct kunit_suite *suite = lxshim_kunit_suite;
  unsigned cases = 0, failed = 0;
  for (const struct kunit_case *c = suite->test_cases; c->run_case; c++) cases++;
  printf("KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: %s\n    1..%u\n", suite->name,
         cases);
  fflush(stdout);
  unsigned i = 0;
  for (struct kunit_case *c = suite->test_cases; c->run_case; c++) {
    const int passed = lxshim_kunit_run_case(c);
    failed += !passed;
    printf("    %sok %u %s\n", passed ? "" : "not ", ++i, c->name);
    fflush(stdout);
  }
  printf("%sok 1 %s\n", failed ? "not " : "", suite->name);
  return failed ? 1 : 0;
}
