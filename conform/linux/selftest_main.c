/* Runs the kernel's own io-pgtable selftest initcalls in userspace against the shim: table
 * pages come from a scratch allocator (the selftests walk coherently, so nothing is published)
 * and every WARN is printed and counted, since the selftests report a failed check by WARN. */
#include <stdio.h>
#include <string.h>

#include "runtime.h"

int lxshim_selftest_lpae(void);
int lxshim_selftest_v7s(void);

static uint64_t next_paddr = 1ULL << 31;
static unsigned warnings;

static uint64_t st_alloc(void *ctx, uint64_t size, uint64_t align) {
  (void)ctx;
  const uint64_t a = align ? align : size;
  next_paddr = (next_paddr + a - 1) & ~(a - 1);
  const uint64_t paddr = next_paddr;
  next_paddr += size;
  return paddr;
}
static void st_free(void *ctx, uint64_t paddr) { (void)ctx, (void)paddr; }
static uint64_t st_read64(void *ctx, uint64_t paddr) { return (void)ctx, (void)paddr, 0; }
static void st_write64(void *ctx, uint64_t paddr, uint64_t v) { (void)ctx, (void)paddr, (void)v; }
static uint32_t st_read32(void *ctx, uint64_t paddr) { return (void)ctx, (void)paddr, 0; }
static void st_write32(void *ctx, uint64_t paddr, uint32_t v) { (void)ctx, (void)paddr, (void)v; }
static void st_flush_all(void *ctx) { (void)ctx; }
static void st_flush_walk(void *ctx, uint64_t iova, uint64_t size, uint64_t granule) {
  (void)ctx, (void)iova, (void)size, (void)granule;
}
static void st_add_page(void *ctx, void *gather, uint64_t iova, uint64_t granule) {
  (void)ctx, (void)gather, (void)iova, (void)granule;
}
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
  const struct iommucheck_host host = {
      .alloc_table = st_alloc,
      .free_table = st_free,
      .read64 = st_read64,
      .write64 = st_write64,
      .read32 = st_read32,
      .write32 = st_write32,
      .tlb_flush_all = st_flush_all,
      .tlb_flush_walk = st_flush_walk,
      .tlb_add_page = st_add_page,
      .warn = st_warn,
  };
  struct lxshim_ctx ctx;
  if (lxshim_ctx_init(&ctx, &host, 8, 0) != 0) return 2;
  lxshim_enter(&ctx);
  const int lpae = run("arm_lpae_do_selftests", lxshim_selftest_lpae);
  const int v7s = run("arm_v7s_do_selftests", lxshim_selftest_v7s);
  return lpae && v7s ? 0 : 1;
}
