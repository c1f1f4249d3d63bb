/* Runs the kernel's own io-pgtable selftest initcalls in userspace against the shim: table
 * pages come from a scratch host (scratch_host.h: no device, so the context publishes nothing)
 * and every WARN is printed and counted, since the selftests report a failed check by WARN. */
#include <stdio.h>
#include <string.h>

#include "runtime.h"
#include "scratch_host.h"

int lxshim_selftest_lpae(void);
int lxshim_selftest_v7s(void);

static unsigned warnings;

static void st_warn(void *ctx, const char *message) {
  (void)ctx;
  warnings++;
  printf("WARN: %s\n", message);
}

static int run(const char *name, int (*selftest)(void)) {
  const unsigned before = warnings;
  const int ret = selftest();
  const int pass = ret == 0 && warnings == before;
  printf("%s: %s (returned %d, %u WARNs)\n", name, pass ? "PASS" : "FAIL", ret, warnings - before);
  return pass;
}

int main(void) {
  struct lxshim_scratch scratch;
  const struct iommucheck_host host = lxshim_scratch_host(&scratch, st_warn);
  struct lxshim_ctx ctx;
  if (lxshim_ctx_init(&ctx, &host, 8, 0) != 0) return 2;
  lxshim_enter(&ctx);
  const int lpae = run("arm_lpae_do_selftests", lxshim_selftest_lpae);
  const int v7s = run("arm_v7s_do_selftests", lxshim_selftest_v7s);
  return lpae && v7s ? 0 : 1;
}
