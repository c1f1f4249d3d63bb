// Table memories reused across checkers on one thread. A fuzz input, a minimization step and a
// RapidCheck case each build a checker; a fresh memory costs a multi-GiB reservation, the page
// faults of its first use and its unmapping, which would dominate a short run.
#pragma once

#include <memory>

#include "hw/table_memory.h"

namespace iommu::conform {

// A table memory for as long as the lease lives: one from this thread's pool reset to
// `config`, or a new one. The lease returns it to the pool, so whatever uses the memory must be
// gone first (declare the lease before its users).
class MemoryLease {
 public:
  explicit MemoryLease(const hw::TableMemory::Config& config);
  ~MemoryLease();
  MemoryLease(const MemoryLease&) = delete;
  MemoryLease& operator=(const MemoryLease&) = delete;

  hw::TableMemory& memory() { return *mem_; }

 private:
  std::unique_ptr<hw::TableMemory> mem_;
};

// The table memory a checker runs a driver in: the window for its oas (`bytes` of it, 0: the
// default), recording bad frees so that they are findings.
hw::TableMemory::Config checked_memory_config(unsigned oas, uint64_t bytes);

}  // namespace iommu::conform
