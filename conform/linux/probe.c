/* Runs the tree's code once on a scratch table, against a host of our own, to learn what the
 * tree makes of a variant: the page sizes and address sizes it settles on (Linux restricts
 * them) and what unmapping part of a block does (6.12 splits the block, newer trees refuse). */
#include <linux/io-pgtable.h>
#include <stdio.h>
#include <string.h>

#include "glue.h"
#include "scratch_host.h"

/* The probe's host: scratch table memory (scratch_host.h) and the first WARN's message. */
struct scratch {
  struct lxshim_scratch base; /* first: the host's ctx */
  char warning[128];
};

static void scratch_warn(void *ctx, const char *message) {
  struct scratch *s = ctx;
  if (!s->warning[0]) snprintf(s->warning, sizeof(s->warning), "%s", message);
}

/* Leaf size to probe with: the smallest page size, and the next larger one as the block. */
static int probe_sizes(unsigned long bitmap, unsigned long *page, unsigned long *block) {
  if (!bitmap) return 0;
  *page = 1UL << __builtin_ctzl(bitmap);
  const unsigned long above = bitmap & ~((*page << 1) - 1);
  if (!above) return 0;
  *block = 1UL << __builtin_ctzl(above);
  return 1;
}

static uint32_t policy_of(uint64_t unmapped, unsigned long page, unsigned long block,
                          struct lxshim_probe *out) {
  if (unmapped == page) return IOMMUCHECK_PARTIAL_UNMAP_SPLIT;
  if (unmapped == 0) return IOMMUCHECK_PARTIAL_UNMAP_REFUSE;
  if (unmapped == block) return IOMMUCHECK_PARTIAL_UNMAP_WHOLE;
  out->ok = 0;
  snprintf(out->error, sizeof(out->error), "unmapping %#lx bytes of a %#lx block returned %#llx",
           page, block, (unsigned long long)unmapped);
  return 0;
}

/* A WARN while creating the table or mapping is a problem; at the partial unmap it is how a
 * refusing tree (7.x: "Unmap of a partial large IOPTE is not allowed") says no. */
static void probe_policy(struct lxshim_pgtable *p, struct scratch *s, struct lxshim_probe *out) {
  unsigned long page, block;
  out->partial_unmap = IOMMUCHECK_PARTIAL_UNMAP_SPLIT; /* one leaf size: never partial */
  if (!probe_sizes(out->pgsize_bitmap, &page, &block)) return;
  uint64_t mapped = 0;
  int ret = lxshim_map(p, 0, block, block, 1, IOMMU_READ | IOMMU_WRITE, &mapped);
  if (ret != 0 || mapped != block) {
    out->ok = 0;
    snprintf(out->error, sizeof(out->error), "mapping a %#lx block at iova 0 failed with %d", block,
             ret);
    return;
  }
  if (s->warning[0]) {
    out->ok = 0;
    snprintf(out->error, sizeof(out->error), "the probe hit a WARN: %s", s->warning);
    return;
  }
  static char gather_token;
  out->partial_unmap = policy_of(lxshim_unmap(p, 0, page, 1, &gather_token), page, block, out);
}

/* A stage-2 table's start level, from the VTCR Linux computed for it: where concatenation
 * moves it differs between kernel versions. SL0 counts from the top, and from one level
 * higher at 4K (io-pgtable-arm.c, arm_lpae_alloc_pgtable_s2). */
static int32_t start_level(const struct lxshim_variant *v, const struct io_pgtable_cfg *cfg) {
  if (v->fmt != ARM_64_LPAE_S2 && v->fmt != ARM_32_LPAE_S2)
    return IOMMUCHECK_HW_START_LEVEL_DEFAULT;
  int32_t sl = (int32_t)(~cfg->arm_lpae_s2_cfg.vtcr.sl & 3);
  unsigned long granule = cfg->pgsize_bitmap & -cfg->pgsize_bitmap;
  return granule == 4096 ? sl - 1 : sl;
}

/* hw/ walks a DART table as two levels below up to four TTBRs, as 6.12 builds it; 7.x stacks
 * a third level under one TTBR where 16K pages need more than two (ias 38, say). The tree's
 * TTBR count tells which it did. */
static void check_dart_walk(const struct lxshim_variant *v, const struct io_pgtable_cfg *cfg,
                            struct lxshim_probe *out) {
  if (v->fmt != APPLE_DART && v->fmt != APPLE_DART2) return;
  const int pg_shift = __builtin_ctzl(cfg->pgsize_bitmap);
  const int tbl_bits = (int)cfg->ias - pg_shift - 2 * (pg_shift - 3);
  const unsigned ttbrs = 1u << (tbl_bits > 0 ? tbl_bits : 0);
  if (cfg->apple_dart_cfg.n_ttbrs != ttbrs)
    snprintf(out->unwalkable, sizeof(out->unwalkable),
             "the tree stacks more than two table levels under %u TTBR(s); hw/ walks two below %u",
             (unsigned)cfg->apple_dart_cfg.n_ttbrs, ttbrs);
}

void lxshim_run_probe(const struct lxshim_variant *v, struct lxshim_probe *out) {
  struct scratch s = {.warning = ""};
  const struct iommucheck_host host = lxshim_scratch_host(&s.base, scratch_warn);
  memset(out, 0, sizeof(*out));
  struct lxshim_pgtable *p;
  if (lxshim_pgtable_create(v, &host, &p) != 0) {
    snprintf(out->error, sizeof(out->error),
             "alloc_io_pgtable_ops() refuses the configuration (fmt %d, pgsizes %#lx, ias %u, "
             "oas %u)",
             v->fmt, v->pgsize_bitmap, v->ias, v->oas);
    return;
  }
  const struct io_pgtable_cfg *cfg = lxshim_pgtable_cfg(p);
  out->ok = 1;
  if (v->unwalkable) snprintf(out->unwalkable, sizeof(out->unwalkable), "%s", v->unwalkable);
  check_dart_walk(v, cfg, out);
  out->pgsize_bitmap = cfg->pgsize_bitmap;
  out->ias = cfg->ias;
  out->oas = cfg->oas;
  out->start_level = start_level(v, cfg);
  probe_policy(p, &s, out);
  lxshim_pgtable_destroy(p);
}
