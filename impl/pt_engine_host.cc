// The production engine: tables in ordinary memory, no seeded bug.
#include <memory>

#include "impl/host_memory.h"
#include "impl/pt_engine_core.h"
#include "impl/pt_free.h"
#include "impl/pt_map.h"
#include "impl/pt_unmap.h"

namespace iommu::impl {

template class PtEngine<HostMemory, NoBug>;

std::unique_ptr<PtEngineBase> make_host_engine(const PgtableConfig& cfg, const hw::Format& fmt,
                                               HostMemory& mem, FlushOps& flush) {
  return std::make_unique<PtEngine<HostMemory, NoBug>>(cfg, fmt, mem, flush, NoBug{});
}

}  // namespace iommu::impl
