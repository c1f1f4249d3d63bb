/*
 * An example iommucheck driver: ARM 64-bit LPAE stage 1 page tables (4K granule, 48-bit ias
 * and oas, 4K/2M/1G leaves) written as real descriptors into iommucheck's table memory through
 * the host callbacks. Load it as `plugin:PATH/example_plugin.so`; docs/PLUGINS.md explains.
 *
 * It is deliberately simple: every operation walks from the root, one leaf at a time, and
 * tables are freed only when a block replaces an empty table and on destroy. Partial unmap
 * policy WHOLE (unmapping part of a block removes the whole block, as AMD and VT-d do) is the
 * simplest correct choice: no block ever has to be split.
 *
 * Built with -DEXAMPLE_SEEDED_BUG it carries one realistic bug for iommucheck to find.
 *
 * Built with -DEXAMPLE_STAGE2 it is a stage-2 driver for a 40-bit ias instead, whose level 0
 * has two entries. Like Linux 7.x, it walks that level rather than concatenating two level-1
 * tables as Linux 6.12 does, and declares so in hw_start_level (ABI version 2); adding
 * -DEXAMPLE_START_UNDECLARED leaves the format's default there, which walks wrong.
 * -DEXAMPLE_ABI_V1 builds the stage-1 driver with a version-1 descriptor, -DEXAMPLE_ABI_V2 with
 * a version-2 one.
 */
#include <errno.h>
#include <stdlib.h>

#include "iommucheck_driver.h"

#ifdef EXAMPLE_STAGE2
#define IAS 40
#else
#define IAS 48
#endif
#define OAS 48
#define GRANULE 4096u
#define PTES_PER_TABLE 512u
#define LAST_LEVEL 3

/* Descriptor bits (Arm ARM, VMSAv8-64 stage 1 long descriptors). */
#define PTE_VALID (1ull << 0)
#define PTE_TYPE_MASK 3ull
#define PTE_TYPE_TABLE 3ull
#define PTE_TYPE_BLOCK 1ull
#define PTE_TYPE_PAGE 3ull
#define PTE_ADDR_MASK 0x0000fffffffff000ull /* bits 47:12 */
#define PTE_ATTRINDX_SHIFT 2
#define PTE_ATTR_CACHE 1ull  /* MAIR index of write-back cacheable memory */
#define PTE_ATTR_DEVICE 2ull /* MAIR index of device memory */
#define PTE_AP_UNPRIV (1ull << 6)
#define PTE_AP_RDONLY (1ull << 7)
#define PTE_SH_OS (2ull << 8)
#define PTE_SH_IS (3ull << 8)
#define PTE_AF (1ull << 10)
#define PTE_NG (1ull << 11)
#define PTE_XN (3ull << 53) /* UXN and PXN */
/* Stage 2: permissions and memory type in the descriptor itself. */
#define PTE_HAP_READ (1ull << 6)
#define PTE_HAP_WRITE (1ull << 7)
#define PTE_MEMATTR_DEVICE (0x1ull << 2)
#define PTE_MEMATTR_NC (0x5ull << 2)
#define PTE_MEMATTR_CACHE (0xfull << 2)

struct example {
  const struct iommucheck_host *host;
  uint64_t pgd;
};

static unsigned level_shift(int level) { return 39u - 9u * (unsigned)level; }
static uint64_t level_size(int level) { return 1ull << level_shift(level); }

static uint64_t pte_paddr(uint64_t table, uint64_t iova, int level) {
  return table + 8 * ((iova >> level_shift(level)) & (PTES_PER_TABLE - 1));
}

static uint64_t rd(const struct example *ex, uint64_t paddr) {
  return ex->host->read64(ex->host->ctx, paddr);
}

static void wr(const struct example *ex, uint64_t paddr, uint64_t pte) {
  ex->host->write64(ex->host->ctx, paddr, pte);
}

static int is_table(uint64_t pte, int level) {
  return level < LAST_LEVEL && (pte & PTE_TYPE_MASK) == PTE_TYPE_TABLE;
}

static int is_leaf(uint64_t pte, int level) {
  return (pte & PTE_VALID) && !is_table(pte, level);
}

/* The level at which a leaf of pgsize lives, or -1 when it is not one of ours. */
static int leaf_level(uint64_t pgsize) {
  int level;
  for (level = 1; level <= LAST_LEVEL; level++)
    if (pgsize == level_size(level)) return level;
  return -1;
}

