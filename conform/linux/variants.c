/* The linux: variants: io_pgtable_cfgs for the hw formats iommucheck can walk, configured as
 * iommucheck's own engine configures each format (hw/format.cc's defaults), with a
 * non-coherent and a coherent walk. */
#include <linux/io-pgtable.h>
#include <string.h>

#include "glue.h"

static size_t one_root(uint64_t root, uint64_t *out, size_t max) {
  if (max) out[0] = root;
  return 1;
}

static size_t lpae_s1_roots(const struct io_pgtable_cfg *cfg, uint64_t *out, size_t max) {
  return one_root(cfg->arm_lpae_s1_cfg.ttbr, out, max);
}

static size_t lpae_s2_roots(const struct io_pgtable_cfg *cfg, uint64_t *out, size_t max) {
  return one_root(cfg->arm_lpae_s2_cfg.vttbr, out, max);
}

/* TRANSTAB carries mode and cacheability bits below the page-aligned table address. */
static size_t mali_roots(const struct io_pgtable_cfg *cfg, uint64_t *out, size_t max) {
  return one_root(cfg->arm_mali_lpae_cfg.transtab & ~(uint64_t)0xfff, out, max);
}

/* TTBR carries walk attributes below the 16K-aligned level-1 table. */
static size_t v7s_roots(const struct io_pgtable_cfg *cfg, uint64_t *out, size_t max) {
  return one_root(cfg->arm_v7s_cfg.ttbr & ~(uint64_t)0x3fff, out, max);
}

static size_t dart_roots(const struct io_pgtable_cfg *cfg, uint64_t *out, size_t max) {
  const size_t n = cfg->apple_dart_cfg.n_ttbrs;
  for (size_t i = 0; i < n && i < max; i++) out[i] = cfg->apple_dart_cfg.ttbr[i];
  return n;
}

#define LPAE4K (SZ_4K | SZ_2M | SZ_1G)
#define LPAE16K (SZ_16K | SZ_32M)
#define LPAE64K (SZ_64K | SZ_512M)

/* Each format Linux can also walk non-coherently comes twice: as the hw format's name, with
 * Linux syncing every PTE write, and as NAME-coherent, where only barriers publish. */
#define VARIANT(name, hw, what, fmt, pgsizes, ias, oas, coherent, desc_bytes, roots) \
  { name, hw, what, fmt, 0, pgsizes, ias, oas, coherent, desc_bytes, 0, roots }
#define TWINS(hw, what, fmt, pgsizes, ias, oas, desc_bytes, roots)                               \
  VARIANT(hw, hw, what, fmt, pgsizes, ias, oas, 0, desc_bytes, roots),                           \
      VARIANT(hw "-coherent", hw, what ", coherent walk", fmt, pgsizes, ias, oas, 1, desc_bytes, \
              roots)

static const struct lxshim_variant variants[] = {
    TWINS("arm-64-lpae-s1-4k", "64-bit LPAE stage 1, 4K granule", ARM_64_LPAE_S1, LPAE4K, 48, 48, 8,
          lpae_s1_roots),
    TWINS("arm-64-lpae-s1-16k", "64-bit LPAE stage 1, 16K granule", ARM_64_LPAE_S1, LPAE16K, 48, 48,
          8, lpae_s1_roots),
    TWINS("arm-64-lpae-s1-64k", "64-bit LPAE stage 1, 64K granule", ARM_64_LPAE_S1, LPAE64K, 48, 48,
          8, lpae_s1_roots),
    TWINS("arm-64-lpae-s2-4k", "64-bit LPAE stage 2, 4K granule", ARM_64_LPAE_S2, LPAE4K, 48, 48, 8,
          lpae_s2_roots),
    TWINS("arm-64-lpae-s2-16k", "64-bit LPAE stage 2, 16K granule", ARM_64_LPAE_S2, LPAE16K, 48, 48,
          8, lpae_s2_roots),
    TWINS("arm-64-lpae-s2-64k", "64-bit LPAE stage 2, 64K granule", ARM_64_LPAE_S2, LPAE64K, 48, 48,
          8, lpae_s2_roots),
    TWINS("arm-32-lpae-s1", "32-bit LPAE stage 1", ARM_32_LPAE_S1, LPAE4K, 32, 40, 8,
          lpae_s1_roots),
    TWINS("arm-32-lpae-s2", "32-bit LPAE stage 2", ARM_32_LPAE_S2, LPAE4K, 40, 40, 8,
          lpae_s2_roots),
    TWINS("arm-mali-lpae", "Mali LPAE", ARM_MALI_LPAE, LPAE4K, 48, 40, 8, mali_roots),
    TWINS("arm-v7s", "ARMv7 short descriptor", ARM_V7S, SZ_4K | SZ_64K | SZ_1M | SZ_16M, 32, 32, 4,
          v7s_roots),
    /* DART refuses a non-coherent walk. */
    {"apple-dart", "apple-dart", "Apple DART, 16K granule (coherent walk)", APPLE_DART, 0, SZ_16K,
     32, 36, 1, 8, SZ_16K, dart_roots},
    {"apple-dart2", "apple-dart2", "Apple DART2, 16K granule (coherent walk)", APPLE_DART2, 0,
     SZ_16K, 32, 42, 1, 8, SZ_16K, dart_roots},
};

const struct lxshim_variant *lxshim_find_variant(const char *name) {
  for (size_t i = 0; i < ARRAY_SIZE(variants); i++)
    if (strcmp(variants[i].name, name) == 0) return &variants[i];
  return NULL;
}
