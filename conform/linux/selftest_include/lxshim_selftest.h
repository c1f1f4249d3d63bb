/* What the kernel's selftest code uses beyond the shim the drivers need: init-section markers
 * (no sections here), for_each_set_bit, set_dev_node. Included before a tree's file. */
#ifndef LXSHIM_SELFTEST_H
#define LXSHIM_SELFTEST_H

#define __initconst
#define __initdata
#define __noipa __attribute__((noipa))
#define for_each_set_bit(bit, addr, size)  \
  for ((bit) = 0; (bit) < (size); (bit)++) \
    if (!((*(addr) >> (bit)) & 1UL)) {     \
    } else
#define set_dev_node(dev, node) ((dev)->numa_node = (node))

#endif
