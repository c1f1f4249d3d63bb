// The dma-iommu layer (drivers/iommu/dma-iommu.c: __iommu_dma_map, __iommu_dma_unmap): a DMA
// mapping is an IOVA from the allocator plus a core map. A strict domain unmaps, syncs and
// frees the IOVA at once; a lazy one unmaps with a queued gather and hands the IOVA to the
// flush queue, which frees it only after a flush_iotlb_all that covers the unmap.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_set>

#include "impl/domain.h"
#include "impl/flush_queue.h"
#include "impl/iova_alloc.h"
#include "impl/mutant.h"

namespace iommu::impl {

struct DmaConfig {
  FlushQueueConfig flush_queue{};  // used by lazy domains
  unsigned dma_bits = 0;           // the device's DMA mask in bits; 0: the domain's ias
  // The bug zoo's seeded bug in this layer (impl/mutant.h): kDmaStrictNoSync. The flush
  // queue's own are FlushQueueConfig::bug.
  Mutant bug = Mutant::kNone;
};

struct DmaMapping {
  uint64_t iova = 0;  // the device address of the first byte
  int err = 0;        // -ENOMEM (no IOVA space) or the core map's errno
  bool ok() const { return err == 0; }
};

class Dma {
 public:
  // IOVAs come from [granule, 2^min(dma_bits, ias) - 1], aligned to their size rounded up to
  // a power of two, at most to the domain's largest page size.
  Dma(Domain& domain, const Clock& clock, const DmaConfig& cfg = {});

  // The pages holding [paddr, paddr + size) at a fresh IOVA; the iova returned keeps paddr's
  // offset inside its page.
  DmaMapping dma_map(uint64_t paddr, uint64_t size, int prot);
  // Undoes a dma_map of the same iova and size; `cpu` picks the per-CPU flush queue. Throws,
  // changing nothing, std::logic_error when it is not a live mapping (never mapped, or
  // already unmapped) and std::out_of_range for a CPU the flush queue does not have.
  void dma_unmap(uint64_t iova, uint64_t size, unsigned cpu = 0);

  // The flush-queue timer; dma_map and dma_unmap poll it too. True if it fired.
  bool poll();
  // Lazy: flush and free every queued IOVA now.
  void flush_queue_now();

  bool lazy() const { return fq_ != nullptr; }
  const IovaAllocator& iovas() const { return iovas_; }
  const FlushQueue* flush_queue() const { return fq_.get(); }
  // Unmaps that removed another size than was mapped (Linux's WARN_ON in __iommu_dma_unmap);
  // the IOVA is freed anyway, as Linux does.
  uint64_t warnings() const { return warnings_.load(); }

 private:
  uint64_t granule() const { return domain_.config().min_pgsize(); }
  // Lazy: claims a live range for unmapping; false if it is not live or already queued.
  bool claim(uint64_t base, uint64_t len);
  void release(uint64_t base, uint64_t len);

  Domain& domain_;
  IovaAllocator iovas_;
  Mutant bug_;
  std::unique_ptr<FlushQueue> fq_;
  std::mutex queued_mu_;
  std::unordered_set<uint64_t> queued_;  // unmapped, waiting in the flush queue
  std::atomic<uint64_t> warnings_{0};
};

}  // namespace iommu::impl
