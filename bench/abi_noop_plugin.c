/* A plugin with no page table, for bench/linux_bench.cc: what the plugin ABI itself costs a
 * linux: driver. map_pages writes one word per page through host->write64 (what a linux:
 * driver's dma sync costs per PTE it publishes) and unmap_pages queues one tlb_add_page per
 * page (what Linux's unmap does per leaf); with pgcount 0 both are bare calls. */
#include <errno.h>
#include <stdlib.h>

#include "iommucheck_driver.h"

struct noop {
  const struct iommucheck_host *host;
  uint64_t table; /* the one page write64 aims at */
};

static int create(const struct iommucheck_host *host, const char *options, void **handle) {
  if (options && *options) return -EINVAL;
  struct noop *n = malloc(sizeof(*n));
  if (!n) return -ENOMEM;
  n->host = host;
  n->table = host->alloc_table(host->ctx, 4096, 0);
  if (!n->table) {
    free(n);
    return -ENOMEM;
  }
  *handle = n;
  return 0;
}

static void destroy(void *handle) {
  struct noop *n = handle;
  n->host->free_table(n->host->ctx, n->table);
  free(n);
}

static int map_pages(void *handle, uint64_t iova, uint64_t paddr, uint64_t pgsize, uint64_t pgcount,
                     int prot, uint64_t *mapped) {
  (void)iova;
  (void)prot;
  struct noop *n = handle;
  for (uint64_t i = 0; i < pgcount; i++)
    n->host->write64(n->host->ctx, n->table + 8 * (i % 512), paddr + i * pgsize);
  *mapped += pgsize * pgcount;
  return 0;
}

static uint64_t unmap_pages(void *handle, uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                            void *gather) {
  struct noop *n = handle;
  for (uint64_t i = 0; i < pgcount; i++)
    n->host->tlb_add_page(n->host->ctx, gather, iova + i * pgsize, pgsize);
  return pgsize * pgcount;
}

static uint64_t iova_to_phys(void *handle, uint64_t iova) {
  (void)handle;
  (void)iova;
  return 0;
}

static const struct iommucheck_driver descriptor = {
    .abi_version = IOMMUCHECK_DRIVER_ABI_VERSION,
    .name = "abi-noop",
    .description = "no page table: the plugin ABI's own cost",
    .pgsize_bitmap = (1ull << 12) | (1ull << 21) | (1ull << 30),
    .ias = 48,
    .oas = 48,
    .partial_unmap = IOMMUCHECK_PARTIAL_UNMAP_SPLIT,
    .hw_format = "",
    .hw_granule = 0,
    .create = create,
    .destroy = destroy,
    .map_pages = map_pages,
    .unmap_pages = unmap_pages,
    .iova_to_phys = iova_to_phys,
    .roots = NULL,
    .hw_start_level = IOMMUCHECK_HW_START_LEVEL_DEFAULT,
};

IOMMUCHECK_DRIVER_EXPORT const struct iommucheck_driver *iommucheck_driver_descriptor(
    uint32_t host_abi_version) {
  (void)host_abi_version;
  return &descriptor;
}
