// One proved property: a name, what it says in plain words, and how Z3 decides it. The
// catalogue (proofs/proofs.h) lists the properties `iommucheck prove` runs and the broken
// variants the tests expect a counterexample from.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace iommu::proofs {

enum class Status { kProved, kCounterexample, kUnknown };

struct Outcome {
  Status status = Status::kUnknown;
  // For a counterexample: the concrete values, one "name = value" per entry, in the order a
  // reader wants them. For unknown: Z3's reason_unknown().
  std::vector<std::string> model;
  // When the counterexample is a call sequence: the ops as trace lines
  // ("map iova=0x... paddr=0x... size=... prot=rw"), for a trace `iommucheck replay` accepts.
  std::vector<std::string> trace_ops;
  double seconds = 0;
};

struct Property {
  std::string name;     // kebab-case, unique: "pgsize-aligns", "smmuv3-range-covers"
  std::string summary;  // one sentence, plain words
  // Decides the property with Z3 within timeout_ms (0: no limit).
  std::function<Outcome(unsigned timeout_ms)> prove;
};

}  // namespace iommu::proofs
