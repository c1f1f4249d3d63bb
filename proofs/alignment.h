// Alignment and splitting: iommu_pgsize, the core's map and unmap loops.
// Internal to proofs/; the catalogue (proofs/proofs.h) lists them.
#pragma once

#include <z3++.h>

#include <string>
#include <vector>

#include "proofs/pgsize_model.h"
#include "proofs/property.h"
#include "proofs/solve.h"
#include "proofs/split_model.h"

namespace iommu::proofs {

std::vector<Property> alignment_properties();
std::vector<Property> alignment_broken_variants();

// The property under a mutated model; its name is the property's with "/" and the mutation.
Property pgsize_property(const std::string& name, PgsizeVariant v);
Property split_property(const std::string& name, SplitVariant v, PgsizeVariant pv);
Property merge_property(const std::string& name, MergeVariant v);

// What iommu_pgsize is asked: every 64-bit bitmap, iova, paddr (the iova itself for unmap)
// and size the core may pass, i.e. a non-empty bitmap, size != 0 and a request aligned to the
// smallest page (map and unmap check that before their loops).
struct PgsizeInputs {
  z3::expr bitmap, iova, paddr, size;
  PgsizeInputs(z3::context& ctx, bool unmap);
  z3::expr precondition() const;
  Shown shown() const;
};

z3::expr is_pow2(const z3::expr& x);

// What the rest builds on, each decided on pgsize_choice itself (the full masks):
enum class ChoiceFact {
  kInBitmap,  // it answers, with a power of two of the bitmap
  kAligns,    // that aligns iova and paddr
  kFitsSize,  // and is at most size
  kMaximal,   // and no larger size of the bitmap aligns both and fits
};

// Decides the facts under the variant, each once per process (later calls reuse a proof).
// A counterexample's model starts with "failed step = ...".
Outcome choice_facts(const std::vector<ChoiceFact>& facts, PgsizeVariant v, bool unmap,
                     unsigned timeout_ms);

// A choice left free but for kInBitmap, kAligns and kFitsSize, and the chunk pgsize_chunk
// makes of it. The facts pin the choice down up to maximality (with kMaximal, uniquely), so a
// claim proved for every free choice holds for iommu_pgsize's.
struct FreeChoice {
  z3::expr pgsize;
  PgsizeModel<z3::expr> chunk;
  z3::expr facts;
  FreeChoice(const PgsizeInputs& in, PgsizeVariant v);
};

// The chunk lemma: for every free choice, count * pgsize is non-zero, at most size and a whole
// number of pages. Decided once per process per variant.
Outcome chunk_fits(PgsizeVariant v, bool unmap, unsigned timeout_ms);

}  // namespace iommu::proofs
