// The engine over hw::TableMemory, what `check` drives: without a seeded bug (the production
// code, over checked memory) and with one (the bug zoo).
#include <memory>

#include "hw/table_memory.h"
#include "impl/pt_engine_core.h"
#include "impl/pt_free.h"
#include "impl/pt_map.h"
#include "impl/pt_unmap.h"

namespace iommu::impl {

template class PtEngine<hw::TableMemory, NoBug>;
template class PtEngine<hw::TableMemory, SeededBug>;

std::unique_ptr<PtEngineBase> make_checked_engine(const PgtableConfig& cfg,
                                                  const hw::Format& fmt, hw::TableMemory& mem,
                                                  FlushOps& flush) {
  if (cfg.bug == Mutant::kNone)
    return std::make_unique<PtEngine<hw::TableMemory, NoBug>>(cfg, fmt, mem, flush, NoBug{});
  return std::make_unique<PtEngine<hw::TableMemory, SeededBug>>(cfg, fmt, mem, flush,
                                                                SeededBug{cfg.bug});
}

}  // namespace iommu::impl
