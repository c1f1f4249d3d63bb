// The public faces of the engine: which instantiation serves a configuration.
#include "impl/pgtable.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "impl/host_memory.h"
#include "impl/pt_engine.h"

namespace iommu::impl {

std::unique_ptr<PtEngineBase> make_checked_engine(const PgtableConfig& cfg,
                                                  const hw::Format& fmt, hw::TableMemory& mem,
                                                  FlushOps& flush);
std::unique_ptr<PtEngineBase> make_host_engine(const PgtableConfig& cfg, const hw::Format& fmt,
                                               HostMemory& mem, FlushOps& flush);

std::span<const std::string_view> pgtable_formats() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> out;
    for (std::string_view name : hw::format_names())
      if (serves_family(hw::make_format({std::string(name)}).family())) out.push_back(name);
    return out;
  }();
  return names;
}

PgtableFace::PgtableFace(const hw::FormatConfig& format)
    : fmt_(std::make_unique<const hw::Format>(hw::make_format(format))) {}

PgtableFace::~PgtableFace() = default;

int PgtableFace::map_pages(uint64_t iova, uint64_t paddr, uint64_t pgsize, uint64_t pgcount,
                           int prot, uint64_t* mapped) {
  return engine_->map_pages(iova, paddr, pgsize, pgcount, prot, mapped);
}

uint64_t PgtableFace::unmap_pages(uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                                  IotlbGather* gather) {
  return engine_->unmap_pages(iova, pgsize, pgcount, gather);
}

uint64_t PgtableFace::iova_to_phys(uint64_t iova) { return engine_->iova_to_phys(iova); }

Pgtable::Pgtable(PgtableConfig config, hw::TableMemory& mem, FlushOps& flush)
    : PgtableFace(config.format), cfg_(std::move(config)) {
  engine_ = make_checked_engine(cfg_, *fmt_, mem, flush);
}

Pgtable::~Pgtable() = default;

std::span<const uint64_t> Pgtable::roots() const { return engine_->roots(); }

ref::DomainConfig Pgtable::domain_config() const {
  const hw::Geometry& g = fmt_->geo();
  ref::DomainConfig d;
  d.pgsize_bitmap = g.pgsize_bitmap;
  d.ias = g.ias;
  d.oas = g.oas;
  d.partial_unmap = cfg_.partial_unmap;
  return d;
}

HostPgtable::HostPgtable(const PgtableConfig& config, FlushOps& flush)
    : PgtableFace(config.format), mem_(std::make_unique<HostMemory>(fmt_->geo().oas)) {
  if (config.bug != Mutant::kNone)
    throw std::invalid_argument("HostPgtable: the production engine takes no seeded bug");
  engine_ = make_host_engine(config, *fmt_, *mem_, flush);
}

// The engine goes before the memory its destructor frees tables into.
HostPgtable::~HostPgtable() { engine_.reset(); }

uint64_t HostPgtable::table_bytes() const { return engine_->table_bytes_live(); }

}  // namespace iommu::impl
