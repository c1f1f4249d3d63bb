/*
 * Broken plugins for iommucheck's loader tests: each -D switch below builds one shared object
 * with one thing wrong. The driver itself maps nothing; it only has to load (or not).
 *
 *   BAD_NO_SYMBOL    exports no iommucheck_driver_descriptor
 *   BAD_ABI_VERSION  declares another ABI version
 *   BAD_NO_MAP       has no map_pages function
 *   BAD_CONFIG       declares an ias of 99 bits
 *   BAD_POLICY       declares partial-unmap policy 7
 *   BAD_FORMAT       declares an unknown hw format
 *   BAD_FORMAT_IAS   declares an ias its hw format cannot walk
 *   BAD_PGSIZE       declares a page size its hw format has no leaf for
 *   BAD_START_LEVEL  declares a start level its hw format cannot walk from
 *   BAD_START_SIGN   declares a start level of -2
 *   BAD_START_NO_FORMAT declares a start level but no hw format
 *   BAD_HOST_MISUSE  loads, then misuses the host in map_pages (see misuse())
 *   BAD_WARN_CONTROL WARNs from iova_to_phys with terminal escapes and a forged line
 *   BAD_FLAGS        declares a flag bit no ABI version defines
 */
#include <errno.h>
#include <stddef.h>

#include "iommucheck_driver.h"

struct bad {
  const struct iommucheck_host *host;
  uint64_t root;
};

static struct bad the_table; /* one handle at a time is all the tests need */

static int bad_create(const struct iommucheck_host *host, const char *options, void **handle) {
  (void)options;
  the_table.host = host;
  the_table.root = host->alloc_table(host->ctx, 4096, 0);
  if (!the_table.root) return -ENOMEM;
  *handle = &the_table;
  return 0;
}

static void bad_destroy(void *handle) {
  struct bad *b = handle;
  b->host->free_table(b->host->ctx, b->root);
}

#ifdef BAD_HOST_MISUSE
/* A double free, an allocation that is not a power of two, a misaligned read, a gather that
 * is not the caller's, and a WARN: each must reach iommucheck as a finding, not a crash. */
static void misuse(const struct bad *b, uint64_t *mapped) {
  const struct iommucheck_host *h = b->host;
  uint64_t extra = h->alloc_table(h->ctx, 4096, 0);
  h->free_table(h->ctx, extra);
  h->free_table(h->ctx, extra);
  *mapped = h->alloc_table(h->ctx, 3000, 0); /* 0: refused */
  *mapped |= h->read64(h->ctx, b->root + 4);
  h->tlb_add_page(h->ctx, (void *)b, 0, 4096); /* not a gather, and outside unmap_pages */
  IOMMUCHECK_WARN_ON(h, *mapped == 0);
}
#endif

#ifndef BAD_NO_MAP
static int bad_map_pages(void *handle, uint64_t iova, uint64_t paddr, uint64_t pgsize,
                         uint64_t pgcount, int prot, uint64_t *mapped) {
  (void)iova, (void)paddr, (void)pgsize, (void)pgcount, (void)prot;
#ifdef BAD_HOST_MISUSE
  misuse(handle, mapped);
#else
  (void)handle, (void)mapped;
#endif
  return -EINVAL;
}
#endif

static uint64_t bad_unmap_pages(void *handle, uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                                void *gather) {
  (void)handle, (void)iova, (void)pgsize, (void)pgcount, (void)gather;
  return 0;
}

static uint64_t bad_iova_to_phys(void *handle, uint64_t iova) {
  (void)iova;
#ifdef BAD_WARN_CONTROL
  const struct bad *b = handle;
  b->host->warn(b->host->ctx, "\x1b[31mred\nVIOLATION: forged");
#else
  (void)handle;
#endif
  return 0;
}

static size_t bad_roots(void *handle, uint64_t *roots, size_t max) {
  const struct bad *b = handle;
  if (max > 0) roots[0] = b->root;
  return 1;
}

static const struct iommucheck_driver bad_driver = {
#ifdef BAD_ABI_VERSION
    .abi_version = 99,
#else
    .abi_version = IOMMUCHECK_DRIVER_ABI_VERSION,
#endif
    .name = "bad",
    .description = "a plugin for the loader tests",
#ifdef BAD_PGSIZE
    .pgsize_bitmap = (1ull << 12) | (1ull << 16),
#else
    .pgsize_bitmap = 1ull << 12,
#endif
#if defined(BAD_CONFIG)
    .ias = 99,
#elif defined(BAD_FORMAT_IAS)
    .ias = 52,
#else
    .ias = 48,
#endif
    .oas = 48,
#ifdef BAD_POLICY
    .partial_unmap = 7,
#else
    .partial_unmap = IOMMUCHECK_PARTIAL_UNMAP_SPLIT,
#endif
#if defined(BAD_FORMAT)
    .hw_format = "arm-65-lpae",
#elif defined(BAD_START_NO_FORMAT)
    .hw_format = NULL,
#else
    .hw_format = "arm-64-lpae-s1-4k",
#endif
    .hw_granule = 0,
    .create = bad_create,
    .destroy = bad_destroy,
#ifndef BAD_NO_MAP
    .map_pages = bad_map_pages,
#endif
    .unmap_pages = bad_unmap_pages,
    .iova_to_phys = bad_iova_to_phys,
    .roots = bad_roots,
#if defined(BAD_START_LEVEL) || defined(BAD_START_NO_FORMAT)
    .hw_start_level = 1,
#elif defined(BAD_START_SIGN)
    .hw_start_level = -2,
#else
    .hw_start_level = IOMMUCHECK_HW_START_LEVEL_DEFAULT,
#endif
#ifdef BAD_FLAGS
    .flags = 1u << 2,
#endif
};

#ifdef BAD_NO_SYMBOL
IOMMUCHECK_DRIVER_EXPORT const struct iommucheck_driver *iommucheck_driver_v0(void) {
  return &bad_driver;
}
#else
IOMMUCHECK_DRIVER_EXPORT const struct iommucheck_driver *iommucheck_driver_descriptor(
    uint32_t host_abi_version) {
  (void)host_abi_version;
  return &bad_driver;
}
#endif
