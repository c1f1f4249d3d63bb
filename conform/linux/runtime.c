/* The shim's runtime: table memory backed by the checker's alloc_table, DMA sync publication
 * (a coherent walk's barrier publication is coherent.c), WARN reporting and host-side heap
 * bookkeeping. See runtime.h and docs/LINUX.md. */
#define _GNU_SOURCE
#include "runtime.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "lxshim/bug.h"
#include "lxshim/mm.h"

/* Table paddrs the checker hands out stay below 2^31 + 2^36 (hw/table_memory.h kMaxArena):
 * one reservation of 2^37 bytes of address space (no memory) covers them. */
#define LXSHIM_REGION_BYTES (1ULL << 37)

static __thread struct lxshim_ctx *current_ctx;

static struct lxshim_ctx *ctx_or_die(void) {
  if (!current_ctx) {
    fprintf(stderr, "iommucheck linux shim: kernel code called outside a page-table call\n");
    abort();
  }
  return current_ctx;
}

struct lxshim_ctx *lxshim_enter(struct lxshim_ctx *ctx) {
  struct lxshim_ctx *previous = current_ctx;
  current_ctx = ctx;
  return previous;
}

void lxshim_leave(struct lxshim_ctx *previous) { current_ctx = previous; }

struct lxshim_ctx *lxshim_current(void) { return current_ctx; }

