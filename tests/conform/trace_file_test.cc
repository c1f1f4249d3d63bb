// Trace files: written atomically, new files never replace old ones, a byte order mark is
// skipped, and a driver name the format cannot carry is named before anything is written.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "conform/trace.h"

namespace iommu::conform {
namespace {

namespace fs = std::filesystem;

class TraceFile : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / fmt::format("iommucheck_trace_file_{}", ::getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }
  std::vector<std::string> files() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

  fs::path dir_;
  Trace trace_{
      .driver = "impl:arm-v7s", .config = {}, .iommu = {}, .seed = 7, .ops = {FlushIotlbAllOp{}}};
};

TEST_F(TraceFile, NewFilesNeverReplaceOldOnes) {
  auto comment = [](const std::string& path) { return "replay with: iommucheck replay " + path; };
  const std::string first = create_trace_file(dir_.string(), "x-seed7-return", trace_, comment);
  EXPECT_EQ(first, (dir_ / "x-seed7-return.trace").string());
  std::ofstream(dir_ / "x-seed7-return-2.trace") << "someone else's\n";
  const std::string third = create_trace_file(dir_.string(), "x-seed7-return", trace_, comment);
  EXPECT_EQ(third, (dir_ / "x-seed7-return-3.trace").string());
  EXPECT_EQ(read(dir_ / "x-seed7-return-2.trace"), "someone else's\n");
  EXPECT_EQ(read(third), format_trace(trace_, "replay with: iommucheck replay " + third));
  EXPECT_EQ(read_trace_file(first), trace_);
  // Only the traces: no temporary file is left behind.
  EXPECT_EQ(files(), (std::vector<std::string>{"x-seed7-return-2.trace", "x-seed7-return-3.trace",
                                               "x-seed7-return.trace"}));
}

TEST_F(TraceFile, AnUnwritableDirectoryIsATraceErrorNamingThePath) {
  const std::string missing = (dir_ / "missing").string();
  try {
    create_trace_file(missing, "x", trace_, [](const std::string&) { return ""; });
    FAIL() << "no TraceError";
  } catch (const TraceError& e) {
    EXPECT_NE(std::string(e.what()).find(missing + "/x.trace: cannot write trace"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(TraceFile, WriteReplacesAtomically) {
  const fs::path p = dir_ / "t.trace";
  std::ofstream(p) << "old\n";
  write_trace_file(p.string(), trace_);
  EXPECT_EQ(read(p), format_trace(trace_));
  EXPECT_EQ(files(), std::vector<std::string>{"t.trace"});
  EXPECT_EQ(fs::status(p).permissions() & fs::perms::others_read, fs::perms::others_read);
}

TEST(TraceText, AByteOrderMarkIsSkipped) {
  const Trace t = parse_trace(
      "\xef\xbb\xbf"
      "driver impl:arm-v7s\nflush_iotlb_all\n");
  EXPECT_EQ(t.driver, "impl:arm-v7s");
  EXPECT_EQ(t.ops.size(), 1u);
}

TEST(TraceText, DriverNamesTheFormatCannotCarry) {
  EXPECT_EQ(driver_name_problem("plugin:/abs/p.so"), "");
  EXPECT_NE(driver_name_problem("plugin:/a b.so"), "");
  EXPECT_NE(driver_name_problem("plugin:/a#b.so"), "");
  EXPECT_NE(driver_name_problem("plugin:/a\x01.so"), "");
  EXPECT_NE(driver_name_problem(""), "");
}

}  // namespace
}  // namespace iommu::conform
