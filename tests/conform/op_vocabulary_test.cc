// The op vocabulary: names, lookup by name and the field lists the printer and parser share.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "conform/op.h"

namespace iommu::conform {
namespace {

using ::testing::ElementsAre;

TEST(OpVocabulary, NamesInVariantOrder) {
  EXPECT_THAT(op_names(),
              ElementsAre("map", "map_nosync", "iotlb_sync_map", "unmap", "unmap_fast",
                          "iotlb_sync", "flush_iotlb_all", "map_sg", "iova_to_phys", "map_pages",
                          "unmap_pages", "read", "write", "fail_alloc"));
}

TEST(OpVocabulary, MakeOpByName) {
  for (std::string_view name : op_names()) {
    auto op = make_op(name);
    ASSERT_TRUE(op.has_value()) << name;
    EXPECT_EQ(op_name(*op), name);
  }
  EXPECT_FALSE(make_op("mapp").has_value());
  EXPECT_FALSE(make_op("").has_value());
}

std::string keys(const Op& op) {
  std::string out;
  for_each_field(op, [&](std::string_view key, const auto&, FieldKind) {
    out += std::string(key) + " ";
  });
  return out;
}

TEST(OpVocabulary, FieldLists) {
  EXPECT_EQ(keys(MapOp{}), "iova paddr size prot ");
  EXPECT_EQ(keys(MapNosyncOp{}), "iova paddr size prot ");
  EXPECT_EQ(keys(IotlbSyncMapOp{}), "iova size ");
  EXPECT_EQ(keys(UnmapOp{}), "iova size ");
  EXPECT_EQ(keys(UnmapFastOp{}), "iova size gather ");
  EXPECT_EQ(keys(IotlbSyncOp{}), "gather ");
  EXPECT_EQ(keys(FlushIotlbAllOp{}), "");
  EXPECT_EQ(keys(MapSgOp{}), "iova prot segs ");
  EXPECT_EQ(keys(IovaToPhysOp{}), "iova ");
  EXPECT_EQ(keys(MapPagesOp{}), "iova paddr pgsize pgcount prot ");
  EXPECT_EQ(keys(UnmapPagesOp{}), "iova pgsize pgcount gather ");
  EXPECT_EQ(keys(ReadOp{}), "iova priv exec ");
  EXPECT_EQ(keys(WriteOp{}), "iova priv exec ");
}

TEST(OpVocabulary, DeviceAccesses) {
  auto r = ReadOp{.iova = 0x1000, .priv = true, .exec = false}.access();
  EXPECT_FALSE(r.write);
  EXPECT_TRUE(r.priv);
  EXPECT_FALSE(r.exec);
  auto w = WriteOp{.iova = 0x1000, .priv = false, .exec = true}.access();
  EXPECT_TRUE(w.write);
  EXPECT_FALSE(w.priv);
  EXPECT_TRUE(w.exec);
}

TEST(OpVocabulary, MapSgEqualityComparesSegments) {
  MapSgOp a{.iova = 0, .prot = 1, .segs = {{0x1000, 0x1000}, {0x3000, 0x2000}}};
  MapSgOp b = a;
  EXPECT_EQ(a, b);
  b.segs[1].length = 0x1000;
  EXPECT_NE(a, b);
  b = a;
  b.segs.pop_back();
  EXPECT_NE(a, b);
  b = a;
  b.segs[0].paddr = 0x2000;
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace iommu::conform
