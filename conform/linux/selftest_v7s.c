/* 6.12's v7s selftests (CONFIG_IOMMU_IO_PGTABLE_ARMV7S_SELFTEST): the tree's
 * io-pgtable-arm-v7s.c included whole, since its initcall is static. */
#include "lxshim_selftest.h"
#include "drivers/iommu/io-pgtable-arm-v7s.c"

int lxshim_selftest_v7s(void) { return arm_v7s_do_selftests(); }
