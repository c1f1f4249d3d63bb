/* See scratch_host.h. */
#include "scratch_host.h"

static uint64_t scratch_alloc(void *ctx, uint64_t size, uint64_t align) {
  struct lxshim_scratch *s = ctx;
  const uint64_t a = align ? align : size;
  s->next = (s->next + a - 1) & ~(a - 1);
  const uint64_t paddr = s->next;
  s->next += size;
  return paddr;
}
static void scratch_free(void *ctx, uint64_t paddr) { (void)ctx, (void)paddr; }
static uint64_t scratch_read64(void *ctx, uint64_t paddr) { return (void)ctx, (void)paddr, 0; }
static void scratch_write64(void *ctx, uint64_t paddr, uint64_t v) {
  (void)ctx, (void)paddr, (void)v;
}
static uint32_t scratch_read32(void *ctx, uint64_t paddr) { return (void)ctx, (void)paddr, 0; }
static void scratch_write32(void *ctx, uint64_t paddr, uint32_t v) {
  (void)ctx, (void)paddr, (void)v;
}
static void scratch_flush_all(void *ctx) { (void)ctx; }
static void scratch_flush_walk(void *ctx, uint64_t iova, uint64_t size, uint64_t granule) {
  (void)ctx, (void)iova, (void)size, (void)granule;
}
static void scratch_add_page(void *ctx, void *gather, uint64_t iova, uint64_t granule) {
  (void)ctx, (void)gather, (void)iova, (void)granule;
}

struct iommucheck_host lxshim_scratch_host(struct lxshim_scratch *s,
                                           void (*warn)(void *ctx, const char *message)) {
  s->next = 1ULL << 31;
  return (struct iommucheck_host){
      .ctx = s,
      .alloc_table = scratch_alloc,
      .free_table = scratch_free,
      .read64 = scratch_read64,
      .write64 = scratch_write64,
      .read32 = scratch_read32,
      .write32 = scratch_write32,
      .tlb_flush_all = scratch_flush_all,
      .tlb_flush_walk = scratch_flush_walk,
      .tlb_add_page = scratch_add_page,
      .warn = warn,
  };
}
