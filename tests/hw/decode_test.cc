// The decode engine (hw/dump) over memory images built byte by byte and written to a file.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "base/prot.h"
#include "hw/dump.h"

namespace iommu::hw {
namespace {

constexpr int R = IOMMU_READ, W = IOMMU_WRITE, C = IOMMU_CACHE, N = IOMMU_NOEXEC;
constexpr uint64_t K = 1024, M = K * K, G = M * K;

// A raw little-endian memory image starting at physical address `base`.
struct Image {
  uint64_t base;
  std::vector<uint8_t> bytes;

  Image(uint64_t b, uint64_t size) : base(b), bytes(size) {}
  void put(uint64_t paddr, uint64_t value, unsigned width) {
    for (unsigned i = 0; i < width; i++)
      bytes.at(paddr - base + i) = static_cast<uint8_t>(value >> (8 * i));
  }
  void put64(uint64_t paddr, uint64_t value) { put(paddr, value, 8); }
  void put32(uint64_t paddr, uint32_t value) { put(paddr, value, 4); }

  std::string write_file(const std::string& name) const {
    auto path = std::filesystem::temp_directory_path() /
                fmt::format("iommucheck_{}_{}.img", name, ::getpid());
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<long>(bytes.size()));
    return path.string();
  }
};

TableDump decode(const Image& img, const FormatConfig& cfg, std::vector<uint64_t> roots,
                 const std::string& name) {
  std::string path = img.write_file(name);
  ImageFile file(path);
  std::filesystem::remove(path);
  return dump_image(make_format(cfg), file.bytes(), img.base, roots);
}

void expect_malformed(const Malformed& m, uint64_t desc, unsigned level, uint64_t iova,
                      std::string_view reason) {
  EXPECT_EQ(m.desc_paddr, desc);
  EXPECT_EQ(m.level, level);
  EXPECT_EQ(m.iova, iova);
  EXPECT_EQ(m.reason, reason);
}

void expect_malformed(const Malformed& m, uint64_t desc, unsigned level, uint64_t iova,
                      FaultReason reason) {
  expect_malformed(m, desc, level, iova, fault_reason_name(reason));
}

TEST(Decode, Lpae4kStage1) {
  // ias 32: a 4-entry level-1 PGD at 0x80000000, level 2 at +0x1000, level 3 at +0x2000
  Image img(0x80000000, 0x3000);
  img.put64(0x80000000, 0x80001003);  // level 1 [0] -> table
  img.put64(0x80000008, 0x80000e41);  // level 1 [1]: 1G block rw at 0x80000000
  img.put64(0x80001000, 0x80002003);  // level 2 [0] -> table
  img.put64(0x80001008, 0x40200e41);  // level 2 [1], [2]: 2M blocks, contiguous
  img.put64(0x80001010, 0x40400e41);
  img.put64(0x80001018, 0x90000003);  // level 2 [3] -> table outside the image
  img.put64(0x80002000, 0x40000e43);  // level 3 [0], [1]: rw pages, contiguous
  img.put64(0x80002008, 0x40001e43);
  img.put64(0x80002010, 0x40005e43);  // level 3 [2]: rw page, not contiguous in paddr
  img.put64(0x80002018, 0x40000e41);  // level 3 [3]: reserved 0b01
  img.put64(0x80002020, 0x40006ec3);  // level 3 [4]: read-only page
  TableDump d = decode(img, {.name = "arm-64-lpae-s1-4k", .ias = 32, .oas = 40}, {0x80000000},
                       "lpae4k");
  EXPECT_EQ(d.mappings, (std::vector<Mapping>{
                            {0x0, 0x40000000, 8 * K, R | W, 4 * K, 3},
                            {0x2000, 0x40005000, 4 * K, R | W, 4 * K, 3},
                            {0x4000, 0x40006000, 4 * K, R, 4 * K, 3},
                            {0x200000, 0x40200000, 4 * M, R | W, 2 * M, 2},
                            {0x40000000, 0x80000000, G, R | W, G, 1},
                        }));
  ASSERT_EQ(d.malformed.size(), 2u);
  expect_malformed(d.malformed[0], 0x80002018, 3, 0x3000, FaultReason::kReserved);
  // A table pointer out of the image is reported at the pointer, with its target.
  expect_malformed(d.malformed[1], 0x80001018, 2, 0x600000, FaultReason::kBadTable);
  EXPECT_EQ(d.malformed[1].why,
            "points to a table at 0x90000000 whose byte 0x90000000 is outside the image");
  EXPECT_EQ(format_mapping(d.mappings[0]), "0x0-0x1fff -> 0x40000000 rw 4K L3");
  EXPECT_EQ(format_malformed(d.malformed[0]),
            "malformed: desc 0x80002018 level 3 iova 0x3000: reserved-encoding "
            "(type 0b01 at the last level)");
}

TEST(Decode, Lpae64kStage2) {
  // ias 48: 3 levels from level 1, a 64-entry (512-byte) PGD at 0
  Image img(0, 0x30000);
  img.put64(0x0, 0x10003);             // level 1 [0] -> table at 0x10000
  img.put64(0x10000, 0x20003);         // level 2 [0] -> table at 0x20000
  img.put64(0x10008, 0x600007fd);      // level 2 [1]: 512M block rwc
  img.put64(0x20008, 0x400106d7);      // level 3 [1]: 64K page rw
  img.put64(0x20018, 0x4003f6d7);      // level 3 [3]: PA 0xf000040030000 beyond oas 48
  TableDump d = decode(img, {.name = "arm-64-lpae-s2-64k"}, {0}, "lpae64k");
  EXPECT_EQ(d.mappings, (std::vector<Mapping>{
                            {0x10000, 0x40010000, 64 * K, R | W, 64 * K, 3},
                            {0x20000000, 0x60000000, 512 * M, R | W | C, 512 * M, 2},
                        }));
  ASSERT_EQ(d.malformed.size(), 1u);
  expect_malformed(d.malformed[0], 0x20018, 3, 0x30000, FaultReason::kAddressSize);
}

TEST(Decode, V7s) {
  Image img(0x80000000, 0x4400);
  img.put32(0x80000000, 0x80004001);  // level 1 [0] -> level-2 table
  for (uint64_t i = 0x10; i < 0x20; i++) img.put32(0x80000000 + 4 * i, 0x41071c02);  // 16M
  img.put32(0x80000000 + 4 * 0x20, 0x40131c12);  // 1M section rw noexec
  img.put32(0x80004000 + 4 * 1, 0x40000e72);     // 4K page read-only
  for (uint64_t i = 0x10; i < 0x20; i++) img.put32(0x80004000 + 4 * i, 0x40011c31);  // 64K
  for (uint64_t i = 0x20; i < 0x30; i++) img.put32(0x80004000 + 4 * i, 0x40021c31);  // 64K
  for (uint64_t i = 0x30; i < 0x40; i++) img.put32(0x80004000 + 4 * i, 0x40031c31);
  img.put32(0x80004000 + 4 * 0x35, 0x40041c31);  // one replica disagrees
  TableDump d = decode(img, {.name = "arm-v7s"}, {0x80000000}, "v7s");
  EXPECT_EQ(d.mappings, (std::vector<Mapping>{
                            {0x1000, 0x40000000, 4 * K, R, 4 * K, 2},
                            {0x10000, 0x40010000, 128 * K, R | W, 64 * K, 2},
                            {0x01000000, 0x41000000, 16 * M, R | W, 16 * M, 1},
                            {0x02000000, 0x40100000, M, R | W | N, M, 1},
                        }));
  ASSERT_EQ(d.malformed.size(), 1u);
  expect_malformed(d.malformed[0], 0x800040c0, 2, 0x30000, FaultReason::kInconsistent);
}

TEST(Decode, Dart) {
  Image img(0x800000000, 0x8000);
  img.put64(0x800000000, 0x800004001);           // L1 [0] -> L2 table
  img.put64(0x800000008, 0x900000001);           // L1 [1] -> table outside the image
  img.put64(0x800004000, 0x000fff0800100003);    // L2 [0], [1]: rw, contiguous
  img.put64(0x800004008, 0x000fff0800104003);
  img.put64(0x800004010, 0x000fff0800200083);    // L2 [2]: read-only
  img.put64(0x800004018, 0x001fff0800300001);    // L2 [3]: subpage window from 1
  TableDump d = decode(img, {.name = "apple-dart"}, {0x800000000}, "dart");
  EXPECT_EQ(d.mappings, (std::vector<Mapping>{
                            {0x0, 0x800100000, 32 * K, R | W, 16 * K, 2},
                            {0x8000, 0x800200000, 16 * K, R, 16 * K, 2},
                        }));
  ASSERT_EQ(d.malformed.size(), 2u);
  expect_malformed(d.malformed[0], 0x800004018, 2, 0xc000, FaultReason::kReserved);
  expect_malformed(d.malformed[1], 0x800000008, 1, 0x2000000, FaultReason::kBadTable);
}

TEST(Decode, DartEntriesBeyondTheIasAreNotListed) {
  // 16K granule, ias 32: only the first 128 of the 2048 level-1 entries are reachable.
  Image img(0x800000000, 0x8000);
  img.put64(0x800000000 + 127 * 8, 0x800004001);  // L1 [127] -> L2: iova 0xfe000000
  img.put64(0x800000000 + 128 * 8, 0x800004001);  // L1 [128]: iova 2^32, beyond the ias
  img.put64(0x800004000, 0x000fff0800100003);
  TableDump d = decode(img, {.name = "apple-dart", .ias = 32}, {0x800000000}, "dart_ias");
  EXPECT_EQ(d.mappings,
            (std::vector<Mapping>{{0xfe000000, 0x800100000, 16 * K, R | W, 16 * K, 2}}));
  EXPECT_TRUE(d.malformed.empty());
}

TEST(Decode, V7sEntryInsideAnInconsistentGroupIsWalkedOnItsOwn) {
  // Level-2 entries 0x20..0x2f hold a 64K large page, except 0x28 which is a 4K small page:
  // the walker faults on the large-page entries (one report for the group) but translates iova 0x28000 through 0x28.
  Format v7s = make_format({.name = "arm-v7s"});
  Image img(0x80000000, 0x5000);
  img.put32(0x80000000, static_cast<uint32_t>(v7s.make_table(0x80004000)));
  for (uint64_t i = 0x20; i < 0x30; i++) {
    uint64_t desc = i == 0x28 ? v7s.make_leaf(0x500000, 4 * K, R | W)
                              : v7s.make_leaf(0x400000, 64 * K, R | W);
    img.put32(0x80004000 + 4 * i, static_cast<uint32_t>(desc));
  }
  TableDump d = decode(img, {.name = "arm-v7s"}, {0x80000000}, "v7s_group");
  EXPECT_EQ(d.mappings, (std::vector<Mapping>{{0x28000, 0x500000, 4 * K, R | W, 4 * K, 2}}));
  ASSERT_EQ(d.malformed.size(), 1u);  // the group, once
  expect_malformed(d.malformed[0], 0x80004080, 2, 0x20000, FaultReason::kInconsistent);
}

TEST(Decode, LoopingTablesAreReportedWhereTheyOccur) {
  // Entry 0 of a 4K PGD points back at the PGD, entry 1 to a level-1 table whose entry 0 points
  // back at that table; entry 2 maps on through a level-1 table: the decode goes on past both.
  Image img(0x80000000, 0x3000);
  img.put64(0x80000000, 0x80000003);
  img.put64(0x80000008, 0x80001003);
  img.put64(0x80001000, 0x80001003);
  img.put64(0x80000010, 0x80002003);
  img.put64(0x80002000, 0x40000000 | 0xe41);  // level 1 [0]: 1G block at iova 2^40
  TableDump d = decode(img, {.name = "arm-64-lpae-s1-4k"}, {0x80000000}, "loop");
  EXPECT_EQ(d.mappings,
            (std::vector<Mapping>{{uint64_t{1} << 40, 0x40000000, G, R | W, G, 1}}));
  ASSERT_EQ(d.malformed.size(), 2u);
  expect_malformed(d.malformed[0], 0x80000000, 0, 0, kTableLoop);
  expect_malformed(d.malformed[1], 0x80001000, 1, uint64_t{1} << 39, kTableLoop);
  EXPECT_EQ(format_malformed(d.malformed[0]),
            "malformed: desc 0x80000000 level 0 iova 0x0: table-loop (points back to the table "
            "at 0x80000000 on its own walk)");
}

TEST(Decode, SharedTablesAreReportedAtTheSecondDescriptor) {
  // Level-1 entries 0 and 2 share one level-2 table; entry 3 maps a block after both.
  Image shared(0x80000000, 0x2000);
  shared.put64(0x80000000, 0x80001003);
  shared.put64(0x80000010, 0x80001003);
  shared.put64(0x80000018, 0xc0000e41);
  shared.put64(0x80001000, 0x40000e41);  // level 2 [0]: 2M block
  TableDump d =
      decode(shared, {.name = "arm-64-lpae-s1-4k", .ias = 32}, {0x80000000}, "shared");
  EXPECT_EQ(d.mappings, (std::vector<Mapping>{{0x0, 0x40000000, 2 * M, R | W, 2 * M, 2},
                                              {3 * G, 0xc0000000, G, R | W, G, 1}}));
  ASSERT_EQ(d.malformed.size(), 1u);
  expect_malformed(d.malformed[0], 0x80000010, 1, 2 * G, kSharedTable);
  EXPECT_EQ(d.malformed[0].why,
            "points to the table at 0x80001000, listed already through the descriptor at "
            "0x80000000 (level 1)");
}

void expect_image_error(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no ImageError";
  } catch (const ImageError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Decode, ImageErrors) {
  expect_image_error([] { ImageFile("/nonexistent/tables.img"); }, "/nonexistent/tables.img");
  Image empty(0, 0);
  std::string path = empty.write_file("empty");
  expect_image_error([&] { ImageFile{path}; }, "is empty");
  std::filesystem::remove(path);
  expect_image_error([] { ImageFile("/dev/zero"); }, "/dev/zero is not a regular file");
  expect_image_error([] { ImageFile("/"); }, "image / is a directory");
  Image small(0x80000000, 0x2000);
  Format v7s = make_format({.name = "arm-v7s"});
  std::vector<uint64_t> root{0x80000000};
  expect_image_error([&] { dump_image(v7s, small.bytes, small.base, root); }, "truncated");
  std::vector<uint64_t> outside{0x90000000};
  expect_image_error([&] { dump_image(v7s, small.bytes, small.base, outside); }, "outside");
  std::vector<uint64_t> misaligned{0x80000400};
  expect_image_error([&] { dump_image(v7s, small.bytes, small.base, misaligned); }, "aligned");
  std::vector<uint64_t> two{0x80000000, 0x80004000};
  expect_image_error([&] { dump_image(v7s, small.bytes, small.base, two); }, "roots");
}

TEST(Decode, DartRootsPerTtbr) {
  // 4K granule, ias 32: four TTBRs; TTBR 2 maps iova 0x80000000
  Image img(0x80000000, 0x3000);
  img.put64(0x80001000, 0x80002001);
  img.put64(0x80002000, 0x000fff0000042003);
  TableDump d = decode(img, {.name = "apple-dart", .ias = 32, .granule = 4096},
                       {0x80000000, 0x80000000, 0x80001000}, "dart4k");
  EXPECT_EQ(d.mappings, (std::vector<Mapping>{{0x80000000, 0x42000, 4 * K, R | W, 4 * K, 2}}));
}

// The image is read in place: decoding a sparse 1 GiB image whose tables sit at its end touches
// a few pages, not the gigabyte (reading it into memory first would).
TEST(Decode, LargeImageIsNotReadIntoMemory) {
  const uint64_t size = G;
  const auto path = std::filesystem::temp_directory_path() /
                    fmt::format("iommucheck_large_{}.img", ::getpid());
  Image tail(size - 0x2000, 0x2000);
  tail.put64(size - 0x2000, (size - 0x1000) | 3);  // level 1 [0] -> level 2 table
  tail.put64(size - 0x1000, 0x40000e41);           // level 2 [0]: 2M block
  {
    std::ofstream out(path, std::ios::binary);
    out.seekp(static_cast<std::streamoff>(size - 0x2000));
    out.write(reinterpret_cast<const char*>(tail.bytes.data()), 0x2000);
  }
  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  TableDump d;
  {
    ImageFile file(path.string());
    d = dump_image(make_format({.name = "arm-64-lpae-s1-4k", .ias = 32}), file.bytes(), 0,
                   std::vector<uint64_t>{size - 0x2000});
  }
  rusage after{};
  getrusage(RUSAGE_SELF, &after);
  std::filesystem::remove(path);
  EXPECT_EQ(d.mappings, (std::vector<Mapping>{{0x0, 0x40000000, 2 * M, R | W, 2 * M, 2}}));
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 64 * 1024) << "KiB of peak resident memory";
}

}  // namespace
}  // namespace iommu::hw
