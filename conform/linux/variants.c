/* The linux: variants: one io_pgtable_cfg per hw format iommucheck can walk, configured as
 * iommucheck's own engine configures that format (hw/format.cc's defaults), with a
 * non-coherent and a coherent walk, then the quirks
 * and address sizes the tree supports, each on the hw format that walks it (docs/LINUX.md,
 * Variants). A quirk the tree does not define is no variant of that tree. */
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
#define V7S (SZ_4K | SZ_64K | SZ_1M | SZ_16M)

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
    TWINS("arm-v7s", "ARMv7 short descriptor", ARM_V7S, V7S, 32, 32, 4, v7s_roots),
    /* DART refuses a non-coherent walk. */
    {"apple-dart", "apple-dart", "Apple DART, 16K granule (coherent walk)", APPLE_DART, 0, SZ_16K,
     32, 36, 1, 8, SZ_16K, dart_roots},
    {"apple-dart2", "apple-dart2", "Apple DART2, 16K granule (coherent walk)", APPLE_DART2, 0,
     SZ_16K, 32, 42, 1, 8, SZ_16K, dart_roots},
};

/* Quirks and address sizes: the same formats configured otherwise. */
#define LPAE_VARIANT(n, desc, f, q, pgsizes, i, o, hw, r)                                      \
  {.name = n, .description = desc, .fmt = f, .quirks = q, .pgsize_bitmap = pgsizes, .ias = i,   \
   .oas = o, .desc_bytes = 8, .roots = r, .hw_format = hw}
#define S1_4K(n, desc, q, i, o) \
  LPAE_VARIANT(n, desc, ARM_64_LPAE_S1, q, LPAE4K, i, o, "arm-64-lpae-s1-4k", lpae_s1_roots)
#define S1(n, desc, pgsizes, i, o, hw) \
  LPAE_VARIANT(n, desc, ARM_64_LPAE_S1, 0, pgsizes, i, o, hw, lpae_s1_roots)
#define S2(n, desc, q, pgsizes, i, o, hw) \
  LPAE_VARIANT(n, desc, ARM_64_LPAE_S2, q, pgsizes, i, o, hw, lpae_s2_roots)

/* MediaTek's PA bits above 32 need IO_PGTABLE_QUIRK_NO_PERMS, which leaves the access bits
 * out: hw/ decodes v7s permissions from them. */
#define MTK_UNWALKABLE "hw/ has no MediaTek v7s (no AP bits, PA[34:32] in bits 9, 4, 5)"

