// Every way a trace can be malformed, with the exact FILE:LINE: REASON message.
#include <gtest/gtest.h>

#include <fmt/core.h>

#include <filesystem>
#include <string>

#include "conform/trace.h"

namespace iommu::conform {
namespace {

// The message for `text`, whose problem is on its last line.
std::string error_of(const std::string& text) {
  try {
    parse_trace(text, "t.trace");
  } catch (const TraceError& e) {
    EXPECT_EQ(e.file(), "t.trace");
    return e.what();
  }
  return "(parsed)";
}

TEST(TraceErrors, UnknownOp) {
  EXPECT_EQ(error_of("map iova=0 paddr=0 size=4K prot=r\n\nmapp iova=0"),
            "t.trace:3: unknown op 'mapp' (ops: map map_nosync iotlb_sync_map unmap unmap_fast "
            "iotlb_sync flush_iotlb_all map_sg iova_to_phys map_pages unmap_pages read write "
            "fail_alloc; directives, before the ops: driver config iommu seed)");
}

TEST(TraceErrors, Keys) {
  EXPECT_EQ(error_of("unmap iova=0 size=4K bogus=1"),
            "t.trace:1: unmap: unknown key 'bogus' (keys: iova size)");
  EXPECT_EQ(error_of("unmap iova=0 size=4K iova=0"), "t.trace:1: unmap: duplicate key 'iova'");
  EXPECT_EQ(error_of("# c\nmap iova=0 paddr=0 size=4K"), "t.trace:2: map: missing key 'prot'");
  EXPECT_EQ(error_of("unmap_fast iova=0 size=4K"), "t.trace:1: unmap_fast: missing key 'gather'");
  EXPECT_EQ(error_of("unmap iova=0 size"), "t.trace:1: unmap: 'size' is not key=value");
  EXPECT_EQ(error_of("flush_iotlb_all now"), "t.trace:1: flush_iotlb_all: 'now' is not key=value");
  EXPECT_EQ(error_of("flush_iotlb_all x=1"),
            "t.trace:1: flush_iotlb_all: unknown key 'x' (keys: )");
}

TEST(TraceErrors, BadNumber) {
  EXPECT_EQ(error_of("unmap iova=0x1g size=4K"),
            "t.trace:1: unmap: bad number '0x1g' for key 'iova'");
  EXPECT_EQ(error_of("unmap iova= size=4K"), "t.trace:1: unmap: bad number '' for key 'iova'");
  EXPECT_EQ(error_of("unmap iova=0x size=4K"), "t.trace:1: unmap: bad number '0x' for key 'iova'");
  EXPECT_EQ(error_of("unmap iova=-1 size=4K"), "t.trace:1: unmap: bad number '-1' for key 'iova'");
  EXPECT_EQ(error_of("unmap iova=+1 size=4K"), "t.trace:1: unmap: bad number '+1' for key 'iova'");
  // Units are for sizes only, and only on decimal numbers.
  EXPECT_EQ(error_of("unmap iova=2M size=4K"), "t.trace:1: unmap: bad number '2M' for key 'iova'");
  EXPECT_EQ(error_of("unmap iova=0 size=4k"), "t.trace:1: unmap: bad number '4k' for key 'size'");
  EXPECT_EQ(error_of("unmap iova=0 size=0x4K"),
            "t.trace:1: unmap: bad number '0x4K' for key 'size'");
  EXPECT_EQ(error_of("unmap iova=0 size=K"), "t.trace:1: unmap: bad number 'K' for key 'size'");
  EXPECT_EQ(error_of("map_pages iova=0 paddr=0 pgsize=4K pgcount=1K prot=r"),
            "t.trace:1: map_pages: bad number '1K' for key 'pgcount'");
  EXPECT_EQ(error_of("seed 12a"), "t.trace:1: seed: bad number '12a'");
}

TEST(TraceErrors, ValueOutOfRange) {
  EXPECT_EQ(error_of("unmap iova=0x10000000000000000 size=4K"),
            "t.trace:1: unmap: value out of range '0x10000000000000000' (more than 64 bits) for "
            "key 'iova'");
  EXPECT_EQ(error_of("unmap iova=0 size=18446744073709551616"),
            "t.trace:1: unmap: value out of range '18446744073709551616' (more than 64 bits) for "
            "key 'size'");
  EXPECT_EQ(error_of("unmap iova=0 size=16E"),
            "t.trace:1: unmap: value out of range '16E' (more than 64 bits) for key 'size'");
  EXPECT_EQ(error_of("iotlb_sync gather=4294967296"),
            "t.trace:1: iotlb_sync: value out of range '4294967296' for key 'gather' (at most "
            "4294967295)");
  EXPECT_EQ(error_of("seed 0x1ffffffffffffffff"),
            "t.trace:1: seed: value out of range '0x1ffffffffffffffff' (more than 64 bits)");
}

TEST(TraceErrors, BadProt) {
  EXPECT_EQ(error_of("map iova=0 paddr=0 size=4K prot=rx"),
            "t.trace:1: map: bad prot letter 'x' (letters: r w c n m p, or - alone)");
  EXPECT_EQ(error_of("map iova=0 paddr=0 size=4K prot=rwr"),
            "t.trace:1: map: prot letter 'r' repeated");
  EXPECT_EQ(error_of("map iova=0 paddr=0 size=4K prot=r-"),
            "t.trace:1: map: bad prot letter '-' (letters: r w c n m p, or - alone)");
  EXPECT_EQ(error_of("map iova=0 paddr=0 size=4K prot="),
            "t.trace:1: map: empty prot (write - for none)");
}

TEST(TraceErrors, BadFlag) {
  EXPECT_EQ(error_of("read iova=0 priv=yes"),
            "t.trace:1: read: bad flag 'priv=yes' (write priv=1 or leave it out)");
}

TEST(TraceErrors, MalformedSegment) {
  EXPECT_EQ(error_of("map_sg iova=0 prot=r segs=0x1000"),
            "t.trace:1: map_sg: malformed segment '0x1000' (write PADDR+LENGTH)");
  EXPECT_EQ(error_of("map_sg iova=0 prot=r segs=0x1000+4K,"),
            "t.trace:1: map_sg: malformed segment '' (write PADDR+LENGTH)");
  EXPECT_EQ(error_of("map_sg iova=0 prot=r segs="),
            "t.trace:1: map_sg: malformed segment '' (write PADDR+LENGTH)");
  EXPECT_EQ(error_of("map_sg iova=0 prot=r segs=0x1000+4K,4K+0x1000"),
            "t.trace:1: map_sg: malformed segment '4K+0x1000': bad number '4K'");
  EXPECT_EQ(error_of("map_sg iova=0 prot=r segs=0x1000+99E"),
            "t.trace:1: map_sg: malformed segment '0x1000+99E': value out of range '99E' (more "
            "than 64 bits)");
}

TEST(TraceErrors, Directives) {
  EXPECT_EQ(error_of("seed 1\nflush_iotlb_all\nseed 2"),
            "t.trace:3: directive 'seed' after the first op (directives go before the ops)");
  EXPECT_EQ(error_of("flush_iotlb_all\ndriver impl:arm-v7s"),
            "t.trace:2: directive 'driver' after the first op (directives go before the ops)");
  EXPECT_EQ(error_of("seed 1\nseed 1"), "t.trace:2: duplicate directive 'seed'");
  EXPECT_EQ(error_of("driver a\ndriver a"), "t.trace:2: duplicate directive 'driver'");
  EXPECT_EQ(error_of("driver"), "t.trace:1: driver: expected one NAME, got 0 words");
  EXPECT_EQ(error_of("driver a b"), "t.trace:1: driver: expected one NAME, got 2 words");
  EXPECT_EQ(error_of("seed"), "t.trace:1: seed: expected one number, got 0 words");
}

TEST(TraceErrors, Iommu) {
  EXPECT_EQ(error_of("iommu vtd\niommu amd"), "t.trace:2: duplicate directive 'iommu'");
  EXPECT_EQ(error_of("iommu"), "t.trace:1: iommu: expected one NAME, got 0 words");
  EXPECT_EQ(error_of("iommu smmuv4"),
            "t.trace:1: iommu: unknown IOMMU 'smmuv4' (smmuv3, smmuv3-norange, smmuv2, vtd, amd "
            "or riscv)");
  EXPECT_EQ(error_of("flush_iotlb_all\niommu vtd"),
            "t.trace:2: directive 'iommu' after the first op (directives go before the ops)");
  for (IommuKind k : iommu_kinds()) {
    const Trace t = parse_trace(fmt::format("iommu {}\n", iommu_name(k)));
    EXPECT_EQ(t.iommu, k);
  }
}

constexpr const char* kConfig = "config pgsizes=4K|2M|1G ias=48 oas=48 partial=split np_caching=off strict\n";

TEST(TraceErrors, Config) {
  EXPECT_EQ(error_of(std::string(kConfig) + kConfig), "t.trace:2: duplicate directive 'config'");
  EXPECT_EQ(error_of("config pgsizes=4K ias=48 oas=48 partial=split np_caching=off"),
            "t.trace:1: config: missing field 'strict|lazy'");
  EXPECT_EQ(error_of("config pgsizes=4K ias=48 partial=split np_caching=off strict"),
            "t.trace:1: config: missing field 'oas'");
  EXPECT_EQ(error_of("config pgsizes=4K ias=48 ias=48"), "t.trace:1: config: duplicate field 'ias'");
  EXPECT_EQ(error_of("config strict lazy"), "t.trace:1: config: duplicate field 'strict|lazy'");
  EXPECT_EQ(error_of("config granule=4K"),
            "t.trace:1: config: unknown field 'granule' (fields: pgsizes ias oas partial "
            "np_caching, then strict or lazy)");
  EXPECT_EQ(error_of("config fast"), "t.trace:1: config: 'fast' is neither key=value nor strict|lazy");
  EXPECT_EQ(error_of("config pgsizes=4K|3K"),
            "t.trace:1: config: page size '3K' is not a power of two");
  EXPECT_EQ(error_of("config pgsizes=4K|4096"), "t.trace:1: config: page size '4096' repeated");
  EXPECT_EQ(error_of("config pgsizes=4K|"), "t.trace:1: config: bad number '' in pgsizes");
  EXPECT_EQ(error_of("config ias=0x"), "t.trace:1: config: bad number '0x' for 'ias'");
  EXPECT_EQ(error_of("config ias=65"), "t.trace:1: config: value out of range 'ias=65' (12..64)");
  EXPECT_EQ(error_of("config oas=11"), "t.trace:1: config: value out of range 'oas=11' (12..64)");
  EXPECT_EQ(error_of("config partial=some"),
            "t.trace:1: config: bad value 'partial=some' (split, refuse or whole)");
  EXPECT_EQ(error_of("config np_caching=1"),
            "t.trace:1: config: bad value 'np_caching=1' (on or off)");
  // A configuration the reference cannot hold a driver to: ref::validate's own words.
  EXPECT_EQ(error_of("config pgsizes=1G ias=24 oas=48 partial=split np_caching=off strict"),
            "t.trace:1: config: pgsize_bitmap=0x40000000 has a page size larger than the ias=24 "
            "or oas=48 address space");
  EXPECT_EQ(error_of("config pgsizes=8E ias=64 oas=64 partial=split np_caching=off strict"),
            "t.trace:1: config: pgsize_bitmap=0x8000000000000000 has a page size of 2^63 or more");
}

TEST(TraceErrors, ControlCharacter) {
  EXPECT_EQ(error_of("flush_iotlb_all\nunmap iova=0\x01 size=4K"),
            "t.trace:2: control character 0x01");
  EXPECT_EQ(error_of(std::string("driver a\0b", 10)), "t.trace:1: control character 0x00");
  // Inside a comment anything goes.
  EXPECT_EQ(error_of("# \x01\x7f\nflush_iotlb_all"), "(parsed)");
}

TEST(TraceErrors, FirstProblemWins) {
  EXPECT_EQ(error_of("flush_iotlb_all\nunmap iova=zz\nbogus"),
            "t.trace:2: unmap: bad number 'zz' for key 'iova'");
}

TEST(TraceErrors, FileCannotBeOpened) {
  auto missing = std::filesystem::temp_directory_path() / "iommucheck_no_such.trace";
  try {
    read_trace_file(missing.string());
    FAIL() << "read a missing file";
  } catch (const TraceError& e) {
    EXPECT_EQ(std::string(e.what()),
              missing.string() + ": cannot open trace: No such file or directory");
    EXPECT_EQ(e.line(), 0u);
  }
  auto dir = std::filesystem::temp_directory_path();
  try {
    read_trace_file(dir.string());
    FAIL() << "read a directory";
  } catch (const TraceError& e) {
    EXPECT_EQ(std::string(e.what()), dir.string() + ": cannot open trace: it is a directory");
  }
}

TEST(TraceErrors, FileErrorsNameThePath) {
  auto path = std::filesystem::temp_directory_path() / "iommucheck_bad.trace";
  {
    Trace t;
    t.ops = {FlushIotlbAllOp{}};
    write_trace_file(path.string(), t);
  }
  std::filesystem::resize_file(path, 5);  // "flush"
  try {
    read_trace_file(path.string());
    FAIL() << "parsed a truncated trace";
  } catch (const TraceError& e) {
    EXPECT_EQ(std::string(e.what()), path.string() + ":1: unknown op 'flush' (ops: map map_nosync "
              "iotlb_sync_map unmap unmap_fast iotlb_sync flush_iotlb_all map_sg iova_to_phys "
              "map_pages unmap_pages read write fail_alloc; directives, before the ops: driver "
              "config iommu seed)");
    EXPECT_EQ(e.line(), 1u);
    EXPECT_EQ(e.file(), path.string());
  }
  std::filesystem::remove(path);
  EXPECT_THROW(write_trace_file("/nonexistent-dir/x.trace", Trace{}), TraceError);
}

}  // namespace
}  // namespace iommu::conform