int lxshim_ctx_init(struct lxshim_ctx *ctx, const struct iommucheck_host *host, unsigned desc_bytes,
                    bool coherent) {
  memset(ctx, 0, sizeof(*ctx));
  void *region = mmap(NULL, LXSHIM_REGION_BYTES, PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (region == MAP_FAILED) return -ENOMEM;
  ctx->host = host;
  ctx->region = region;
  ctx->region_bytes = LXSHIM_REGION_BYTES;
  ctx->desc_bytes = desc_bytes;
  ctx->coherent = coherent;
  pthread_mutex_init(&ctx->lock, NULL);
  return 0;
}

void lxshim_ctx_release(struct lxshim_ctx *ctx) {
  for (size_t i = 0; i < ctx->n_tables; i++) {
    free(ctx->tables[i]->shadow);
    free(ctx->tables[i]);
  }
  free(ctx->tables);
  free(ctx->reached);
  munmap(ctx->region, ctx->region_bytes);
  ctx->region = NULL;
  pthread_mutex_destroy(&ctx->lock);
}

unsigned long lxshim_region_base(void) { return (unsigned long)ctx_or_die()->region; }

/* __va: under a coherent walk, the table Linux now has a pointer to may get stores. */
void *lxshim_va(phys_addr_t paddr) {
  struct lxshim_ctx *ctx = ctx_or_die();
  if (ctx->coherent) lxshim_reach(ctx, lxshim_table_at(ctx, paddr));
  return ctx->region + paddr;
}

/* ---- table pages ---- */

/* The tables are kept sorted by paddr (they never overlap): the first index whose table starts
 * above `paddr`. */
static size_t upper_bound(const struct lxshim_ctx *ctx, uint64_t paddr) {
  size_t lo = 0, hi = ctx->n_tables;
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (ctx->tables[mid]->paddr <= paddr)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static struct lxshim_table *track(struct lxshim_ctx *ctx, uint64_t paddr, size_t bytes) {
  if (ctx->n_tables == ctx->cap_tables) {
    size_t cap = ctx->cap_tables ? 2 * ctx->cap_tables : 64;
    struct lxshim_table **tables = realloc(ctx->tables, cap * sizeof(*tables));
    if (!tables) return NULL;
    ctx->tables = tables;
    ctx->cap_tables = cap;
  }
  struct lxshim_table *t = calloc(1, sizeof(*t));
  if (!t || (ctx->coherent && !(t->shadow = calloc(1, bytes)))) {
    free(t);
    return NULL;
  }
  t->paddr = paddr;
  t->bytes = bytes;
  const size_t at = upper_bound(ctx, paddr);
  memmove(&ctx->tables[at + 1], &ctx->tables[at], (ctx->n_tables - at) * sizeof(*ctx->tables));
  ctx->tables[at] = t;
  ctx->n_tables++;
  return t;
}

/* The index of the table starting at `paddr`, or SIZE_MAX. */
static size_t table_index(struct lxshim_ctx *ctx, uint64_t paddr) {
  const size_t i = upper_bound(ctx, paddr);
  return i > 0 && ctx->tables[i - 1]->paddr == paddr ? i - 1 : SIZE_MAX;
}

struct lxshim_table *lxshim_table_at(struct lxshim_ctx *ctx, uint64_t paddr) {
  const size_t i = upper_bound(ctx, paddr);
  if (i == 0) return NULL;
  struct lxshim_table *t = ctx->tables[i - 1];
  return paddr - t->paddr < t->bytes ? t : NULL;
}

static void page_span(uint64_t paddr, size_t bytes, uint64_t *start, uint64_t *len) {
  *start = paddr & PAGE_MASK;
  *len = ALIGN(paddr + bytes, PAGE_SIZE) - *start;
}

static void *alloc_locked(struct lxshim_ctx *ctx, size_t bytes, size_t align) {
  const struct iommucheck_host *h = ctx->host;
  uint64_t paddr = h->alloc_table(h->ctx, bytes, align > bytes ? align : 0);
  if (!paddr) return NULL;
  uint64_t start, len;
  page_span(paddr, bytes, &start, &len);
  struct lxshim_table *t = NULL;
  if (paddr + bytes > ctx->region_bytes ||
      mprotect(ctx->region + start, len, PROT_READ | PROT_WRITE) != 0 ||
      !(t = track(ctx, paddr, bytes))) {
    h->free_table(h->ctx, paddr);
    return NULL;
  }
  memset(ctx->region + paddr, 0, bytes);
  if (ctx->coherent) lxshim_reach(ctx, t);
  return ctx->region + paddr;
}

void *lxshim_alloc(size_t bytes, size_t align) {
  struct lxshim_ctx *ctx = ctx_or_die();
  pthread_mutex_lock(&ctx->lock);
  void *table = alloc_locked(ctx, bytes, align);
  pthread_mutex_unlock(&ctx->lock);
  return table;
}

/* A freed page goes back to PROT_NONE, so that Linux touching it afterwards is a crash the
 * checker reports; a smaller table (v7s level 2) shares its host page and stays readable. */
static void free_locked(struct lxshim_ctx *ctx, uint64_t paddr) {
  const size_t i = table_index(ctx, paddr);
  ctx->host->free_table(ctx->host->ctx, paddr); /* the host reports a bad free */
  if (i == SIZE_MAX) return;
  struct lxshim_table *t = ctx->tables[i];
  if (t->bytes >= PAGE_SIZE && IS_ALIGNED(paddr, PAGE_SIZE)) {
    madvise(ctx->region + paddr, t->bytes, MADV_DONTNEED);
    mprotect(ctx->region + paddr, t->bytes, PROT_NONE);
  }
  lxshim_forget(ctx, t);
  free(t->shadow);
  free(t);
  ctx->n_tables--;
  memmove(&ctx->tables[i], &ctx->tables[i + 1], (ctx->n_tables - i) * sizeof(*ctx->tables));
}

void lxshim_free(const void *table) {
  if (!table) return;
  struct lxshim_ctx *ctx = ctx_or_die();
  pthread_mutex_lock(&ctx->lock);
  free_locked(ctx, (uint64_t)((const uint8_t *)table - ctx->region));
  pthread_mutex_unlock(&ctx->lock);
}

struct page *alloc_pages_node(int nid, gfp_t gfp, unsigned int order) {
  (void)nid;
  (void)gfp;
  return virt_to_page(lxshim_alloc(PAGE_SIZE << order, PAGE_SIZE << order));
}

struct page *alloc_pages(gfp_t gfp, unsigned int order) {
  return alloc_pages_node(NUMA_NO_NODE, gfp, order);
}

void __free_pages(struct page *page, unsigned int order) {
  (void)order;
  lxshim_free(page_address(page));
}

unsigned long __get_free_pages(gfp_t gfp, unsigned int order) {
  return (unsigned long)page_address(alloc_pages(gfp, order));
}

void free_pages(unsigned long addr, unsigned int order) {
  (void)order;
  lxshim_free((void *)addr);
}

/* iommu-pages.c of trees from 6.16 on (their iommu-pages.h declares these; 6.12's defines
 * static ones of its own, which these do not disturb). */
void *iommu_alloc_pages_node_sz(int nid, gfp_t gfp, size_t size);
void iommu_free_pages(void *virt);
int iommu_pages_start_incoherent(void *virt, struct device *dma_dev);
void iommu_pages_free_incoherent(void *virt, struct device *dma_dev);

void *iommu_alloc_pages_node_sz(int nid, gfp_t gfp, size_t size) {
  (void)nid;
  (void)gfp;
  const size_t bytes = PAGE_SIZE << get_order(size);
  return lxshim_alloc(bytes, bytes);
}

void iommu_free_pages(void *virt) { lxshim_free(virt); }

int iommu_pages_start_incoherent(void *virt, struct device *dma_dev) {
  struct lxshim_ctx *ctx = ctx_or_die();
  pthread_mutex_lock(&ctx->lock);
  const size_t i = table_index(ctx, __pa(virt));
  const size_t bytes = i == SIZE_MAX ? 0 : ctx->tables[i]->bytes;
  pthread_mutex_unlock(&ctx->lock);
  if (!bytes) return -EINVAL;
  dma_map_single(dma_dev, virt, bytes, DMA_TO_DEVICE);
  return 0;
}

void iommu_pages_free_incoherent(void *virt, struct device *dma_dev) {
  (void)dma_dev;
  lxshim_free(virt);
}

struct kmem_cache {
  size_t size;
  size_t align;
};

struct kmem_cache *kmem_cache_create(const char *name, unsigned int size, unsigned int align,
                                     slab_flags_t flags, void (*ctor)(void *)) {
  (void)name;
  (void)flags;
  (void)ctor;
  struct kmem_cache *c = malloc(sizeof(*c));
  if (c) *c = (struct kmem_cache){size, align};
  return c;
}

void kmem_cache_destroy(struct kmem_cache *cache) { free(cache); }

void *kmem_cache_zalloc(struct kmem_cache *cache, gfp_t gfp) {
  (void)gfp;
  return lxshim_alloc(cache->size, cache->align);
}

void kmem_cache_free(struct kmem_cache *cache, void *obj) {
  (void)cache;
  lxshim_free(obj);
}

void *kmalloc(size_t size, gfp_t gfp) {
  (void)gfp;
  return malloc(size);
}

void *kzalloc(size_t size, gfp_t gfp) {
  (void)gfp;
  return calloc(1, size);
}

void kfree(const void *ptr) { free((void *)ptr); }

/* ---- publication to the device ---- */

void lxshim_publish_words(struct lxshim_ctx *ctx, uint64_t paddr, size_t bytes) {
  const struct iommucheck_host *h = ctx->host;
  const uint8_t *src = ctx->region + paddr;
  if (ctx->desc_bytes == 8 && IS_ALIGNED(paddr | bytes, 8)) {
    for (size_t off = 0; off < bytes; off += 8)
      h->write64(h->ctx, paddr + off, *(const uint64_t *)(src + off));
    return;
  }
  for (size_t off = 0; off + 4 <= bytes; off += 4)
    h->write32(h->ctx, paddr + off, *(const uint32_t *)(src + off));
}

/* Streaming DMA: a non-coherent walker sees exactly what was cleaned to memory, so mapping a
 * buffer and syncing it for the device publish its words. For a coherent device dma-direct
 * does no cache maintenance: both publish nothing, and only barriers make stores visible. */
dma_addr_t dma_map_single(struct device *dev, void *ptr, size_t size, enum dma_data_direction dir) {
  (void)dev;
  (void)dir;
  struct lxshim_ctx *ctx = ctx_or_die();
  const dma_addr_t addr = __pa(ptr);
  if (!ctx->coherent) lxshim_publish_words(ctx, addr, size);
  return addr;
}

void dma_unmap_single(struct device *dev, dma_addr_t addr, size_t size,
                      enum dma_data_direction dir) {
  (void)dev;
  (void)addr;
  (void)size;
  (void)dir;
}

void dma_sync_single_for_device(struct device *dev, dma_addr_t addr, size_t size,
                                enum dma_data_direction dir) {
  (void)dev;
  (void)dir;
  struct lxshim_ctx *ctx = ctx_or_die();
  const unsigned long syncs = __atomic_add_fetch(&ctx->syncs, 1, __ATOMIC_RELAXED);
  (void)syncs;
#ifdef LXSHIM_BROKEN_DROP_SYNC
  /* Test-only build (tests/linux): the Nth sync is lost, as if Linux had forgotten it. */
  if (syncs == LXSHIM_BROKEN_DROP_SYNC) return;
#endif
  if (!ctx->coherent) lxshim_publish_words(ctx, addr, size);
}

/* ---- WARN and BUG ---- */

void lxshim_warn(const char *file, int line, const char *fmt, ...) {
  struct lxshim_ctx *ctx = ctx_or_die();
  char message[512];
  int n = snprintf(message, sizeof(message), "%s:%d: ", file, line);
  va_list ap;
  va_start(ap, fmt);
  if (n > 0 && (size_t)n < sizeof(message)) vsnprintf(message + n, sizeof(message) - n, fmt, ap);
  va_end(ap);
  ctx->host->warn(ctx->host->ctx, message);
}

void lxshim_bug(const char *file, int line, const char *what) {
  lxshim_warn(file, line, "%s", what);
  fprintf(stderr, "%s:%d: %s\n", file, line, what);
  abort();
}
