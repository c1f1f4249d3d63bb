#include "impl/mutant.h"

namespace iommu::impl {
namespace {

thread_local Mutant active = Mutant::kNone;

}  // namespace

Mutant active_mutant() { return active; }
void set_active_mutant(Mutant m) { active = m; }

}  // namespace iommu::impl
