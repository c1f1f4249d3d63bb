// What every library shares and nothing more: bit arithmetic with the kernel's names, the
// IOMMU_* prot flags, a scatterlist entry, and the text forms of prots and sizes. No semantics
// of the IOMMU API live here; ref/, hw/ and impl/ each build their own on top.
#pragma once

#include "base/bits.h"       // fls64_idx, ffs64_idx, genmask, low_mask, fits_bits
#include "base/prot.h"       // IOMMU_READ ... and their text form
#include "base/segment.h"    // a scatterlist entry: paddr, length
#include "base/size_name.h"  // "4K", "2M"
