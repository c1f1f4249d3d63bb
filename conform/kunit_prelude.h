// The fixed part of an exported KUnit test (conform/kunit_export.h): the recording flush ops,
// the table allocator that sees frees, and the IOMMU core's loops over io_pgtable_ops. Kernel
// C, kernel style, copied into every exported file as it is.
#pragma once

namespace iommu::conform {

inline constexpr const char* kKunitPrelude = R"C(#include <kunit/device.h>
#include <kunit/test.h>
#include <linux/gfp.h>
#include <linux/io-pgtable.h>
#include <linux/iommu.h>
#include <linux/module.h>
#include <linux/sizes.h>

/* The invalidations of one io_pgtable_ops call, merged where contiguous. */
#define KT_MAX_RANGES 256

struct kt_range {
	unsigned long first, last;	/* inclusive */
};

struct kt_ctx {
	struct kunit *test;
	struct io_pgtable_ops *ops;
	unsigned long pgsize_bitmap;
	bool lazy;		/* gathers are queued: leaves are not invalidated per call */
	bool live;		/* between alloc_io_pgtable_ops and free_io_pgtable_ops */
	int op;			/* the trace's op being replayed, for messages */
	const char *op_text;
	/* The largest tlb_flush_walk of this call (tlb_flush_all: ULONG_MAX) and its granule. */
	unsigned long walk_size;
	size_t walk_granule;
	bool overflow;
	unsigned int n_ranges;
	struct kt_range ranges[KT_MAX_RANGES];
};

/* Called at the start of every io_pgtable_ops call. */
static void kt_begin_call(struct kt_ctx *ctx)
{
	ctx->walk_size = 0;
	ctx->walk_granule = 0;
	ctx->overflow = false;
	ctx->n_ranges = 0;
}

static void kt_record(struct kt_ctx *ctx, unsigned long iova, size_t size)
{
	struct kt_range *prev = ctx->n_ranges ? &ctx->ranges[ctx->n_ranges - 1] : NULL;

	if (!size)
		return;
	if (prev && prev->last != ULONG_MAX && prev->last + 1 == iova) {
		prev->last = iova + (size - 1);
		return;
	}
	if (ctx->n_ranges == KT_MAX_RANGES) {
		ctx->overflow = true;
		return;
	}
	ctx->ranges[ctx->n_ranges].first = iova;
	ctx->ranges[ctx->n_ranges].last = iova + (size - 1);
	ctx->n_ranges++;
}

static void kt_tlb_flush_all(void *cookie)
{
	struct kt_ctx *ctx = cookie;

	ctx->walk_size = ULONG_MAX;
	ctx->walk_granule = 1;
}

/* A walk flush invalidates the leaves under the freed table too: LPAE frees a table under a
 * removed range with tlb_flush_walk alone. */
static void kt_tlb_flush_walk(unsigned long iova, size_t size, size_t granule, void *cookie)
{
	struct kt_ctx *ctx = cookie;

	if (size > ctx->walk_size) {
		ctx->walk_size = size;
		ctx->walk_granule = granule;
	}
	kt_record(ctx, iova, size);
}

static void kt_tlb_add_page(struct iommu_iotlb_gather *gather, unsigned long iova,
			    size_t granule, void *cookie)
{
	kt_record(cookie, iova, granule);
}

static const struct iommu_flush_ops kt_flush_ops = {
	.tlb_flush_all = kt_tlb_flush_all,
	.tlb_flush_walk = kt_tlb_flush_walk,
	.tlb_add_page = kt_tlb_add_page,
};

/* Tables through cfg->alloc and cfg->free (formats with IO_PGTABLE_CAP_CUSTOM_ALLOCATOR), so
 * that a table freed while the IOMMU may still walk it is seen. */
static void *kt_alloc(void *cookie, size_t size, gfp_t gfp)
{
	return (void *)__get_free_pages(gfp | __GFP_ZERO, get_order(size));
}

static void kt_free(void *cookie, void *pages, size_t size)
{
	struct kt_ctx *ctx = cookie;
	/* A table of 8-byte descriptors maps at least its entries times the granule. */
	unsigned long reach = size / 8 * ctx->walk_granule;

	if (ctx->live)
		KUNIT_EXPECT_TRUE_MSG(ctx->test, ctx->walk_size && ctx->walk_size >= reach,
				      "op %d `%s`: a table of %zu bytes was freed with no tlb_flush_walk before it in that call spanning what it maps (the largest: %#lx bytes): the IOMMU may still walk it",
				      ctx->op, ctx->op_text, size, ctx->walk_size);
	free_pages((unsigned long)pages, get_order(size));
}

static void kt_free_ops(void *data)
{
	struct kt_ctx *ctx = data;

	ctx->live = false;
	free_io_pgtable_ops(ctx->ops);
}

static struct kt_ctx *kt_start(struct kunit *test, enum io_pgtable_fmt fmt,
			       struct io_pgtable_cfg *cfg, bool own_alloc, bool lazy)
{
	struct kt_ctx *ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	struct device *dev = kunit_device_register(test, "iommucheck");

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, ctx);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, dev);
	ctx->test = test;
	ctx->lazy = lazy;
	ctx->op_text = "alloc_io_pgtable_ops";
	cfg->coherent_walk = true;
	cfg->tlb = &kt_flush_ops;
	cfg->iommu_dev = dev;
	if (own_alloc) {
		cfg->alloc = kt_alloc;
		cfg->free = kt_free;
	}
	ctx->ops = alloc_io_pgtable_ops(fmt, cfg, ctx);
	KUNIT_ASSERT_NOT_NULL(test, ctx->ops);
	ctx->pgsize_bitmap = cfg->pgsize_bitmap;
	ctx->live = true;
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, kt_free_ops, ctx), 0);
	return ctx;
}

