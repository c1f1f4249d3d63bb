/* The plugin ABI (conform/iommucheck_driver.h) over Linux's io-pgtable code: one page table
 * is one alloc_io_pgtable_ops() with the variant's io_pgtable_cfg, its iommu_flush_ops going
 * to the host's callbacks. The variant is chosen by name at build time (variant.c), the
 * configuration Linux settles on and its partial-unmap policy are found by running the tree's
 * own code once on a scratch table (probe.c). docs/LINUX.md describes the design. */
#include "glue.h"

#include <linux/io-pgtable.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

struct lxshim_pgtable {
  struct lxshim_ctx ctx;
  struct io_pgtable_cfg cfg;
  struct device dev;
  struct io_pgtable_ops *ops;
  /* XORed into every iova between the checker and Linux: a TTBR1 table (QUIRK_ARM_TTBR1)
   * translates the top of the 64-bit space, the checker's iovas count from 0. The XOR is its
   * own inverse, so an iova past the ias stays past it (Linux's -ERANGE still shows). */
  uint64_t iova_flip;
};

/* The unmap in progress on this thread: Linux's gather and the checker's for it. Per thread,
 * since unmaps of disjoint ranges may run at once (IOMMUCHECK_DRIVER_CONCURRENT). */
static __thread struct iommu_iotlb_gather *cur_gather;
static __thread void *cur_host_gather;

static struct lxshim_pgtable *from_cookie(void *cookie) { return cookie; }

/* An IOMMU driver's flush_all and flush_walk invalidate synchronously through MMIO writes,
 * which order every earlier store before them (writel's barrier): a coherent walk sees the
 * stores from here on. */
static void flush_all(void *cookie) {
  struct lxshim_pgtable *p = from_cookie(cookie);
  if (p->ctx.coherent) lxshim_publish_stores(&p->ctx);
  p->ctx.host->tlb_flush_all(p->ctx.host->ctx);
}

static void flush_walk(unsigned long iova, size_t size, size_t granule, void *cookie) {
  struct lxshim_pgtable *p = from_cookie(cookie);
  if (p->ctx.coherent) lxshim_publish_stores(&p->ctx);
  p->ctx.host->tlb_flush_walk(p->ctx.host->ctx, iova ^ p->iova_flip, size, granule);
}

/* tlb_add_page only queues an invalidation (no MMIO, so no barrier): the stores before it
 * are published when unmap returns, standing for the iotlb_sync that follows. A gather other
 * than the one unmap_pages handed Linux goes to the host as it is, which reports the misuse. */
static void add_page(struct iommu_iotlb_gather *gather, unsigned long iova, size_t granule,
                     void *cookie) {
  struct lxshim_pgtable *p = from_cookie(cookie);
  void *host_gather = gather == cur_gather ? cur_host_gather : (void *)gather;
  p->ctx.host->tlb_add_page(p->ctx.host->ctx, host_gather, iova ^ p->iova_flip, granule);
}

static const struct iommu_flush_ops flush_ops = {
    .tlb_flush_all = flush_all,
    .tlb_flush_walk = flush_walk,
    .tlb_add_page = add_page,
};

/* A driver's own table allocator (cfg->alloc): the checker's table memory all the same, so
 * failure injection and the device's view are unchanged. At least a page, as Linux's own. */
static void *custom_alloc(void *cookie, size_t size, gfp_t gfp) {
  (void)cookie, (void)gfp;
  return lxshim_alloc(size < PAGE_SIZE ? PAGE_SIZE : size, PAGE_SIZE);
}

static void custom_free(void *cookie, void *pages, size_t size) {
  (void)cookie, (void)size;
  lxshim_free(pages);
}

void lxshim_variant_cfg(const struct lxshim_variant *v, struct io_pgtable_cfg *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->quirks = v->quirks;
  cfg->pgsize_bitmap = v->pgsize_bitmap;
  cfg->ias = v->ias;
  cfg->oas = v->oas;
  /* Non-coherent: Linux syncs every PTE write and the device sees only what it synced.
   * Coherent (DART, the -coherent variants): the device sees what barriers published. */
  cfg->coherent_walk = v->coherent_walk;
  if (v->custom_alloc) {
    cfg->alloc = custom_alloc;
    cfg->free = custom_free;
  }
#ifdef LXSHIM_BENCH_COHERENT_WALK
  /* Bench-only build (bench/linux_bench.cc): Linux as on a coherent IOMMU, which never syncs,
   * so nothing reaches the device's memory. Never checkable; the CLI never sets it. */
  cfg->coherent_walk = 1;
#endif
}

