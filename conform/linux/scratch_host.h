/* A host for running the tree's code where the device's view is not needed (the probe, the
 * kernel's own selftests): table memory handed out upwards from 2 GiB and never reused, so
 * nothing needs tracking, and memory accesses and flushes that do nothing. */
#ifndef LXSHIM_SCRATCH_HOST_H
#define LXSHIM_SCRATCH_HOST_H

#include <stdint.h>

#include "iommucheck_driver.h"

struct lxshim_scratch {
  uint64_t next; /* the next paddr handed out */
};

/* The host over `s` (its ctx); WARNs go to `warn` with that ctx. A caller that needs state of
 * its own in `warn` embeds `s` as the first member of a struct of its own. */
struct iommucheck_host lxshim_scratch_host(struct lxshim_scratch *s,
                                           void (*warn)(void *ctx, const char *message));

#endif
