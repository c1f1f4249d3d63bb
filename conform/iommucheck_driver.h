/*
 * iommucheck_driver.h: the stable C ABI between iommucheck and a page-table driver built as a
 * shared object and loaded as `plugin:PATH.so`. C99 (also valid C++); include nothing else
 * from iommucheck. docs/PLUGINS.md walks through writing, building and loading one.
 *
 * The driver exports one function, IOMMUCHECK_DRIVER_SYMBOL, returning a descriptor: what the
 * driver declares (page sizes, address sizes, partial-unmap policy, the hardware format its
 * tables are written in) and its operations, which mirror Linux's io_pgtable_ops. The host
 * (iommucheck) hands the driver a table of callbacks mirroring iommu_flush_ops plus the
 * table-page allocator and the memory accessors: a driver's tables live in iommucheck's
 * simulated physical memory, addressed by paddr, and are read and written only through them.
 *
 * Versioning. IOMMUCHECK_DRIVER_ABI_VERSION names one frozen layout of every struct and
 * function type below; any change to them, even an appended member, takes a new version.
 * `abi_version` is the first member of the descriptor in every version, so a host reads it
 * before anything else and refuses versions it does not know. The entry function receives
 * the host's version, so one plugin may carry descriptors for several versions. The host
 * loads every version from IOMMUCHECK_DRIVER_ABI_VERSION_MIN up: version 1 is version 2
 * without the descriptor's member hw_start_level, which the host reads only from a version-2
 * or later descriptor (a version-1 driver walks from its format's default start level);
 * version 2 is version 3 without the last member, flags, which the host reads only from a
 * version-3 descriptor (an earlier driver declares no flags).
 *
 * Ownership. The descriptor and its strings are static: valid while the shared object is
 * loaded. The host struct is owned by the host and stays valid from create() until destroy()
 * returns; the driver may keep the pointer. `options` is valid only during create(). A handle
 * is owned by the driver: it is freed by destroy(), which must also free every table page the
 * driver allocated (the host reports any page still allocated as a leak).
 *
 * Threading. The host calls one handle's functions from one thread at a time, unless the
 * driver declares IOMMUCHECK_DRIVER_CONCURRENT (version 3): then map_pages, unmap_pages and
 * iova_to_phys of one handle may run on several threads at once, on disjoint iova ranges, as
 * the Linux IOMMU API allows (create, destroy and roots still run alone). Different handles
 * may be used from different threads at once, so a driver must not keep unlocked global
 * mutable state. The driver calls host callbacks only from inside a call the host made into
 * it, on the calling thread, with that handle's host struct; the host's callbacks are then
 * safe to call from those threads at once.
 *
 * Errors. Linux conventions, with Linux errno values (<errno.h> on Linux): map_pages returns
 * 0 or a negative errno and adds the bytes it mapped to *mapped even when it fails; unmap_pages
 * returns the bytes it unmapped, 0 when nothing is mapped at iova; iova_to_phys returns 0 for
 * an unmapped iova. A broken invariant the driver detects itself (Linux WARN_ON) goes to
 * host->warn(): the host records it as a finding and continues.
 */
#ifndef IOMMUCHECK_DRIVER_H
#define IOMMUCHECK_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IOMMUCHECK_DRIVER_ABI_VERSION 3u
#define IOMMUCHECK_DRIVER_ABI_VERSION_MIN 1u

/* hw_start_level: the start level of the hw format's default. */
#define IOMMUCHECK_HW_START_LEVEL_DEFAULT (-1)

/* flags (version 3): map_pages, unmap_pages and iova_to_phys may be called concurrently on
 * disjoint iova ranges of one handle (`iommucheck check --threads N` needs it). */
#define IOMMUCHECK_DRIVER_CONCURRENT (1u << 0)
#define IOMMUCHECK_DRIVER_KNOWN_FLAGS IOMMUCHECK_DRIVER_CONCURRENT

/* The one symbol a plugin exports; its type is iommucheck_driver_descriptor_fn. */
#define IOMMUCHECK_DRIVER_SYMBOL "iommucheck_driver_descriptor"

/* Marks the entry function exported when the plugin is built with -fvisibility=hidden. */
#if defined(__GNUC__)
#define IOMMUCHECK_DRIVER_EXPORT __attribute__((visibility("default")))
#else
#define IOMMUCHECK_DRIVER_EXPORT
#endif

/* prot bits, with Linux's values (include/linux/iommu.h). */
#define IOMMUCHECK_PROT_READ (1 << 0)
#define IOMMUCHECK_PROT_WRITE (1 << 1)
#define IOMMUCHECK_PROT_CACHE (1 << 2)
#define IOMMUCHECK_PROT_NOEXEC (1 << 3)
#define IOMMUCHECK_PROT_MMIO (1 << 4)
#define IOMMUCHECK_PROT_PRIV (1 << 5)

/* What unmap_pages does when a request covers only part of a leaf (docs/SEMANTICS.md). */
enum iommucheck_partial_unmap {
  IOMMUCHECK_PARTIAL_UNMAP_SPLIT = 0,  /* split the leaf, unmap exactly the request */
  IOMMUCHECK_PARTIAL_UNMAP_REFUSE = 1, /* unmap nothing, return 0 */
  IOMMUCHECK_PARTIAL_UNMAP_WHOLE = 2   /* unmap the whole leaf, return its size, stop */
};

/* What the host offers a driver. Every callback takes `ctx` as its first argument. */
struct iommucheck_host {
  void *ctx;

