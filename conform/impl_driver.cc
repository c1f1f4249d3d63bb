#include "conform/impl_driver.h"

#include <fmt/core.h>

#include <memory>
#include <string>

namespace iommu::conform {
namespace {

class ImplDriver final : public Driver {
 public:
  ImplDriver(const DriverInfo& info, const impl::PgtableConfig& cfg, DriverEnv& env)
      : info_(info), pgtable_(cfg, env.memory, env.flush) {}

  const DriverInfo& info() const override { return info_; }
  std::vector<uint64_t> roots() const override {
    return {pgtable_.roots().begin(), pgtable_.roots().end()};
  }
  int map_pages(uint64_t iova, uint64_t paddr, uint64_t pgsize, uint64_t pgcount, int prot,
                uint64_t* mapped) override {
    return pgtable_.map_pages(iova, paddr, pgsize, pgcount, prot, mapped);
  }
  uint64_t unmap_pages(uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                       impl::IotlbGather* gather) override {
    return pgtable_.unmap_pages(iova, pgsize, pgcount, gather);
  }
  uint64_t iova_to_phys(uint64_t iova) override { return pgtable_.iova_to_phys(iova); }

 private:
  DriverInfo info_;
  impl::Pgtable pgtable_;
};

}  // namespace

DriverSource impl_driver_source(std::string_view format, ref::PartialUnmap policy) {
  impl::PgtableConfig cfg{.format = {.name = std::string(format)}, .partial_unmap = policy};
  const hw::Format fmt = hw::make_format(cfg.format);  // throws for an unknown format
  DriverInfo info;
  info.name = fmt::format("impl:{}", format);
  info.format = cfg.format;
  const hw::Geometry& g = fmt.geo();
  info.config = {.pgsize_bitmap = g.pgsize_bitmap, .ias = g.ias, .oas = g.oas,
                 .partial_unmap = policy};
  info.description = fmt::format("iommucheck's engine writing {} descriptors ({})", format,
                                 ref::describe(info.config));
  return {info, [info, cfg](DriverEnv& env) -> std::unique_ptr<Driver> {
            return std::make_unique<ImplDriver>(info, cfg, env);
          }};
}

}  // namespace iommu::conform