#ifdef EXAMPLE_STAGE2
/* The leaf bits for prot, as Linux's io-pgtable-arm writes them for stage 2. */
static uint64_t prot_to_pte(int prot, int level) {
  uint64_t pte = PTE_AF | (level == LAST_LEVEL ? PTE_TYPE_PAGE : PTE_TYPE_BLOCK);
  if (prot & IOMMUCHECK_PROT_READ) pte |= PTE_HAP_READ;
  if (prot & IOMMUCHECK_PROT_WRITE) pte |= PTE_HAP_WRITE;
  if (prot & IOMMUCHECK_PROT_MMIO)
    pte |= PTE_MEMATTR_DEVICE;
  else
    pte |= (prot & IOMMUCHECK_PROT_CACHE) ? PTE_MEMATTR_CACHE : PTE_MEMATTR_NC;
  pte |= (prot & IOMMUCHECK_PROT_CACHE) ? PTE_SH_IS : PTE_SH_OS;
  if (prot & IOMMUCHECK_PROT_NOEXEC) pte |= PTE_XN;
  return pte;
}
#else
/* The leaf bits for prot, as Linux's io-pgtable-arm writes them for stage 1. */
static uint64_t prot_to_pte(int prot, int level) {
  uint64_t pte = PTE_AF | PTE_NG | (level == LAST_LEVEL ? PTE_TYPE_PAGE : PTE_TYPE_BLOCK);
  if ((prot & IOMMUCHECK_PROT_READ) && !(prot & IOMMUCHECK_PROT_WRITE)) pte |= PTE_AP_RDONLY;
  if (!(prot & IOMMUCHECK_PROT_PRIV)) pte |= PTE_AP_UNPRIV;
  if (prot & IOMMUCHECK_PROT_MMIO)
    pte |= PTE_ATTR_DEVICE << PTE_ATTRINDX_SHIFT;
  else if (prot & IOMMUCHECK_PROT_CACHE)
    pte |= PTE_ATTR_CACHE << PTE_ATTRINDX_SHIFT;
  pte |= (prot & IOMMUCHECK_PROT_CACHE) ? PTE_SH_IS : PTE_SH_OS;
  if (prot & IOMMUCHECK_PROT_NOEXEC) pte |= PTE_XN;
  return pte;
}
#endif

static int subtree_empty(const struct example *ex, uint64_t table, int level) {
  unsigned i;
  for (i = 0; i < PTES_PER_TABLE; i++) {
    uint64_t pte = rd(ex, table + 8 * i);
    if (is_table(pte, level) ? !subtree_empty(ex, pte & PTE_ADDR_MASK, level + 1)
                             : (pte & PTE_VALID) != 0)
      return 0;
  }
  return 1;
}

static void free_subtree(const struct example *ex, uint64_t table, int level) {
  unsigned i;
  for (i = 0; level < LAST_LEVEL && i < PTES_PER_TABLE; i++) {
    uint64_t pte = rd(ex, table + 8 * i);
    if (is_table(pte, level)) free_subtree(ex, pte & PTE_ADDR_MASK, level + 1);
  }
  ex->host->free_table(ex->host->ctx, table);
}

/* Makes room for a leaf at *ptep: an empty table there is unhooked, flushed and freed. */
static int claim_slot(const struct example *ex, uint64_t ptep, uint64_t iova, int level) {
  uint64_t pte = rd(ex, ptep);
  if (!(pte & PTE_VALID)) return 0;
  if (!is_table(pte, level) || !subtree_empty(ex, pte & PTE_ADDR_MASK, level + 1)) return -EEXIST;
  wr(ex, ptep, 0);
  ex->host->tlb_flush_walk(ex->host->ctx, iova, level_size(level), GRANULE);
  free_subtree(ex, pte & PTE_ADDR_MASK, level + 1);
  return 0;
}

/* The table at `level` on the way to iova, allocating missing ones; 0 with *err set if none. */
static uint64_t walk_to(const struct example *ex, uint64_t iova, int level, int *err) {
  uint64_t table = ex->pgd;
  int l;
  for (l = 0; l < level; l++) {
    uint64_t ptep = pte_paddr(table, iova, l), pte = rd(ex, ptep);
    if (!(pte & PTE_VALID)) {
      uint64_t next = ex->host->alloc_table(ex->host->ctx, GRANULE, GRANULE);
      if (!next) {
        *err = -ENOMEM;
        return 0;
      }
      pte = next | PTE_TYPE_TABLE;
      wr(ex, ptep, pte);
    } else if (!is_table(pte, l)) {
      *err = -EEXIST; /* a block already covers iova */
      return 0;
    }
    table = pte & PTE_ADDR_MASK;
  }
  return table;
}

