#include "hw/invalidation.h"

#include <fmt/core.h>

namespace iommu::hw {

Command Command::all() {
  Command c;
  c.kind = CommandKind::kAll;
  return c;
}

Command Command::context(ContextId ctx) {
  Command c;
  c.kind = CommandKind::kContext;
  c.ctx = ctx;
  return c;
}

Command Command::by_range(ContextId ctx, IovaRange r, bool leaf_only) {
  Command c;
  c.kind = CommandKind::kRange;
  c.ctx = ctx;
  c.range = r;
  c.leaf_only = leaf_only;
  return c;
}

Command Command::sync() { return Command{}; }

bool Command::hits_leaf(ContextId entry_ctx, uint64_t base, uint64_t size) const {
  switch (kind) {
    case CommandKind::kAll: return true;
    case CommandKind::kContext: return entry_ctx == ctx;
    case CommandKind::kSync: return false;
    case CommandKind::kRange: break;
  }
  if (entry_ctx != ctx) return false;
  // A wrong TTL hint leaves other-level entries CONSTRAINED UNPREDICTABLE: assume they stay.
  if (leaf_size != 0 && size != leaf_size) return false;
  return whole_leaf ? range.covers(base, size) : range.overlaps(base, size);
}

bool Command::hits_table(ContextId entry_ctx, uint64_t base, uint64_t span) const {
  if (kind == CommandKind::kRange) {
    return !leaf_only && entry_ctx == ctx && range.overlaps(base, span);
  }
  return hits_leaf(entry_ctx, base, span);
}

std::string describe(const Command& cmd) {
  switch (cmd.kind) {
    case CommandKind::kAll: return "inv-all";
    case CommandKind::kContext: return fmt::format("inv-context ctx={}", cmd.ctx);
    case CommandKind::kSync: return "sync";
    case CommandKind::kRange: break;
  }
  return fmt::format("inv-range ctx={} iova=[{:#x}, {:#x}] leaf={} leaf_size={:#x} whole_leaf={}",
                     cmd.ctx, cmd.range.start, cmd.range.last, cmd.leaf_only ? 1 : 0, cmd.leaf_size,
                     cmd.whole_leaf ? 1 : 0);
}

}  // namespace iommu::hw