static const struct lxshim_variant more_variants[] = {
    S1_4K("arm-64-lpae-s1-4k-ns", "stage 1, 4K, non-secure (QUIRK_ARM_NS)", IO_PGTABLE_QUIRK_ARM_NS,
          48, 48),
    S1_4K("arm-64-lpae-s1-4k-ttbr1", "stage 1, 4K, upper range (QUIRK_ARM_TTBR1; iova sign-extended)",
          IO_PGTABLE_QUIRK_ARM_TTBR1, 48, 48),
    S1_4K("arm-64-lpae-s1-4k-wbwa", "stage 1, 4K, outer WBWA walks (QUIRK_ARM_OUTER_WBWA)",
          IO_PGTABLE_QUIRK_ARM_OUTER_WBWA, 48, 48),
#ifdef IO_PGTABLE_QUIRK_ARM_HD
    S1_4K("arm-64-lpae-s1-4k-hd", "stage 1, 4K, hardware dirty bit (QUIRK_ARM_HD)",
          IO_PGTABLE_QUIRK_ARM_HD, 48, 48),
#endif
#ifdef IO_PGTABLE_QUIRK_NO_WARN
    S1_4K("arm-64-lpae-s1-4k-nowarn", "stage 1, 4K, no WARN on misuse (QUIRK_NO_WARN)",
          IO_PGTABLE_QUIRK_NO_WARN, 48, 48),
#endif
    S1_4K("arm-64-lpae-s1-4k-ias39-oas36", "stage 1, 4K, ias 39, oas 36", 0, 39, 36),
    S1_4K("arm-64-lpae-s1-4k-ias32-oas32", "stage 1, 4K, ias 32, oas 32", 0, 32, 32),
    S1("arm-64-lpae-s1-16k-ias36-oas42", "stage 1, 16K, ias 36, oas 42", LPAE16K, 36, 42,
       "arm-64-lpae-s1-16k"),
    S1("arm-64-lpae-s1-16k-ias47-oas44", "stage 1, 16K, ias 47, oas 44", LPAE16K, 47, 44,
       "arm-64-lpae-s1-16k"),
    S1("arm-64-lpae-s1-64k-ias52-oas52", "stage 1, 64K, ias 52, oas 52 (4T blocks)",
       LPAE64K | (1ULL << 42), 52, 52, "arm-64-lpae-s1-64k"),
    S1("arm-64-lpae-s1-64k-ias42-oas40", "stage 1, 64K, ias 42, oas 40", LPAE64K, 42, 40,
       "arm-64-lpae-s1-64k"),
    S2("arm-64-lpae-s2-4k-ias40-oas48", "stage 2, 4K, ias 40, oas 48 (concatenation differs by tree)",
       0, LPAE4K, 40, 48, "arm-64-lpae-s2-4k"),
    S2("arm-64-lpae-s2-4k-ias32-oas32", "stage 2, 4K, ias 32, oas 32", 0, LPAE4K, 32, 32,
       "arm-64-lpae-s2-4k"),
#ifdef IO_PGTABLE_QUIRK_ARM_S2FWB
    S2("arm-64-lpae-s2-4k-fwb", "stage 2, 4K, forced write-back (QUIRK_ARM_S2FWB)",
       IO_PGTABLE_QUIRK_ARM_S2FWB, LPAE4K, 48, 48, "arm-64-lpae-s2-4k"),
#endif
    S2("arm-64-lpae-s2-16k-ias36-oas36", "stage 2, 16K, ias 36, oas 36", 0, LPAE16K, 36, 36,
       "arm-64-lpae-s2-16k"),
    S2("arm-64-lpae-s2-16k-ias42-oas42", "stage 2, 16K, ias 42, oas 42", 0, LPAE16K, 42, 42,
       "arm-64-lpae-s2-16k"),
    S2("arm-64-lpae-s2-64k-ias52-oas52", "stage 2, 64K, ias 52, oas 52 (4T blocks)", 0,
       LPAE64K | (1ULL << 42), 52, 52, "arm-64-lpae-s2-64k"),
    S2("arm-64-lpae-s2-64k-ias44-oas44", "stage 2, 64K, ias 44, oas 44", 0, LPAE64K, 44, 44,
       "arm-64-lpae-s2-64k"),
    {.name = "arm-64-lpae-s1-4k-cfgalloc",
     .description = "64-bit LPAE stage 1, 4K granule, tables from cfg->alloc (a driver's own)",
     .fmt = ARM_64_LPAE_S1, .pgsize_bitmap = LPAE4K, .ias = 48, .oas = 48, .desc_bytes = 8,
     .roots = lpae_s1_roots, .hw_format = "arm-64-lpae-s1-4k", .custom_alloc = 1},
    {.name = "arm-mali-lpae-ias39", .description = "Mali LPAE, ias 39 (Linux keeps four levels)",
     .fmt = ARM_MALI_LPAE, .pgsize_bitmap = LPAE4K, .ias = 39, .oas = 40, .desc_bytes = 8,
     .roots = mali_roots, .hw_format = "arm-mali-lpae"},
    {.name = "arm-v7s-ns", .description = "ARMv7 short descriptor, non-secure (QUIRK_ARM_NS)",
     .fmt = ARM_V7S, .quirks = IO_PGTABLE_QUIRK_ARM_NS, .pgsize_bitmap = V7S, .ias = 32, .oas = 32,
     .desc_bytes = 4, .roots = v7s_roots, .hw_format = "arm-v7s"},
    {.name = "arm-v7s-ias30", .description = "ARMv7 short descriptor, ias 30", .fmt = ARM_V7S,
     .pgsize_bitmap = V7S, .ias = 30, .oas = 32, .desc_bytes = 4, .roots = v7s_roots,
     .hw_format = "arm-v7s"},
    {.name = "arm-v7s-mtk", .description = "ARMv7 short descriptor, MediaTek 34-bit PA (MTK_EXT)",
     .fmt = ARM_V7S, .quirks = IO_PGTABLE_QUIRK_ARM_MTK_EXT | IO_PGTABLE_QUIRK_NO_PERMS,
     .pgsize_bitmap = V7S, .ias = 32, .oas = 34, .desc_bytes = 4, .roots = v7s_roots,
     .hw_format = "arm-v7s", .unwalkable = MTK_UNWALKABLE},
    {.name = "arm-v7s-mtk-ttbr", .description = "ARMv7 short descriptor, MediaTek 35-bit PA and TTBR",
     .fmt = ARM_V7S,
     .quirks = IO_PGTABLE_QUIRK_ARM_MTK_EXT | IO_PGTABLE_QUIRK_ARM_MTK_TTBR_EXT |
               IO_PGTABLE_QUIRK_NO_PERMS,
     .pgsize_bitmap = V7S, .ias = 32, .oas = 35, .desc_bytes = 4, .roots = v7s_roots,
     .hw_format = "arm-v7s", .unwalkable = MTK_UNWALKABLE},
    {.name = "apple-dart-4k", .description = "Apple DART, 4K granule, four TTBRs (coherent walk)",
     .fmt = APPLE_DART, .pgsize_bitmap = SZ_4K, .ias = 32, .oas = 36, .coherent_walk = 1,
     .desc_bytes = 8, .hw_granule = SZ_4K, .roots = dart_roots, .hw_format = "apple-dart"},
    {.name = "apple-dart2-ias38", .description = "Apple DART2, 16K granule, ias 38: four TTBRs (coherent walk)",
     .fmt = APPLE_DART2, .pgsize_bitmap = SZ_16K, .ias = 38, .oas = 42, .coherent_walk = 1,
     .desc_bytes = 8, .hw_granule = SZ_16K, .roots = dart_roots, .hw_format = "apple-dart2"},
};

const struct lxshim_variant *lxshim_variant_at(size_t i) {
  if (i < ARRAY_SIZE(variants)) return &variants[i];
  i -= ARRAY_SIZE(variants);
  return i < ARRAY_SIZE(more_variants) ? &more_variants[i] : NULL;
}

const struct lxshim_variant *lxshim_find_variant(const char *name) {
  const struct lxshim_variant *v;
  for (size_t i = 0; (v = lxshim_variant_at(i)); i++)
    if (strcmp(v->name, name) == 0) return v;
  return NULL;
}