static int map_one(const struct example *ex, uint64_t iova, uint64_t paddr, int level,
                   uint64_t bits) {
  int err = 0;
  uint64_t table = walk_to(ex, iova, level, &err), ptep;
  if (!table) return err;
  ptep = pte_paddr(table, iova, level);
  err = claim_slot(ex, ptep, iova, level);
  if (err) return err;
  wr(ex, ptep, (paddr & PTE_ADDR_MASK) | bits);
  return 0;
}

static int example_map_pages(void *handle, uint64_t iova, uint64_t paddr, uint64_t pgsize,
                             uint64_t pgcount, int prot, uint64_t *mapped) {
  const struct example *ex = handle;
  int level = leaf_level(pgsize), err;
  uint64_t i, bits;
  if (level < 0 || pgcount == 0 || ((iova | paddr) & (pgsize - 1))) return -EINVAL;
  if ((iova >> IAS) || (paddr >> OAS)) return -ERANGE;
  if (!(prot & (IOMMUCHECK_PROT_READ | IOMMUCHECK_PROT_WRITE))) return -EINVAL;
  bits = prot_to_pte(prot, level);
  for (i = 0; i < pgcount; i++, iova += pgsize, paddr += pgsize) {
    if (((iova + pgsize - 1) >> IAS) || ((paddr + pgsize - 1) >> OAS)) return -ERANGE;
    err = map_one(ex, iova, paddr, level, bits);
    if (err) return err;
    *mapped += pgsize;
  }
  return 0;
}

/* The leaf descriptor mapping iova: its address in *ptep and its level, or 0 if unmapped. */
static uint64_t find_leaf(const struct example *ex, uint64_t iova, uint64_t *ptep, int *level) {
  uint64_t table = ex->pgd;
  int l;
  if (iova >> IAS) return 0;
  for (l = 0; l <= LAST_LEVEL; l++) {
    uint64_t pte;
    *ptep = pte_paddr(table, iova, l);
    pte = rd(ex, *ptep);
    if (!(pte & PTE_VALID)) return 0;
    if (!is_table(pte, l)) {
      if (IOMMUCHECK_WARN_ON(ex->host, l == 0 || (l == LAST_LEVEL && (pte & 2) == 0))) return 0;
      *level = l;
      return pte;
    }
    table = pte & PTE_ADDR_MASK;
  }
  return 0;
}

/* Clears n leaves of one table from the one at ptep (mapping iova) and queues their
 * invalidation; returns the bytes unmapped. */
static uint64_t clear_leaves(const struct example *ex, uint64_t ptep, uint64_t iova, int level,
                             uint64_t n, void *gather) {
  uint64_t size = level_size(level), i;
  for (i = 0; i < n; i++) wr(ex, ptep + 8 * i, 0);
#ifdef EXAMPLE_SEEDED_BUG
  /* Seeded bug: an off-by-one leaves the last leaf of the run in the IOTLB. */
  for (i = 0; i + 1 < n; i++)
#else
  for (i = 0; i < n; i++)
#endif
    ex->host->tlb_add_page(ex->host->ctx, gather, iova + i * size, size);
  return n * size;
}

/* How many leaves of `level`, at most max, follow one another in one table from ptep. */
static uint64_t leaf_run(const struct example *ex, uint64_t ptep, int level, uint64_t max) {
  uint64_t n = 1, first = (ptep / 8) % PTES_PER_TABLE;
  while (n < max && first + n < PTES_PER_TABLE && is_leaf(rd(ex, ptep + 8 * n), level)) n++;
  return n;
}