static void kt_op(struct kt_ctx *ctx, int op, const char *text)
{
	ctx->op = op;
	ctx->op_text = text;
}

/* iommu_pgsize() of drivers/iommu/iommu.c, where it is static. */
static size_t kt_pgsize(struct kt_ctx *ctx, unsigned long iova, phys_addr_t paddr, size_t size,
			size_t *count)
{
	unsigned long addr_merge = paddr | iova;
	unsigned long pgsizes;
	unsigned int pgsize_idx;
	size_t pgsize_next, offset;

	pgsizes = ctx->pgsize_bitmap & GENMASK(__fls(size), 0);
	if (addr_merge)
		pgsizes &= GENMASK(__ffs(addr_merge), 0);
	KUNIT_ASSERT_NE_MSG(ctx->test, pgsizes, 0UL,
			    "op %d `%s`: no page size fits iova %#lx size %#zx", ctx->op,
			    ctx->op_text, iova, size);
	pgsize_idx = __fls(pgsizes);
	*count = size >> pgsize_idx;
	pgsizes = ctx->pgsize_bitmap & ~GENMASK(pgsize_idx, 0);
	if (!pgsizes)
		return BIT(pgsize_idx);
	pgsize_next = BIT(__ffs(pgsizes));
	if ((iova ^ paddr) & (pgsize_next - 1))
		return BIT(pgsize_idx);
	offset = pgsize_next - (addr_merge & (pgsize_next - 1));
	if (size >= pgsize_next && offset <= size - pgsize_next)
		*count = offset >> pgsize_idx;
	return BIT(pgsize_idx);
}

static bool kt_covered(struct kt_ctx *ctx, unsigned long first, unsigned long last)
{
	unsigned long need = first;
	bool progress = true;
	unsigned int i;

	while (progress) {
		progress = false;
		for (i = 0; i < ctx->n_ranges; i++) {
			const struct kt_range *r = &ctx->ranges[i];

			if (r->first > need || r->last < need)
				continue;
			if (r->last >= last)
				return true;
			need = r->last + 1;
			progress = true;
		}
	}
	return false;
}

/* One map_pages call: what any correct driver returns. */
static int kt_map_pages(struct kt_ctx *ctx, unsigned long iova, phys_addr_t paddr,
			size_t pgsize, size_t pgcount, int prot, size_t *mapped)
{
	int ret;

	*mapped = 0;
	kt_begin_call(ctx);
	ret = ctx->ops->map_pages(ctx->ops, iova, paddr, pgsize, pgcount, prot, GFP_KERNEL,
				  mapped);
	KUNIT_ASSERT_LE_MSG(ctx->test, *mapped, pgsize * pgcount,
			    "op %d `%s`: map_pages(iova=%#lx, pgsize=%#zx, pgcount=%zu) mapped more than asked",
			    ctx->op, ctx->op_text, iova, pgsize, pgcount);
	KUNIT_ASSERT_EQ_MSG(ctx->test, *mapped % pgsize, (size_t)0,
			    "op %d `%s`: map_pages(iova=%#lx, pgsize=%#zx, pgcount=%zu) mapped part of a page",
			    ctx->op, ctx->op_text, iova, pgsize, pgcount);
	KUNIT_ASSERT_TRUE_MSG(ctx->test, ret || *mapped,
			      "op %d `%s`: map_pages(iova=%#lx, pgsize=%#zx, pgcount=%zu) returned 0 having mapped nothing",
			      ctx->op, ctx->op_text, iova, pgsize, pgcount);
	return ret;
}

/* One unmap_pages call: it returns no more than asked, and (unless the gather is queued, when
 * a flush queue invalidates everything later) every byte it removed is covered by the
 * tlb_add_page and tlb_flush_walk calls it made. */
