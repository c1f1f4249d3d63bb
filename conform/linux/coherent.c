/* A coherent walker's view of Linux's table stores (runtime.h, docs/LINUX.md "The shim"): a
 * store is pending, invisible to the device, until a barrier that orders it for the device
 * publishes it. Pending stores are found by comparing the reached tables with their shadows,
 * the tables as the device sees them. */
#include <stdlib.h>
#include <string.h>

#include "lxshim/base.h"
#include "runtime.h"

void lxshim_reach(struct lxshim_ctx *ctx, struct lxshim_table *t) {
  if (!t || t->reached) return;
  if (ctx->n_reached == ctx->cap_reached) {
    const size_t cap = ctx->cap_reached ? 2 * ctx->cap_reached : 16;
    struct lxshim_table **reached = realloc(ctx->reached, cap * sizeof(*reached));
    if (!reached) abort(); /* bookkeeping of a few pointers: nothing to fall back on */
    ctx->reached = reached;
    ctx->cap_reached = cap;
  }
  ctx->reached[ctx->n_reached++] = t;
  t->reached = true;
}

static void unreach(struct lxshim_ctx *ctx, size_t i) {
  ctx->reached[i]->reached = false;
  ctx->reached[i] = ctx->reached[--ctx->n_reached];
}

void lxshim_forget(struct lxshim_ctx *ctx, struct lxshim_table *t) {
  for (size_t i = 0; t->reached && i < ctx->n_reached; i++)
    if (ctx->reached[i] == t) unreach(ctx, i);
}

void lxshim_mark_roots(struct lxshim_ctx *ctx) {
  for (size_t i = 0; i < ctx->n_tables; i++) {
    ctx->tables[i]->root = true;
    lxshim_reach(ctx, ctx->tables[i]);
  }
}

static bool pending(const struct lxshim_ctx *ctx, const struct lxshim_table *t) {
  return memcmp(ctx->region + t->paddr, t->shadow, t->bytes) != 0;
}

void lxshim_publish_stores(struct lxshim_ctx *ctx) {
  const size_t w = ctx->desc_bytes;
  for (size_t i = 0; i < ctx->n_reached; i++) {
    struct lxshim_table *t = ctx->reached[i];
    if (!pending(ctx, t)) continue;
    const uint8_t *now = ctx->region + t->paddr;
    for (size_t off = 0; off + w <= t->bytes; off += w) {
      if (memcmp(now + off, t->shadow + off, w) == 0) continue;
      memcpy(t->shadow + off, now + off, w);
      lxshim_publish_words(ctx, t->paddr + off, w);
    }
  }
}

/* Between calls Linux keeps pointers to its roots only; a table with stores still pending (a
 * missing barrier) stays reached, so that the next barrier publishes them. */
void lxshim_settle(struct lxshim_ctx *ctx) {
  for (size_t i = ctx->n_reached; i-- > 0;)
    if (!ctx->reached[i]->root && !pending(ctx, ctx->reached[i])) unreach(ctx, i);
}

/* wmb() and mb() (lxshim/base.h): the stores before them reach the device before anything
 * after them does, an MMIO write that starts a walk included; so a coherent walk sees them
 * from here on. */
void lxshim_device_barrier(void) {
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
#ifndef LXSHIM_BROKEN_PUBLISH_AT_RETURN
  /* (The test-only broken build publishes when map returns instead: glue.c.) */
  struct lxshim_ctx *ctx = lxshim_current();
  if (ctx && ctx->coherent) lxshim_publish_stores(ctx);
#endif
}