static uint64_t example_unmap_pages(void *handle, uint64_t iova, uint64_t pgsize,
                                    uint64_t pgcount, void *gather) {
  const struct example *ex = handle;
  uint64_t unmapped = 0, last, room;
  if (leaf_level(pgsize) < 0 || pgcount == 0 || (iova & (pgsize - 1)) || (iova >> IAS)) return 0;
  room = ((1ull << IAS) - iova) / pgsize;
  last = iova + (pgcount < room ? pgcount : room) * pgsize - 1;
  for (;;) {
    uint64_t ptep, size, n;
    int level;
    if (!find_leaf(ex, iova, &ptep, &level)) break;
    size = level_size(level);
    if ((iova & (size - 1)) || last - iova < size - 1) {
      /* WHOLE: the request cuts this leaf, so it goes entirely and the unmap ends here. */
      unmapped += clear_leaves(ex, ptep, iova & ~(size - 1), level, 1, gather);
      break;
    }
    n = leaf_run(ex, ptep, level, (last - iova + 1) / size);
    unmapped += clear_leaves(ex, ptep, iova, level, n, gather);
    iova += n * size;
    if (iova - 1 == last) break;
  }
  return unmapped;
}

static uint64_t example_iova_to_phys(void *handle, uint64_t iova) {
  uint64_t ptep, pte;
  int level;
  pte = find_leaf(handle, iova, &ptep, &level);
  if (!pte) return 0;
  return (pte & PTE_ADDR_MASK) | (iova & (level_size(level) - 1));
}

static int example_create(const struct iommucheck_host *host, const char *options,
                          void **handle) {
  struct example *ex;
  if (options && *options) return -EINVAL; /* this driver takes no options */
  ex = calloc(1, sizeof(*ex));
  if (!ex) return -ENOMEM;
  ex->host = host;
  ex->pgd = host->alloc_table(host->ctx, GRANULE, GRANULE);
  if (!ex->pgd) {
    free(ex);
    return -ENOMEM;
  }
  *handle = ex;
  return 0;
}

static void example_destroy(void *handle) {
  struct example *ex = handle;
  ex->host->tlb_flush_all(ex->host->ctx);
  free_subtree(ex, ex->pgd, 0);
  free(ex);
}

static size_t example_roots(void *handle, uint64_t *roots, size_t max) {
  const struct example *ex = handle;
  if (max > 0) roots[0] = ex->pgd;
  return 1;
}

static const struct iommucheck_driver example_driver = {
#if defined(EXAMPLE_ABI_V1)
    .abi_version = 1,
#elif defined(EXAMPLE_ABI_V2)
    .abi_version = 2,
#else
    .abi_version = IOMMUCHECK_DRIVER_ABI_VERSION,
#endif
#if defined(EXAMPLE_STAGE2)
    .name = "example-lpae-s2-4k",
    .description = "example plugin: ARM LPAE stage 2, 4K granule, 40-bit ias walked from a "
                   "2-entry level 0, partial unmap WHOLE",
#elif defined(EXAMPLE_SEEDED_BUG)
    .name = "example-lpae-s1-4k-seeded-bug",
    .description = "example plugin with a seeded bug: unmap skips tlb_add_page for a run's "
                   "last leaf",
#else
    .name = "example-lpae-s1-4k",
    .description = "example plugin: ARM LPAE stage 1, 4K granule, 48-bit, partial unmap WHOLE",
#endif
    .pgsize_bitmap = (1ull << 12) | (1ull << 21) | (1ull << 30),
    .ias = IAS,
    .oas = OAS,
    .partial_unmap = IOMMUCHECK_PARTIAL_UNMAP_WHOLE,
#ifdef EXAMPLE_STAGE2
    .hw_format = "arm-64-lpae-s2-4k",
#else
    .hw_format = "arm-64-lpae-s1-4k",
#endif
    .hw_granule = 0,
    .create = example_create,
    .destroy = example_destroy,
    .map_pages = example_map_pages,
    .unmap_pages = example_unmap_pages,
    .iova_to_phys = example_iova_to_phys,
    .roots = example_roots,
#if defined(EXAMPLE_ABI_V1)
    /* Not part of a version-1 descriptor: the host must not read it (2 is no level of ours). */
    .hw_start_level = 2,
#elif defined(EXAMPLE_STAGE2) && !defined(EXAMPLE_START_UNDECLARED)
    .hw_start_level = 0,
#else
    .hw_start_level = IOMMUCHECK_HW_START_LEVEL_DEFAULT,
#endif
#if defined(EXAMPLE_ABI_V2)
    /* Not part of a version-2 descriptor: the host must not read it (this driver is not
     * written for concurrent calls). */
    .flags = IOMMUCHECK_DRIVER_CONCURRENT,
#endif
};

IOMMUCHECK_DRIVER_EXPORT const struct iommucheck_driver *iommucheck_driver_descriptor(
    uint32_t host_abi_version) {
  (void)host_abi_version; /* the host refuses a version it does not support */
  return &example_driver;
}
