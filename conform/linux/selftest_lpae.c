/* 6.12's LPAE selftests (CONFIG_IOMMU_IO_PGTABLE_LPAE_SELFTEST): the tree's io-pgtable-arm.c
 * included whole, since its initcall is static. Built by scripts/kernel-selftests.sh. */
#include "lxshim_selftest.h"
#include "drivers/iommu/io-pgtable-arm.c"

int lxshim_selftest_lpae(void) { return arm_lpae_do_selftests(); }
