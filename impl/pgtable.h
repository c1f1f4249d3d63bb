// The page-table engine: one io_pgtable_ops implementation for every format impl serves,
// writing real descriptor bytes. Every operation is written once over a level iterator and the
// format's data (impl/pt_engine.h, impl/pt_format.h). Multi-page map and unmap walk once per
// run, empty tables are freed on unmap from per-table live-entry counts, and map/unmap from
// several threads on disjoint iova ranges are safe (docs/IMPL.md, "Page-table engine").
//
// Pgtable keeps its tables in hw::TableMemory, where every access is checked and a device
// model can walk them (what `check` drives); HostPgtable keeps them in ordinary memory with no
// checks (the production path, what bench/ measures). Both run the same engine code.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "hw/format.h"
#include "hw/table_memory.h"
#include "impl/io_pgtable.h"
#include "impl/mutant.h"
#include "ref/config.h"

namespace iommu::impl {

struct PgtableConfig {
  hw::FormatConfig format;
  ref::PartialUnmap partial_unmap = ref::PartialUnmap::kSplit;
  bool free_empty_tables = true;
  // A seeded bug of the zoo (`iommucheck mutants`); only Pgtable takes one.
  Mutant bug = Mutant::kNone;
};

// The hw formats the engine serves (a subset of hw::format_names() while new formats land).
std::span<const std::string_view> pgtable_formats();

class PtEngineBase;
class HostMemory;

// What Pgtable and HostPgtable share: the format and the engine behind io_pgtable_ops.
class PgtableFace : public IoPgtableOps {
 public:
  ~PgtableFace() override;
  int map_pages(uint64_t iova, uint64_t paddr, uint64_t pgsize, uint64_t pgcount, int prot,
                uint64_t* mapped) override;
  uint64_t unmap_pages(uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                       IotlbGather* gather) override;
  uint64_t iova_to_phys(uint64_t iova) override;
  const hw::Format& format() const { return *fmt_; }

 protected:
  explicit PgtableFace(const hw::FormatConfig& format);
  std::unique_ptr<const hw::Format> fmt_;
  std::unique_ptr<PtEngineBase> engine_;
};

class Pgtable : public PgtableFace {
 public:
  // Allocates the root table(s) from `mem`; throws std::invalid_argument for a bad format
  // and std::runtime_error when table memory cannot hold the roots.
  Pgtable(PgtableConfig config, hw::TableMemory& mem, FlushOps& flush);
  // Frees every table (no flush: the context is going away).
  ~Pgtable() override;
  Pgtable(const Pgtable&) = delete;
  Pgtable& operator=(const Pgtable&) = delete;

  const PgtableConfig& config() const { return cfg_; }
  // The table paddrs a hardware walker starts from: one, or one per DART TTBR.
  std::span<const uint64_t> roots() const;
  // What the reference model holds this table to.
  ref::DomainConfig domain_config() const;

 private:
  PgtableConfig cfg_;
};

// The production path: tables in ordinary host memory, no per-access checks, no seeded bug.
class HostPgtable : public PgtableFace {
 public:
  // std::invalid_argument for a bad format or a config with a seeded bug.
  HostPgtable(const PgtableConfig& config, FlushOps& flush);
  ~HostPgtable() override;
  HostPgtable(const HostPgtable&) = delete;
  HostPgtable& operator=(const HostPgtable&) = delete;

  // Bytes of table memory in use.
  uint64_t table_bytes() const;

 private:
  std::unique_ptr<HostMemory> mem_;
};

}  // namespace iommu::impl
