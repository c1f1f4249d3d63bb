/* The plugin's entry: the descriptor of the variant this object was built for (variant.c
 * names it), completed from the probe, and the ABI's operations. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "glue.h"

extern const char lxshim_variant_name[];

#ifdef LXSHIM_COVERAGE
/* libgcov's interface (gcc --coverage; the kernel's files are instrumented, docs/LINUX.md). */
void __gcov_dump(void);
void __gcov_reset(void);
#endif

static const struct lxshim_variant *variant;
static struct lxshim_probe probe;
static struct iommucheck_driver descriptor;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static int create(const struct iommucheck_host *host, const char *options, void **handle) {
  if (options && *options) return -EINVAL;
  return lxshim_pgtable_create(variant, host, (struct lxshim_pgtable **)handle);
}

static void destroy(void *handle) { lxshim_pgtable_destroy(handle); }

static int map_pages(void *handle, uint64_t iova, uint64_t paddr, uint64_t pgsize, uint64_t pgcount,
                     int prot, uint64_t *mapped) {
  return lxshim_map(handle, iova, paddr, pgsize, pgcount, prot, mapped);
}

static uint64_t unmap_pages(void *handle, uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                            void *gather) {
  return lxshim_unmap(handle, iova, pgsize, pgcount, gather);
}

static uint64_t iova_to_phys(void *handle, uint64_t iova) {
  return lxshim_iova_to_phys(handle, iova);
}

static size_t roots(void *handle, uint64_t *out, size_t max) {
  return variant->roots(lxshim_pgtable_cfg(handle), out, max);
}

static void describe(void) {
  variant = lxshim_find_variant(lxshim_variant_name);
  if (!variant) {
    strcpy(probe.error, "no such variant in the shim");
    return;
  }
  lxshim_run_probe(variant, &probe);
  /* A configuration hw/ cannot walk runs against the reference alone, and says so. */
  static char description[320];
  snprintf(description, sizeof(description), "%s%s%s", variant->description,
           probe.unwalkable[0] ? "; no hw walk: " : "", probe.unwalkable);
#ifdef LXSHIM_COVERAGE
  /* What the probe ran is not what the campaign reached. */
  __gcov_reset();
#endif
  descriptor = (struct iommucheck_driver){
      .abi_version = IOMMUCHECK_DRIVER_ABI_VERSION,
      .name = variant->name,
      .description = description,
      .pgsize_bitmap = probe.pgsize_bitmap,
      .ias = probe.ias,
      .oas = probe.oas,
      .partial_unmap = probe.partial_unmap,
      .hw_format = probe.unwalkable[0] ? NULL : variant->hw_format,
      .hw_granule = probe.unwalkable[0] ? 0 : variant->hw_granule,
      .create = create,
      .destroy = destroy,
      .map_pages = map_pages,
      .unmap_pages = unmap_pages,
      .iova_to_phys = iova_to_phys,
      .roots = roots,
      .hw_start_level = probe.unwalkable[0] ? IOMMUCHECK_HW_START_LEVEL_DEFAULT : probe.start_level,
      /* Linux takes map/unmap of disjoint ranges at once; a coherent walk's tables are
       * published by comparing whole tables with their shadows, which is not. */
      .flags = variant->coherent_walk ? 0 : IOMMUCHECK_DRIVER_CONCURRENT,
  };
}

IOMMUCHECK_DRIVER_EXPORT const struct iommucheck_driver *iommucheck_driver_descriptor(
    uint32_t host_abi_version) {
  (void)host_abi_version;
  pthread_once(&once, describe);
  return probe.ok ? &descriptor : NULL;
}

/* Why the descriptor is NULL: the probe's finding, for the builder's error message. */
IOMMUCHECK_DRIVER_EXPORT const char *iommucheck_linux_probe_error(void) {
  pthread_once(&once, describe);
  return probe.ok ? "" : probe.error;
}

#ifdef LXSHIM_COVERAGE
/* Writes the kernel files' coverage counters (to the .gcda files GCOV_PREFIX places) and
 * zeroes them: an isolated child ends with _exit, which would skip libgcov's own dump. */
IOMMUCHECK_DRIVER_EXPORT void iommucheck_linux_coverage_flush(void) {
  __gcov_dump();
  __gcov_reset();
}
#endif
