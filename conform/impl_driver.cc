#include "conform/impl_driver.h"

#include <fmt/core.h>

#include <memory>
#include <string>

namespace iommu::conform {
namespace {

class ImplDriver final : public OpsDriver {
 public:
  ImplDriver(const DriverInfo& info, const impl::PgtableConfig& cfg, DriverEnv& env)
      : info_(info), pgtable_(cfg, env.memory, env.flush) {}

  const DriverInfo& info() const override { return info_; }
  std::vector<uint64_t> roots() const override {
    return {pgtable_.roots().begin(), pgtable_.roots().end()};
  }

 private:
  impl::IoPgtableOps& ops() override { return pgtable_; }

  DriverInfo info_;
  impl::Pgtable pgtable_;
};

constexpr ref::PartialUnmap kPolicies[] = {ref::PartialUnmap::kSplit, ref::PartialUnmap::kRefuse,
                                           ref::PartialUnmap::kWhole};

}  // namespace

std::string_view impl_kind(ref::PartialUnmap policy) {
  switch (policy) {
    case ref::PartialUnmap::kRefuse: return "impl-refuse";
    case ref::PartialUnmap::kWhole: return "impl-whole";
    case ref::PartialUnmap::kSplit: break;
  }
  return "impl";
}

std::optional<ref::PartialUnmap> impl_policy(std::string_view kind) {
  for (ref::PartialUnmap p : kPolicies)
    if (impl_kind(p) == kind) return p;
  return std::nullopt;
}

DriverSource impl_driver_source(const hw::FormatConfig& format, ref::PartialUnmap policy) {
  const impl::PgtableConfig cfg{.format = format, .partial_unmap = policy};
  const hw::Format fmt = hw::make_format(cfg.format);  // throws for an unknown format
  DriverInfo info;
  info.name = fmt::format("{}:{}", impl_kind(policy), format.name);
  info.format = cfg.format;
  info.concurrent = true;  // impl::Pgtable takes map/unmap on disjoint ranges from any thread
  const hw::Geometry& g = fmt.geo();
  info.config = {.pgsize_bitmap = g.pgsize_bitmap, .ias = g.ias, .oas = g.oas,
                 .partial_unmap = policy};
  info.description = fmt::format("iommucheck's engine writing {} descriptors ({})", format.name,
                                 ref::describe(info.config));
  return {info, [info, cfg](DriverEnv& env) -> std::unique_ptr<Driver> {
            impl::PgtableConfig seeded = cfg;
            seeded.bug = env.bug;
            return std::make_unique<ImplDriver>(info, seeded, env);
          }};
}

DriverSource impl_driver_source(std::string_view format, ref::PartialUnmap policy) {
  return impl_driver_source(hw::FormatConfig{.name = std::string(format)}, policy);
}

}  // namespace iommu::conform
