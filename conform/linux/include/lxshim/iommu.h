/* The parts of <linux/iommu.h> io-pgtable formats use: prot bits, the iotlb gather and the
 * dirty bitmap. The gather is a real struct, since formats read its `queued` flag; the glue
 * (glue.c) maps it back to the checker's gather in tlb_add_page. */
#ifndef LXSHIM_IOMMU_H
#define LXSHIM_IOMMU_H

#include "lxshim/mm.h"

#define IOMMU_READ (1 << 0)
#define IOMMU_WRITE (1 << 1)
#define IOMMU_CACHE (1 << 2)
#define IOMMU_NOEXEC (1 << 3)
#define IOMMU_MMIO (1 << 4)
#define IOMMU_PRIV (1 << 5)

struct iommu_iotlb_gather {
  unsigned long start;
  unsigned long end;
  size_t pgsize;
  struct list_head freelist;
  bool queued;
};

/* Newer trees keep freed table pages on a list until the IOTLB is flushed. */
struct iommu_pages_list {
  struct list_head pages;
};

static inline void iommu_iotlb_gather_init(struct iommu_iotlb_gather *gather) {
  gather->start = ULONG_MAX;
  gather->end = 0;
  gather->pgsize = 0;
  INIT_LIST_HEAD(&gather->freelist);
  gather->queued = false;
}
static inline bool iommu_iotlb_gather_queued(struct iommu_iotlb_gather *gather) {
  return gather && gather->queued;
}

/* Dirty tracking (the HD quirk): read_and_clear_dirty records into the bitmap. The checker
 * does not call it yet, so recording is a no-op with the kernel's signature. */
#define IOMMU_DIRTY_NO_CLEAR (1 << 0)
struct iommu_dirty_bitmap {
  void *bitmap;
  struct iommu_iotlb_gather *gather;
};
static inline void iommu_dirty_bitmap_record(struct iommu_dirty_bitmap *dirty, unsigned long iova,
                                             unsigned long length) {
  (void)dirty;
  (void)iova;
  (void)length;
}

#endif
