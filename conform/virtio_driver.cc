#include "conform/virtio_driver.h"

#include <algorithm>

#include "base/bits.h"
#include "base/prot.h"

namespace iommu::conform {
namespace {

// The device's page_size_mask: every power of two from 4 KiB to 2 MiB. The driver sends one
// MAP per page, so larger pages would only make longer request streams.
constexpr uint64_t kPgsizeBitmap = genmask(21, 12);
constexpr unsigned kAddressBits = 48;

int prot_of(uint32_t flags) {
  return (flags & hw::kVirtioMapRead ? IOMMU_READ : 0) |
         (flags & hw::kVirtioMapWrite ? IOMMU_WRITE : 0) |
         (flags & hw::kVirtioMapMmio ? IOMMU_MMIO : 0);
}

class VirtioDriver final : public Driver, public OwnIommu {
 public:
  VirtioDriver(const DriverInfo& info, DriverEnv& env, const impl::VirtioConfig& cfg,
               size_t queue_size)
      : info_(info), env_(env), device_(queue_size), iommu_(device_, cfg) {}

  const DriverInfo& info() const override { return info_; }
  std::vector<uint64_t> roots() const override { return {}; }
  OwnIommu* own_iommu() override { return this; }

  int map_pages(uint64_t iova, uint64_t paddr, uint64_t pgsize, uint64_t pgcount, int prot,
                uint64_t* mapped) override {
    const int ret = iommu_.map_pages(iova, paddr, pgsize, pgcount, prot, mapped);
    report();
    return ret;
  }
  uint64_t unmap_pages(uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                       impl::IotlbGather* gather) override {
    const uint64_t n = iommu_.unmap_pages(iova, pgsize, pgcount, gather);
    report();
    return n;
  }
  uint64_t iova_to_phys(uint64_t iova) override { return iommu_.iova_to_phys(iova); }

  void iotlb_sync(impl::IotlbGather& gather) override {
    iommu_.iotlb_sync(gather);
    report();
  }
  void flush_iotlb_all() override {
    iommu_.flush_iotlb_all();
    report();
  }
  void iotlb_sync_map(uint64_t iova, uint64_t size) override {
    iommu_.iotlb_sync_map(iova, size);
    report();
  }
  bool caches_non_present() const override { return iommu_.caches_non_present(); }

  std::optional<ref::Observation> device_translation(uint64_t iova) const override {
    const auto m = device_.lookup(iova);
    if (!m) return std::nullopt;
    return ref::Observation{m->paddr + (iova - m->first), prot_of(m->flags)};
  }
  std::vector<uint64_t> device_mappings_in(uint64_t first, uint64_t last,
                                           size_t max) const override {
    std::vector<uint64_t> out;
    for (const hw::VirtioMapping& m : device_.mappings_in(first, last, max))
      out.push_back(std::max(m.first, first));
    return out;
  }

 private:
  // A refused request means the guest's tree and the device's have parted: always a finding.
  void report() {
    for (std::string& r : iommu_.take_refusals()) env_.host_errors.report(std::move(r));
  }

  const DriverInfo& info_;
  DriverEnv& env_;
  hw::VirtioIommuDevice device_;
  impl::VirtioIommu iommu_;
};

}  // namespace

std::optional<impl::VirtioRequests> virtio_requests(std::string_view name) {
  if (name == "virtio") return impl::VirtioRequests::kQueued;
  if (name == "virtio-sync") return impl::VirtioRequests::kSynchronous;
  return std::nullopt;
}

DriverSource virtio_driver_source(impl::VirtioRequests requests, size_t queue_size) {
  const bool queued = requests == impl::VirtioRequests::kQueued;
  DriverInfo info;
  info.name = queued ? "virtio" : "virtio-sync";
  info.description =
      queued ? "virtio-iommu guest driver and device, requests queued until a sync (the seed)"
             : "virtio-iommu guest driver and device, every request synchronous";
  // kWhole: an UNMAP must not split a mapping, so a cut one goes whole. A queued MAP stays
  // invisible until its sync, as a non-present entry a device caches.
  info.config = {kPgsizeBitmap, kAddressBits,
                 kAddressBits,  ref::PartialUnmap::kWhole,
                 queued,        ref::Invalidation::kStrict};
  const impl::VirtioConfig cfg{requests, kPgsizeBitmap, kAddressBits, kAddressBits};
  return {info,
          [info = std::make_shared<const DriverInfo>(info), cfg,
           queue_size](DriverEnv& env) -> std::unique_ptr<Driver> {
            impl::VirtioConfig seeded = cfg;
            seeded.bug = env.bug;
            return std::make_unique<VirtioDriver>(*info, env, seeded, queue_size);
          }};
}

}  // namespace iommu::conform
