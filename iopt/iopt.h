// iommufd-style page storage: an IO address space whose areas map slices of pinned user
// memory into any number of domains, storing each PFN in one of three tiers (docs/IOPT.md).
#pragma once

#include "iopt/config.h"        // batch sizes and the per-instance seeded bug
#include "iopt/domain.h"        // what the storage asks of a domain; CoreDomain over impl/
#include "iopt/io_pagetable.h"  // the IO address space: map, copy, unmap, attach, accesses
#include "iopt/user_memory.h"   // the process memory, its pins, the fault injector
