/* Pages, slabs and the streaming DMA API, backed by the checker's table memory. A table page
 * lives at a fixed offset from its paddr in a host region the page table reserved
 * (runtime.c), so __pa/__va/virt_to_phys are additions; page allocations are the checker's
 * alloc_table (with its failure injection), and dma_sync_single_for_device publishes the
 * synced bytes to the memory the device walks. struct page * is the page's address. */
#ifndef LXSHIM_MM_H
#define LXSHIM_MM_H

#include "lxshim/base.h"
#include "lxshim/list.h"

#define PAGE_SHIFT 12
#define PAGE_SIZE (1UL << PAGE_SHIFT)
#define PAGE_MASK (~(PAGE_SIZE - 1))
#define NUMA_NO_NODE (-1)

#define ___GFP_BIT(n) (1U << (n))
#define __GFP_DMA ___GFP_BIT(0)
#define __GFP_HIGHMEM ___GFP_BIT(1)
#define __GFP_DMA32 ___GFP_BIT(2)
#define __GFP_ZERO ___GFP_BIT(3)
#define __GFP_NOWARN ___GFP_BIT(4)
#define __GFP_NORETRY ___GFP_BIT(5)
#define GFP_ATOMIC ___GFP_BIT(6)
#define GFP_KERNEL ___GFP_BIT(7)
#define GFP_DMA __GFP_DMA
#define GFP_DMA32 __GFP_DMA32
#define GFP_KERNEL_ACCOUNT GFP_KERNEL

#define SLAB_CACHE_DMA ___GFP_BIT(0)
#define SLAB_CACHE_DMA32 ___GFP_BIT(1)
#define SLAB_PANIC ___GFP_BIT(2)

struct page {
  struct list_head lru;
};
struct folio;
struct pglist_data;

unsigned long lxshim_region_base(void);
/* Also marks the table at paddr as one Linux may store into (a coherent walk's bookkeeping). */
void *lxshim_va(phys_addr_t paddr);
#define __va(paddr) lxshim_va((phys_addr_t)(paddr))
#define __pa(vaddr) ((phys_addr_t)((unsigned long)(vaddr)-lxshim_region_base()))
static inline phys_addr_t virt_to_phys(const volatile void *v) { return __pa(v); }
static inline void *phys_to_virt(phys_addr_t p) { return __va(p); }
static inline void *page_address(const struct page *page) { return (void *)page; }
static inline struct page *virt_to_page(const void *v) { return (struct page *)v; }
#define page_to_virt(page) page_address(page)
static inline struct folio *virt_to_folio(const void *v) { return (struct folio *)v; }
static inline void *folio_address(const struct folio *folio) { return (void *)folio; }

static inline int get_order(unsigned long size) {
  return size <= PAGE_SIZE ? 0 : ilog2(size - 1) - PAGE_SHIFT + 1;
}

/* Table memory: `bytes` zeroed bytes aligned to `align`; NULL for -ENOMEM. */
void *lxshim_alloc(size_t bytes, size_t align);
void lxshim_free(const void *table);

struct page *alloc_pages_node(int nid, gfp_t gfp, unsigned int order);
struct page *alloc_pages(gfp_t gfp, unsigned int order);
void __free_pages(struct page *page, unsigned int order);
unsigned long __get_free_pages(gfp_t gfp, unsigned int order);
void free_pages(unsigned long addr, unsigned int order);
/* Newer trees allocate through iommu-pages.c (declared by their iommu-pages.h, defined by
 * runtime.c); older trees' iommu-pages.h defines static versions over alloc_pages_node. */
static inline void put_page(struct page *page) { __free_pages(page, 0); }

/* Page accounting has no meaning here. */
#define NR_IOMMU_PAGES 0
#define NR_SECONDARY_PAGETABLE 0
#define page_pgdat(page) ((struct pglist_data *)0)
#define mod_node_page_state(pgdat, item, delta) ((void)(pgdat), (void)(delta))
#define mod_lruvec_page_state(page, item, delta) ((void)(page), (void)(delta))
#define kmemleak_ignore(ptr) ((void)(ptr))

/* Host bookkeeping (struct io_pgtable and friends): ordinary heap memory. */
void *kmalloc(size_t size, gfp_t gfp);
void *kzalloc(size_t size, gfp_t gfp);
void kfree(const void *ptr);
/* Newer trees' typed allocations: kmalloc_obj(*ptr) allocates one object of ptr's type. */
#define kmalloc_obj(obj, ...) ((typeof(obj) *)kmalloc(sizeof(obj), GFP_KERNEL))
#define kzalloc_obj(obj, ...) ((typeof(obj) *)kzalloc(sizeof(obj), GFP_KERNEL))

/* A slab of table-sized objects (v7s level-2 tables): each object is a table allocation. */
struct kmem_cache;
struct kmem_cache *kmem_cache_create(const char *name, unsigned int size, unsigned int align,
                                     slab_flags_t flags, void (*ctor)(void *));
void kmem_cache_destroy(struct kmem_cache *cache);
void *kmem_cache_zalloc(struct kmem_cache *cache, gfp_t gfp);
void kmem_cache_free(struct kmem_cache *cache, void *obj);

struct device {
  int numa_node;
};
static inline int dev_to_node(struct device *dev) { return dev ? dev->numa_node : NUMA_NO_NODE; }

enum dma_data_direction { DMA_BIDIRECTIONAL, DMA_TO_DEVICE, DMA_FROM_DEVICE, DMA_NONE };
#define DMA_MAPPING_ERROR (~(dma_addr_t)0)
dma_addr_t dma_map_single(struct device *dev, void *ptr, size_t size, enum dma_data_direction dir);
void dma_unmap_single(struct device *dev, dma_addr_t addr, size_t size,
                      enum dma_data_direction dir);
void dma_sync_single_for_device(struct device *dev, dma_addr_t addr, size_t size,
                                enum dma_data_direction dir);
static inline int dma_mapping_error(struct device *dev, dma_addr_t addr) {
  (void)dev;
  return addr == DMA_MAPPING_ERROR;
}

/* Locks: the checker calls one page table from one thread at a time, but the shim keeps the
 * kernel's mutual exclusion so that concurrent callers stay correct. */
typedef struct {
  int locked;
} spinlock_t;
static inline void spin_lock_init(spinlock_t *l) { l->locked = 0; }
static inline void spin_lock(spinlock_t *l) {
  while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE)) {
  }
}
static inline void spin_unlock(spinlock_t *l) { __atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE); }
#define spin_lock_irqsave(l, flags) ((void)(flags), spin_lock(l))
#define spin_unlock_irqrestore(l, flags) ((void)(flags), spin_unlock(l))

#endif
