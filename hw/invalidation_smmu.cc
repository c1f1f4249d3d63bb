#include "hw/invalidation_smmu.h"

#include <fmt/core.h>

#include <stdexcept>

#include "base/bits.h"

namespace iommu::hw {
namespace {

// Field positions from arm-smmu-v3.h (CMDQ_0_OP, CMDQ_TLBI_0_*, CMDQ_TLBI_1_*).
struct Field {
  unsigned hi;
  unsigned lo;
  uint64_t get(uint64_t w) const { return (w & genmask(hi, lo)) >> lo; }
  uint64_t put(uint64_t v) const { return (v << lo) & genmask(hi, lo); }
};
constexpr Field kOp{7, 0};
constexpr Field kNum{16, 12};
constexpr Field kScale{24, 20};
constexpr Field kVmid{47, 32};
constexpr Field kAsid{63, 48};
constexpr Field kLeaf{0, 0};
constexpr Field kTtl{9, 8};
constexpr Field kTg{11, 10};
constexpr uint64_t kVaMask = genmask(63, 12);
constexpr uint64_t kIpaMask = genmask(51, 12);

bool is_known_op(uint64_t op) {
  switch (static_cast<SmmuOp>(op)) {
    case SmmuOp::kTlbiNhAsid:
    case SmmuOp::kTlbiNhVa:
    case SmmuOp::kTlbiS12Vmall:
    case SmmuOp::kTlbiS2Ipa:
    case SmmuOp::kTlbiNsnhAll:
    case SmmuOp::kCmdSync: return true;
  }
  return false;
}

uint64_t addr_mask(SmmuOp op) { return op == SmmuOp::kTlbiS2Ipa ? kIpaMask : kVaMask; }

// The range a TLBI by address covers; throws on the encodings the architecture reserves.
IovaRange tlbi_range(const SmmuCmd& cmd) {
  if (cmd.tg == 0) {
    if (cmd.num != 0 || cmd.scale != 0 || cmd.ttl != 0) {
      throw std::invalid_argument(fmt::format(
          "SMMUv3 TLBI with TG=0 (single address) must have NUM=SCALE=TTL=0, got {}/{}/{}", cmd.num,
          cmd.scale, cmd.ttl));
    }
    uint64_t page = cmd.addr & ~low_mask(12);
    return {page, page | low_mask(12)};
  }
  if (cmd.num == 0 && cmd.scale == 0 && cmd.ttl == 0) {
    throw std::invalid_argument(
        "SMMUv3 range TLBI with NUM=SCALE=TTL=0 is reserved: use TG=0 for one page or set "
        "SCALE/TTL (the driver bumps num_pages to 2 for non-leaf invalidations)");
  }
  unsigned shift = smmu_tg_shift(cmd.tg);
  uint64_t base = cmd.addr & ~low_mask(shift);
  uint64_t size = (uint64_t{cmd.num} + 1) << (cmd.scale + shift);
  uint64_t last = base + (size - 1);
  return {base, last < base ? ~uint64_t{0} : last};
}

// The leaf size a TTL hint names: the block size at level ttl for the TG granule.
uint64_t ttl_leaf_size(const SmmuCmd& cmd) {
  if (cmd.ttl == 0) return 0;
  unsigned shift = smmu_tg_shift(cmd.tg);
  return bit(shift + (3u - cmd.ttl) * (shift - 3u));
}

Command decode_by_address(const SmmuCmd& cmd, ContextId ctx) {
  Command out = Command::by_range(ctx, tlbi_range(cmd), cmd.leaf);
  out.leaf_size = ttl_leaf_size(cmd);
  return out;
}

}  // namespace

unsigned smmu_tg_shift(unsigned tg) {
  if (tg < 1 || tg > 3) {
    throw std::invalid_argument(
        fmt::format("SMMUv3 TG must be 1 (4K), 2 (16K) or 3 (64K), got {}", tg));
  }
  return 12 + 2 * (tg - 1);
}

SmmuWords smmu_pack(const SmmuCmd& cmd) {
  SmmuWords w{kOp.put(static_cast<uint64_t>(cmd.op)), 0};
  switch (cmd.op) {
    case SmmuOp::kTlbiNhVa:
    case SmmuOp::kTlbiS2Ipa:
      w[0] |= kNum.put(cmd.num) | kScale.put(cmd.scale) | kVmid.put(cmd.vmid);
      if (cmd.op == SmmuOp::kTlbiNhVa) w[0] |= kAsid.put(cmd.asid);
      w[1] = kLeaf.put(cmd.leaf) | kTtl.put(cmd.ttl) | kTg.put(cmd.tg) |
             (cmd.addr & addr_mask(cmd.op));
      break;
    case SmmuOp::kTlbiNhAsid: w[0] |= kAsid.put(cmd.asid) | kVmid.put(cmd.vmid); break;
    case SmmuOp::kTlbiS12Vmall: w[0] |= kVmid.put(cmd.vmid); break;
    case SmmuOp::kTlbiNsnhAll:
    case SmmuOp::kCmdSync: break;
  }
  return w;
}

SmmuCmd smmu_unpack(const SmmuWords& w) {
  uint64_t op = kOp.get(w[0]);
  if (!is_known_op(op)) {
    throw std::invalid_argument(fmt::format("SMMUv3 opcode {:#x} is not a modelled TLBI/SYNC", op));
  }
  SmmuCmd cmd{.op = static_cast<SmmuOp>(op)};
  cmd.asid = static_cast<uint16_t>(kAsid.get(w[0]));
  cmd.vmid = static_cast<uint16_t>(kVmid.get(w[0]));
  cmd.num = static_cast<uint8_t>(kNum.get(w[0]));
  cmd.scale = static_cast<uint8_t>(kScale.get(w[0]));
  cmd.leaf = kLeaf.get(w[1]) != 0;
  cmd.ttl = static_cast<uint8_t>(kTtl.get(w[1]));
  cmd.tg = static_cast<uint8_t>(kTg.get(w[1]));
  cmd.addr = w[1] & addr_mask(cmd.op);
  return cmd;
}

Command smmu_decode(const SmmuCmd& cmd) {
  switch (cmd.op) {
    case SmmuOp::kTlbiNhVa: return decode_by_address(cmd, cmd.asid);
    case SmmuOp::kTlbiS2Ipa: return decode_by_address(cmd, cmd.vmid);
    case SmmuOp::kTlbiNhAsid: return Command::context(cmd.asid);
    case SmmuOp::kTlbiS12Vmall: return Command::context(cmd.vmid);
    case SmmuOp::kTlbiNsnhAll: return Command::all();
    case SmmuOp::kCmdSync: return Command::sync();
  }
  throw std::invalid_argument("SMMUv3 command with an unknown opcode: build it with SmmuOp values");
}

}  // namespace iommu::hw