static size_t kt_unmap_pages(struct kt_ctx *ctx, unsigned long iova, size_t pgsize,
			     size_t pgcount)
{
	struct iommu_iotlb_gather gather;
	size_t unmapped;

	iommu_iotlb_gather_init(&gather);
	gather.queued = ctx->lazy;
	kt_begin_call(ctx);
	unmapped = ctx->ops->unmap_pages(ctx->ops, iova, pgsize, pgcount, &gather);
	KUNIT_ASSERT_LE_MSG(ctx->test, unmapped, pgsize * pgcount,
			    "op %d `%s`: unmap_pages(iova=%#lx, pgsize=%#zx, pgcount=%zu) unmapped more than asked",
			    ctx->op, ctx->op_text, iova, pgsize, pgcount);
	if (ctx->lazy || !unmapped)
		return unmapped;
	KUNIT_EXPECT_FALSE_MSG(ctx->test, ctx->overflow,
			       "op %d `%s`: more than %d separate invalidations in one call",
			       ctx->op, ctx->op_text, KT_MAX_RANGES);
	KUNIT_EXPECT_TRUE_MSG(ctx->test, kt_covered(ctx, iova, iova + (unmapped - 1)),
			      "op %d `%s`: unmap_pages(iova=%#lx, pgsize=%#zx, pgcount=%zu) removed [%#lx, %#lx] but its tlb_add_page and tlb_flush_walk calls do not cover it: a device may keep using it",
			      ctx->op, ctx->op_text, iova, pgsize, pgcount, iova,
			      iova + (unmapped - 1));
	return unmapped;
}

/* The ops: __maybe_unused, since a trace need not have every kind. */

/* The loop of iommu_unmap(): bytes unmapped, stopping at the first hole. */
static __maybe_unused size_t kt_unmap(struct kt_ctx *ctx, unsigned long iova,
				      size_t size)
{
	size_t unmapped = 0;

	if (!IS_ALIGNED(iova | size, ctx->pgsize_bitmap & -ctx->pgsize_bitmap))
		return 0;
	while (unmapped < size) {
		size_t pgcount, pgsize, n;

		pgsize = kt_pgsize(ctx, iova, iova, size - unmapped, &pgcount);
		n = kt_unmap_pages(ctx, iova, pgsize, pgcount);
		if (!n)
			break;
		iova += n;
		unmapped += n;
	}
	return unmapped;
}

/* The loop of iommu_map(): 0, or the error after unmapping what this call mapped. */
static __maybe_unused int kt_map(struct kt_ctx *ctx, unsigned long iova, phys_addr_t paddr,
				  size_t size, int prot)
{
	unsigned long orig_iova = iova;
	size_t orig_size = size;
	int ret = 0;

	if (!IS_ALIGNED(iova | paddr | size, ctx->pgsize_bitmap & -ctx->pgsize_bitmap))
		return -EINVAL;
	while (size) {
		size_t pgcount, pgsize, mapped;

		pgsize = kt_pgsize(ctx, iova, paddr, size, &pgcount);
		ret = kt_map_pages(ctx, iova, paddr, pgsize, pgcount, prot, &mapped);
		size -= mapped;
		if (ret)
			break;
		iova += mapped;
		paddr += mapped;
	}
	if (ret)
		kt_unmap(ctx, orig_iova, orig_size - size);
	return ret;
}

/* One run of physically contiguous scatterlist entries; a zero length ends the list with
 * -EINVAL, as a zero-length entry does. */
struct kt_run {
	phys_addr_t paddr;
	size_t len;
};

/* iommu_map_sg() over merged runs: bytes mapped, or the error after unmapping them all. */
static __maybe_unused long kt_map_sg(struct kt_ctx *ctx, unsigned long iova,
				     const struct kt_run *runs, size_t n, int prot)
{
	size_t mapped = 0, i;
	int ret = 0;

	for (i = 0; i < n && !ret; i++) {
		ret = runs[i].len ? kt_map(ctx, iova + mapped, runs[i].paddr, runs[i].len, prot) :
				    -EINVAL;
		if (!ret)
			mapped += runs[i].len;
	}
	if (!ret)
		return mapped;
	kt_unmap(ctx, iova, mapped);
	return ret;
}

/* A driver-level map_pages op: a call that stops early at a table's end is called again for
 * the rest, as the core would, so what follows is checked against the whole range mapped. */
static __maybe_unused int kt_map_pages_op(struct kt_ctx *ctx, unsigned long iova,
					   phys_addr_t paddr, size_t pgsize, size_t pgcount,
					   int prot, size_t *total)
{
	size_t mapped;
	int ret = 0;

	*total = 0;
	while (*total < pgsize * pgcount && !ret) {
		ret = kt_map_pages(ctx, iova + *total, paddr + *total, pgsize,
				   pgcount - *total / pgsize, prot, &mapped);
		*total += mapped;
	}
	return ret;
}

/* A driver-level unmap_pages op, continued past an early stop in the same way. */
static __maybe_unused size_t kt_unmap_pages_op(struct kt_ctx *ctx, unsigned long iova,
					       size_t pgsize, size_t pgcount)
{
	size_t total = 0, n = 1;

	while (total < pgsize * pgcount && n) {
		n = kt_unmap_pages(ctx, iova + total, pgsize, pgcount - total / pgsize);
		total += n;
	}
	return total;
}

static __maybe_unused void kt_expect_phys(struct kt_ctx *ctx, unsigned long iova,
					  phys_addr_t want)
{
	phys_addr_t got = ctx->ops->iova_to_phys(ctx->ops, iova);

	KUNIT_EXPECT_EQ_MSG(ctx->test, got, want, "after op %d `%s`: iova_to_phys(%#lx)", ctx->op,
			    ctx->op_text, iova);
}
)C";

}  // namespace iommu::conform
