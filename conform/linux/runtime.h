/* The shim's runtime state: one context per page table, entered on the calling thread for
 * the duration of every call the checker makes into Linux code, so that the kernel's
 * context-free helpers (__va, alloc_pages_node, WARN_ON) reach that page table's host. */
#ifndef LXSHIM_RUNTIME_H
#define LXSHIM_RUNTIME_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "iommucheck_driver.h"

struct lxshim_table {
  uint64_t paddr;
  size_t bytes;
  uint8_t *shadow; /* what the device last saw, for mirrored (coherent-walk) tables */
};

struct lxshim_ctx {
  const struct iommucheck_host *host;
  uint8_t *region; /* host address of table paddr 0 */
  uint64_t region_bytes;
  unsigned desc_bytes; /* 4 (v7s) or 8: the width of one published word */
  /* Coherent walk (DART): Linux never syncs, so every table page is published whole by
   * diffing against what the device last saw, before each flush callback and each return. */
  int mirror;
  /* Concurrent map/unmap on disjoint ranges (IOMMUCHECK_DRIVER_CONCURRENT) allocate and free
   * tables at once: `lock` guards `tables` and keeps a page's host allocation and its
   * mprotect together. */
  pthread_mutex_t lock;
  struct lxshim_table *tables;
  size_t n_tables, cap_tables;
  unsigned long syncs; /* dma syncs so far (the broken-shim test build drops one) */
};

/* Reserves the context's region; 0 or -ENOMEM. */
int lxshim_ctx_init(struct lxshim_ctx *ctx, const struct iommucheck_host *host, unsigned desc_bytes,
                    int mirror);
/* Releases the region and the bookkeeping; table pages must have been freed already. */
void lxshim_ctx_release(struct lxshim_ctx *ctx);

/* Makes `ctx` the calling thread's context; returns the previous one for lxshim_leave. */
struct lxshim_ctx *lxshim_enter(struct lxshim_ctx *ctx);
void lxshim_leave(struct lxshim_ctx *previous);

/* Publishes every byte of a mirrored context's tables that changed since the last call. */
void lxshim_mirror(struct lxshim_ctx *ctx);

#endif
