// The conformance engine: a driver under test run beside the reference and the hardware
// model, with generated or replayed ops, minimized findings and the bug zoo. See
// docs/CHECKER.md, docs/TRACES.md, docs/PLUGINS.md and docs/FUZZING.md.
#pragma once

#include "conform/campaign.h"     // randomized campaigns, replay, minimization of findings
#include "conform/checker.h"      // one domain checked after every op
#include "conform/driver.h"       // the driver-under-test interface
#include "conform/fuzz_input.h"   // the differential fuzz target's input format
#include "conform/generator.h"    // op generation, caller contract
#include "conform/impl_driver.h"  // impl:FORMAT
#include "conform/judge.h"        // verdicts on walks, accesses, iova_to_phys
#include "conform/kunit_export.h"  // a linux: finding as a KUnit test of the kernel
#include "conform/minimize.h"     // delta debugging
#include "conform/mutants.h"      // the bug zoo
#include "conform/op.h"           // the op vocabulary
#include "conform/plugin.h"       // plugin:PATH.so (C ABI in conform/iommucheck_driver.h)
#include "conform/registry.h"     // driver names
#include "conform/trace.h"        // the trace text format
