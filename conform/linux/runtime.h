/* The shim's runtime state: one context per page table, entered on the calling thread for
 * the duration of every call the checker makes into Linux code, so that the kernel's
 * context-free helpers (__va, alloc_pages_node, WARN_ON) reach that page table's host. */
#ifndef LXSHIM_RUNTIME_H
#define LXSHIM_RUNTIME_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iommucheck_driver.h"

struct lxshim_table {
  uint64_t paddr;
  size_t bytes;
  uint8_t *shadow; /* coherent walk: the table as the device sees it */
  bool root;       /* allocated by create: Linux keeps a pointer to it across calls */
  bool reached;    /* in the context's reached list */
};

struct lxshim_ctx {
  const struct iommucheck_host *host;
  uint8_t *region; /* host address of table paddr 0 */
  uint64_t region_bytes;
  unsigned desc_bytes; /* 4 (v7s) or 8: the width of one published word */
  /* Coherent walk: Linux never syncs, and a store reaches the device only when a barrier
   * that orders it for the device runs (coherent.c); until then it is pending. */
  bool coherent;
  /* Concurrent map/unmap on disjoint ranges (IOMMUCHECK_DRIVER_CONCURRENT) allocate and free
   * tables at once: `lock` guards `tables` and keeps a page's host allocation and its
   * mprotect together. */
  pthread_mutex_t lock;
  struct lxshim_table **tables; /* sorted by paddr; each its own allocation, so pointers stay */
  size_t n_tables, cap_tables;
  /* Coherent walk: the tables that may hold pending stores (coherent.c). */
  struct lxshim_table **reached;
  size_t n_reached, cap_reached;
  unsigned long syncs; /* dma syncs so far (the broken-shim test build drops one) */
};

/* Reserves the context's region; 0 or -ENOMEM. */
int lxshim_ctx_init(struct lxshim_ctx *ctx, const struct iommucheck_host *host, unsigned desc_bytes,
                    bool coherent);
/* Releases the region and the bookkeeping; table pages must have been freed already. */
void lxshim_ctx_release(struct lxshim_ctx *ctx);

/* Makes `ctx` the calling thread's context; returns the previous one for lxshim_leave. */
struct lxshim_ctx *lxshim_enter(struct lxshim_ctx *ctx);
void lxshim_leave(struct lxshim_ctx *previous);
/* The calling thread's context, or NULL outside a call. */
struct lxshim_ctx *lxshim_current(void);

/* Publishes `bytes` of table memory at `paddr` as it is now, descriptor by descriptor. */
void lxshim_publish_words(struct lxshim_ctx *ctx, uint64_t paddr, size_t bytes);
/* The table that holds `paddr`, or NULL. */
struct lxshim_table *lxshim_table_at(struct lxshim_ctx *ctx, uint64_t paddr);

/* Coherent walk (coherent.c). A store is pending until a barrier publishes it: each word of a
 * table that differs from what the device sees. Linux can store only into a table it has a
 * pointer to, and it gets one from the allocator, from __va (iopte_deref) or, across calls,
 * from create (the roots); so only those tables, the reached ones, are compared. */
void lxshim_reach(struct lxshim_ctx *ctx, struct lxshim_table *t);
void lxshim_forget(struct lxshim_ctx *ctx, struct lxshim_table *t); /* being freed */
void lxshim_mark_roots(struct lxshim_ctx *ctx);                     /* after create */
/* Publishes every pending store: what a barrier ordering stores for the device does. */
void lxshim_publish_stores(struct lxshim_ctx *ctx);
/* At the end of a call: tables with nothing pending are no longer reached (roots stay). */
void lxshim_settle(struct lxshim_ctx *ctx);

#endif
