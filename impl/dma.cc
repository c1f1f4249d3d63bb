#include "impl/dma.h"

#include <fmt/core.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

#include "base/bits.h"

namespace iommu::impl {
namespace {

IovaAllocConfig iova_space(const ref::DomainConfig& domain, unsigned dma_bits) {
  const unsigned bits = dma_bits == 0 ? domain.ias : std::min(dma_bits, domain.ias);
  return {.granule = domain.min_pgsize(),
          .first = domain.min_pgsize(),
          .last = low_mask(bits),
          .max_align = bit(fls64_idx(domain.pgsize_bitmap))};
}

}  // namespace

Dma::Dma(Domain& domain, const Clock& clock, const DmaConfig& cfg)
    : domain_(domain), iovas_(iova_space(domain.config(), cfg.dma_bits)), bug_(cfg.bug) {
  if (domain.config().invalidation == ref::Invalidation::kLazy) {
    fq_ = std::make_unique<FlushQueue>(
        cfg.flush_queue, clock, [this] { domain_.flush_iotlb_all(); },
        [this](uint64_t iova, uint64_t size) { release(iova, size); });
  }
}

DmaMapping Dma::dma_map(uint64_t paddr, uint64_t size, int prot) {
  poll();
  const uint64_t offset = paddr & (granule() - 1);
  if (size == 0 || size > ~uint64_t{0} - offset - (granule() - 1)) return {.err = -EINVAL};
  const uint64_t len = (size + offset + (granule() - 1)) & ~(granule() - 1);
  const std::optional<uint64_t> iova = iovas_.alloc(len);
  if (!iova) return {.err = -ENOMEM};
  if (const int ret = domain_.map(*iova, paddr - offset, len, prot)) {
    iovas_.free(*iova, len);
    return {.err = ret};
  }
  return {.iova = *iova + offset};
}

void Dma::dma_unmap(uint64_t iova, uint64_t size, unsigned cpu) {
  poll();
  const uint64_t offset = iova & (granule() - 1);
  const uint64_t base = iova - offset;
  const uint64_t len = (size + offset + (granule() - 1)) & ~(granule() - 1);
  if (lazy() && fq_->config().style == FlushQueueStyle::kPerCpu && cpu >= fq_->config().cpus) {
    throw std::out_of_range(fmt::format("dma_unmap on CPU {}, but the flush queue has {} CPUs",
                                        cpu, fq_->config().cpus));
  }
  if (lazy() ? !claim(base, len) : !iovas_.is_live(base, len)) {
    throw std::logic_error(fmt::format(
        "dma_unmap({:#x}, {:#x}): no live DMA mapping of {:#x} bytes at {:#x}", iova, size, len, base));
  }
  IotlbGather gather;
  gather.queued = lazy();
  if (domain_.unmap_fast(base, len, gather) != len) ++warnings_;
  if (!lazy()) {
    if (bug_ != Mutant::kDmaStrictNoSync) domain_.iotlb_sync(gather);
    iovas_.free(base, len);
    return;
  }
  fq_->queue(cpu, base, len);
}

// Checked and claimed under one lock, and released under it with the free, so a range is
// never unmapped twice nor mistaken for queued once it has been handed out again.
bool Dma::claim(uint64_t base, uint64_t len) {
  std::lock_guard lock(queued_mu_);
  return iovas_.is_live(base, len) && queued_.insert(base).second;
}

void Dma::release(uint64_t base, uint64_t len) {
  std::lock_guard lock(queued_mu_);
  iovas_.free(base, len);
  queued_.erase(base);
}

bool Dma::poll() { return fq_ && fq_->poll(); }

void Dma::flush_queue_now() {
  if (fq_) fq_->flush_all();
}

}  // namespace iommu::impl
