/* Between the shim's glue files: the variants, one Linux page table, and the probe. */
#ifndef LXSHIM_GLUE_H
#define LXSHIM_GLUE_H

#include <stddef.h>
#include <stdint.h>

#include "iommucheck_driver.h"

struct io_pgtable_cfg;
struct lxshim_pgtable;

struct lxshim_variant {
  const char *name;      /* the driver's name after linux: */
  const char *hw_format; /* iommucheck's name of the format its tables are written in */
  const char *description;
  int fmt; /* enum io_pgtable_fmt */
  unsigned long quirks;
  unsigned long pgsize_bitmap;
  unsigned ias, oas;
  int coherent_walk; /* 0: Linux syncs every PTE write; 1: only barriers publish them */
  unsigned desc_bytes;
  uint64_t hw_granule;
  /* The root table paddrs of a created table, from what Linux wrote into its cfg. */
  size_t (*roots)(const struct io_pgtable_cfg *cfg, uint64_t *out, size_t max);
  /* Why hw/ cannot walk what this configuration writes (NULL: it can). Such a variant
   * declares no hw format: the checker holds it to the reference (return values,
   * iova_to_phys) without a hardware walk, and its description says why. */
  const char *unwalkable;
  /* Tables come from cfg->alloc / cfg->free, a driver's own allocator (as panfrost's), over
   * the same table memory. */
  int custom_alloc;
};

/* The variant called `name`, or NULL. */
const struct lxshim_variant *lxshim_find_variant(const char *name);
/* The i-th variant, or NULL past the last (the builder lists them: list_variants.c). */
const struct lxshim_variant *lxshim_variant_at(size_t i);
/* The io_pgtable_cfg a variant starts from (no flush ops or device yet). */
void lxshim_variant_cfg(const struct lxshim_variant *v, struct io_pgtable_cfg *cfg);

int lxshim_pgtable_create(const struct lxshim_variant *v, const struct iommucheck_host *host,
                          struct lxshim_pgtable **out);
void lxshim_pgtable_destroy(struct lxshim_pgtable *p);
const struct io_pgtable_cfg *lxshim_pgtable_cfg(const struct lxshim_pgtable *p);
int lxshim_map(struct lxshim_pgtable *p, uint64_t iova, uint64_t paddr, uint64_t pgsize,
               uint64_t pgcount, int prot, uint64_t *mapped);
uint64_t lxshim_unmap(struct lxshim_pgtable *p, uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                      void *host_gather);
uint64_t lxshim_iova_to_phys(struct lxshim_pgtable *p, uint64_t iova);

/* What the tree's code makes of a variant, found by running it on a scratch table. */
struct lxshim_probe {
  int ok;
  char error[160];
  unsigned long pgsize_bitmap; /* after Linux restricted it */
  unsigned ias, oas;
  uint32_t partial_unmap; /* enum iommucheck_partial_unmap */
  int32_t start_level;    /* the level Linux walks from, or IOMMUCHECK_HW_START_LEVEL_DEFAULT */
  char unwalkable[128];   /* why hw/ cannot walk the tables the tree built, or empty */
};
void lxshim_run_probe(const struct lxshim_variant *v, struct lxshim_probe *out);

#endif
