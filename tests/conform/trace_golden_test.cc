// The printed form of ops and traces, and the spellings the parser accepts besides it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "base/prot.h"
#include "conform/trace.h"

namespace iommu::conform {
namespace {

constexpr int R = IOMMU_READ, W = IOMMU_WRITE;

TEST(TraceGolden, Ops) {
  EXPECT_EQ(format_op(MapOp{0x200000, 0x40000000, 0x400000, R | W}),
            "map iova=0x200000 paddr=0x40000000 size=4M prot=rw");
  EXPECT_EQ(format_op(MapNosyncOp{0x1000, 0x2000, 0x3000, 0}),
            "map_nosync iova=0x1000 paddr=0x2000 size=12K prot=-");
  EXPECT_EQ(format_op(IotlbSyncMapOp{0x1000, 0x1001000}),
            "iotlb_sync_map iova=0x1000 size=0x1001000");
  EXPECT_EQ(format_op(UnmapOp{0, 1ull << 30}), "unmap iova=0x0 size=1G");
  EXPECT_EQ(format_op(UnmapFastOp{0x1000, 0x1000, 1}), "unmap_fast iova=0x1000 size=4K gather=1");
  EXPECT_EQ(format_op(IotlbSyncOp{7}), "iotlb_sync gather=7");
  EXPECT_EQ(format_op(FlushIotlbAllOp{}), "flush_iotlb_all");
  EXPECT_EQ(format_op(MapSgOp{0, R, {{0x40000000, 0x1000}, {0x50000000, 0x2000}}}),
            "map_sg iova=0x0 prot=r segs=0x40000000+4K,0x50000000+8K");
  EXPECT_EQ(format_op(IovaToPhysOp{0x1234}), "iova_to_phys iova=0x1234");
  EXPECT_EQ(format_op(MapPagesOp{0x200000, 0x200000, 0x200000, 3, R | W | IOMMU_NOEXEC}),
            "map_pages iova=0x200000 paddr=0x200000 pgsize=2M pgcount=3 prot=rwn");
  EXPECT_EQ(format_op(UnmapPagesOp{0x1000, 0x1000, 512, std::nullopt}),
            "unmap_pages iova=0x1000 pgsize=4K pgcount=512");
  EXPECT_EQ(format_op(UnmapPagesOp{0x1000, 0x1000, 1, 3}),
            "unmap_pages iova=0x1000 pgsize=4K pgcount=1 gather=3");
  EXPECT_EQ(format_op(ReadOp{0x1000, false, false}), "read iova=0x1000");
  EXPECT_EQ(format_op(WriteOp{0x1000, true, true}), "write iova=0x1000 priv=1 exec=1");
}

TEST(TraceGolden, Sizes) {
  EXPECT_EQ(format_op(UnmapOp{0, 0}), "unmap iova=0x0 size=0");
  EXPECT_EQ(format_op(UnmapOp{0, 0x600}), "unmap iova=0x0 size=0x600");
  EXPECT_EQ(format_op(UnmapOp{0, 0x800}), "unmap iova=0x0 size=2K");
  EXPECT_EQ(format_op(UnmapOp{0, 1023ull << 10}), "unmap iova=0x0 size=1023K");
  EXPECT_EQ(format_op(UnmapOp{0, 1025ull << 10}), "unmap iova=0x0 size=0x100400");
  EXPECT_EQ(format_op(UnmapOp{0, 1ull << 60}), "unmap iova=0x0 size=1E");
  EXPECT_EQ(format_op(UnmapOp{0, 15ull << 60}), "unmap iova=0x0 size=15E");
  EXPECT_EQ(parse_trace("unmap iova=0 size=15E").ops.at(0), (Op{UnmapOp{0, 15ull << 60}}));
  EXPECT_EQ(format_op(UnmapOp{0, ~0ull}), "unmap iova=0x0 size=0xffffffffffffffff");
}

Trace example() {
  Trace t;
  t.driver = "impl:arm-64-lpae-s1-4k";
  t.config = ref::DomainConfig{.pgsize_bitmap = 0x40201000, .ias = 48, .oas = 48};
  t.seed = 42;
  t.ops = {MapOp{0x200000, 0x40000000, 0x400000, R | W}, UnmapFastOp{0x200000, 0x1000, 1},
           IotlbSyncOp{1}, ReadOp{0x200000, false, false}};
  return t;
}

constexpr const char* kExampleText =
    "# found by check\n"
    "#\n"
    "# seed 42\n"
    "driver impl:arm-64-lpae-s1-4k\n"
    "config pgsizes=4K|2M|1G ias=48 oas=48 partial=split np_caching=off strict\n"
    "seed 42\n"
    "map iova=0x200000 paddr=0x40000000 size=4M prot=rw\n"
    "unmap_fast iova=0x200000 size=4K gather=1\n"
    "iotlb_sync gather=1\n"
    "read iova=0x200000\n";

TEST(TraceGolden, WholeTrace) {
  EXPECT_EQ(format_trace(example(), "found by check\n\nseed 42"), kExampleText);
  EXPECT_EQ(parse_trace(kExampleText), example());
}

TEST(TraceGolden, OtherSpellingsParseTheSame) {
  const char* text =
      "\n"
      "  # a comment line, then blank lines\n"
      "\t\n"
      "driver   impl:arm-64-lpae-s1-4k   # trailing comment\r\n"
      "config strict np_caching=off partial=split oas=48 ias=48 pgsizes=1G|4K|2M\n"
      "seed 0x2a\n"
      "map prot=rw size=0x400000 paddr=1073741824 iova=2097152\n"
      "unmap_fast\tiova=0x200000\tsize=4096 gather=0x1\r\n"
      "iotlb_sync gather=1\n"
      "read iova=0X200000 priv=0 exec=0";  // no final newline
  EXPECT_EQ(parse_trace(text), example());
}

TEST(TraceGolden, ConfigVariants) {
  Trace t;
  t.config = ref::DomainConfig{.pgsize_bitmap = (1ull << 12) | (1ull << 16) | (1ull << 62),
                               .ias = 64,
                               .oas = 64,
                               .partial_unmap = ref::PartialUnmap::kWhole,
                               .np_caching = true,
                               .invalidation = ref::Invalidation::kLazy};
  std::string text = format_trace(t);
  EXPECT_EQ(text, "config pgsizes=4K|64K|4E ias=64 oas=64 partial=whole np_caching=on lazy\n");
  EXPECT_EQ(parse_trace(text), t);
  t.config->partial_unmap = ref::PartialUnmap::kRefuse;
  t.config->pgsize_bitmap = 1;
  t.config->ias = t.config->oas = 12;
  text = format_trace(t);
  EXPECT_EQ(text, "config pgsizes=0x1 ias=12 oas=12 partial=refuse np_caching=on lazy\n");
  EXPECT_EQ(parse_trace(text), t);
}

TEST(TraceGolden, EqualitySeesEveryPart) {
  Trace t = example();
  EXPECT_EQ(t, example());
  t.driver = "impl:arm-v7s";
  EXPECT_NE(t, example());
  t = example();
  t.driver.reset();
  EXPECT_NE(t, example());
  t = example();
  t.seed = 43;
  EXPECT_NE(t, example());
  t = example();
  t.config->np_caching = true;
  EXPECT_NE(t, example());
  t = example();
  t.config.reset();
  EXPECT_NE(t, example());
  t = example();
  t.ops.pop_back();
  EXPECT_NE(t, example());
}

TEST(TraceGolden, EmptyTraces) {
  EXPECT_EQ(parse_trace(""), Trace{});
  EXPECT_EQ(parse_trace("# nothing\n\n"), Trace{});
  EXPECT_EQ(format_trace(Trace{}), "");
}

TEST(TraceGolden, UnprintableDriverNameIsRejected) {
  for (const char* name : {"", "a b", "a#b", "a\tb", "a\rb", "a\x01"}) {
    Trace t;
    t.driver = name;
    EXPECT_THROW(format_trace(t), std::invalid_argument) << name;
  }
}

TEST(TraceGolden, FileRoundTrip) {
  auto path = std::filesystem::temp_directory_path() / "iommucheck_trace_golden.trace";
  write_trace_file(path.string(), example(), "comment");
  EXPECT_EQ(read_trace_file(path.string()), example());
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace iommu::conform