  /* A zeroed table page of `size` bytes aligned to `align` (0: to `size`), both powers of
   * two. Returns its paddr, or 0 when the allocation fails: the driver's -ENOMEM path. */
  uint64_t (*alloc_table)(void *ctx, uint64_t size, uint64_t align);
  /* Frees a table page by the paddr alloc_table returned. */
  void (*free_table)(void *ctx, uint64_t paddr);

  /* Little-endian, naturally aligned accesses to allocated table memory. An access outside
   * it (a use after free, a wild pointer) is recorded as a finding; reads then return the
   * poison value of freed memory or 0, writes are dropped. */
  uint64_t (*read64)(void *ctx, uint64_t paddr);
  void (*write64)(void *ctx, uint64_t paddr, uint64_t value);
  uint32_t (*read32)(void *ctx, uint64_t paddr);
  void (*write32)(void *ctx, uint64_t paddr, uint32_t value);

  /* iommu_flush_ops. tlb_flush_all and tlb_flush_walk are synchronous: cached translations
   * (and, for flush_walk, cached table pointers) of the range are gone on return; call
   * tlb_flush_walk after clearing a table's parent entry and before freeing the table.
   * tlb_add_page queues the leaf invalidation of one removed leaf into the caller's gather;
   * the host drops it when the gather is queued (a flush queue), so a driver need not check. */
  void (*tlb_flush_all)(void *ctx);
  void (*tlb_flush_walk)(void *ctx, uint64_t iova, uint64_t size, uint64_t granule);
  void (*tlb_add_page)(void *ctx, void *gather, uint64_t iova, uint64_t granule);

  /* WARN(): a broken invariant the driver detected. `message` need not outlive the call. */
  void (*warn)(void *ctx, const char *message);
};

/* A driver as the plugin declares it. */
struct iommucheck_driver {
  uint32_t abi_version; /* IOMMUCHECK_DRIVER_ABI_VERSION; first in every version */

  const char *name;        /* short, e.g. "example-lpae-s1-4k" */
  const char *description; /* one line */

  /* The configuration the reference model holds the driver to. */
  uint64_t pgsize_bitmap; /* leaf sizes; bit n set: 2^n-byte leaves */
  uint32_t ias;           /* iova bits */
  uint32_t oas;           /* paddr bits */
  uint32_t partial_unmap; /* enum iommucheck_partial_unmap */

  /* The hardware format the tables are written in, as iommucheck names it (`iommucheck
   * decode --help` lists them, e.g. "arm-64-lpae-s1-4k"), so iommucheck can walk them from
   * roots() as an IOMMU would; NULL or "" when they cannot be walked. hw_granule: 0 for the
   * format's default; apple-dart and apple-dart2 take 4096 or 16384. */
  const char *hw_format;
  uint64_t hw_granule;

  /* Creates a page table: allocates its root table(s) with host->alloc_table. `options` is
   * a free-form string the user passes through the host ("" when none). Returns 0 and sets
   * *handle, or a negative errno (-ENOMEM, -EINVAL for options it does not understand). */
  int (*create)(const struct iommucheck_host *host, const char *options, void **handle);
  /* Frees every table page, then the handle. */
  void (*destroy)(void *handle);

  /* io_pgtable_ops. `gather` is opaque: pass it to host->tlb_add_page; never NULL. */
  int (*map_pages)(void *handle, uint64_t iova, uint64_t paddr, uint64_t pgsize,
                   uint64_t pgcount, int prot, uint64_t *mapped);
  uint64_t (*unmap_pages)(void *handle, uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                          void *gather);
  uint64_t (*iova_to_phys)(void *handle, uint64_t iova);

  /* Writes up to `max` root table paddrs (one per TTBR for apple-dart) into `roots` and
   * returns how many the table has. May be NULL when hw_format is NULL or "". */
  size_t (*roots)(void *handle, uint64_t *roots, size_t max);

  /* Version 2. The level the tables are walked from, in the hw format's level numbering, or
   * IOMMUCHECK_HW_START_LEVEL_DEFAULT for the format's default (what Linux 6.12 builds).
   * Only the stage-2 LPAE formats have a choice: the level the ias gives, or the next level
   * with up to 16 tables concatenated in its place. Linux 6.12 concatenates whenever a level-0
   * table would have at most 16 entries; Linux 7.x only where the architecture requires it,
   * so e.g. its ias-40, oas-48 stage-2 table at 4K walks from a 2-entry level 0: start level
   * 0. Set it explicitly: 0 is level 0, also when a designated initializer omits it. */
  int32_t hw_start_level;

  /* Version 3. IOMMUCHECK_DRIVER_* flags; 0 declares none. */
  uint64_t flags;
};

/* The entry point: the descriptor for `host_abi_version`, or one of another version (the
 * host then refuses it with a message naming both versions), or NULL. */
typedef const struct iommucheck_driver *(*iommucheck_driver_descriptor_fn)(
    uint32_t host_abi_version);

IOMMUCHECK_DRIVER_EXPORT const struct iommucheck_driver *iommucheck_driver_descriptor(
    uint32_t host_abi_version);

/* WARN_ON for plugin code: reports `cond` with file and line when true; evaluates to it. */
#define IOMMUCHECK_STRINGIFY_(x) #x
#define IOMMUCHECK_STRINGIFY(x) IOMMUCHECK_STRINGIFY_(x)
#define IOMMUCHECK_WARN_ON(host, cond)                                                    \
  ((cond) ? ((host)->warn((host)->ctx, __FILE__ ":" IOMMUCHECK_STRINGIFY(__LINE__)        \
                                       ": WARN_ON(" #cond ")"),                           \
             1)                                                                           \
          : 0)

#ifdef __cplusplus
}
#endif

#endif /* IOMMUCHECK_DRIVER_H */