int lxshim_pgtable_create(const struct lxshim_variant *v, const struct iommucheck_host *host,
                          struct lxshim_pgtable **out) {
  struct lxshim_pgtable *p = calloc(1, sizeof(*p));
  if (!p) return -ENOMEM;
  int ret = lxshim_ctx_init(&p->ctx, host, v->desc_bytes, v->coherent_walk);
  if (ret) {
    free(p);
    return ret;
  }
  lxshim_variant_cfg(v, &p->cfg);
  p->cfg.tlb = &flush_ops;
  p->cfg.iommu_dev = &p->dev;
  p->dev.numa_node = NUMA_NO_NODE;
  struct lxshim_ctx *prev = lxshim_enter(&p->ctx);
  p->ops = alloc_io_pgtable_ops(v->fmt, &p->cfg, p);
  if (p->ops && p->ctx.coherent) lxshim_mark_roots(&p->ctx);
  lxshim_leave(prev);
  if (!p->ops) {
    lxshim_ctx_release(&p->ctx);
    free(p);
    return -ENOMEM; /* the probe showed the configuration is accepted: only memory fails */
  }
  if (p->cfg.quirks & IO_PGTABLE_QUIRK_ARM_TTBR1) p->iova_flip = ~0ULL << p->cfg.ias;
  *out = p;
  return 0;
}

const struct io_pgtable_cfg *lxshim_pgtable_cfg(const struct lxshim_pgtable *p) { return &p->cfg; }

void lxshim_pgtable_destroy(struct lxshim_pgtable *p) {
  struct lxshim_ctx *prev = lxshim_enter(&p->ctx);
  free_io_pgtable_ops(p->ops);
  lxshim_leave(prev);
  lxshim_ctx_release(&p->ctx);
  free(p);
}

/* The end of a call into Linux. */
static void leave(struct lxshim_pgtable *p, struct lxshim_ctx *prev) {
  if (p->ctx.coherent) lxshim_settle(&p->ctx);
  lxshim_leave(prev);
}

int lxshim_map(struct lxshim_pgtable *p, uint64_t iova, uint64_t paddr, uint64_t pgsize,
               uint64_t pgcount, int prot, uint64_t *mapped) {
  size_t done = 0;
  struct lxshim_ctx *prev = lxshim_enter(&p->ctx);
  int ret = p->ops->map_pages(p->ops, iova ^ p->iova_flip, paddr, pgsize, pgcount, prot,
                              GFP_KERNEL, &done);
#ifdef LXSHIM_BROKEN_PUBLISH_AT_RETURN
  /* Test-only build (tests/linux): barriers publish nothing, the return does, as if the
   * device saw every store once map returned; a map missing its wmb() then goes unseen. */
  if (p->ctx.coherent) lxshim_publish_stores(&p->ctx);
#endif
  leave(p, prev);
  *mapped += done;
  return ret;
}

uint64_t lxshim_unmap(struct lxshim_pgtable *p, uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                      void *host_gather) {
  struct lxshim_ctx *prev = lxshim_enter(&p->ctx);
  struct iommu_iotlb_gather gather;
  iommu_iotlb_gather_init(&gather);
  cur_gather = &gather;
  cur_host_gather = host_gather;
  size_t ret = p->ops->unmap_pages(p->ops, iova ^ p->iova_flip, pgsize, pgcount, &gather);
  /* The caller's iotlb_sync, which completes every unmap, is an MMIO write: its barrier. */
  if (p->ctx.coherent) lxshim_publish_stores(&p->ctx);
  cur_gather = NULL;
  cur_host_gather = NULL;
  leave(p, prev);
  return ret;
}

uint64_t lxshim_iova_to_phys(struct lxshim_pgtable *p, uint64_t iova) {
  struct lxshim_ctx *prev = lxshim_enter(&p->ctx);
  phys_addr_t pa = p->ops->iova_to_phys(p->ops, iova ^ p->iova_flip);
  leave(p, prev);
  return pa;
}
