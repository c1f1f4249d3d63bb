/* WARN_ON and friends: each report goes to the checker's `warn` callback as
 * "FILE:LINE: WARN_ON(cond)" with the kernel source's own file and line (the sources are
 * compiled from the tree's root, so __FILE__ is drivers/iommu/...). A WARN is reported every
 * time it fires: "once" state would be global mutable state shared by page tables. */
#ifndef LXSHIM_BUG_H
#define LXSHIM_BUG_H

#include "lxshim/base.h"

void lxshim_warn(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* BUG(): the kernel stops; so does this process, after reporting where. */
void lxshim_bug(const char *file, int line, const char *what) __attribute__((noreturn));

#define WARN_ON(cond)                                                           \
  ({                                                                            \
    int lx_c_ = !!(cond);                                                       \
    if (unlikely(lx_c_)) lxshim_warn(__FILE__, __LINE__, "WARN_ON(%s)", #cond); \
    unlikely(lx_c_);                                                            \
  })
#define WARN(cond, fmt, ...)                                                           \
  ({                                                                                   \
    int lx_c_ = !!(cond);                                                              \
    if (unlikely(lx_c_)) lxshim_warn(__FILE__, __LINE__, "WARN: " fmt, ##__VA_ARGS__); \
    unlikely(lx_c_);                                                                   \
  })
#define WARN_ON_ONCE(cond) WARN_ON(cond)
#define WARN_ONCE(cond, fmt, ...) WARN(cond, fmt, ##__VA_ARGS__)
#define BUG() lxshim_bug(__FILE__, __LINE__, "BUG()")
#define BUG_ON(cond)                                                         \
  do {                                                                       \
    if (unlikely(cond)) lxshim_bug(__FILE__, __LINE__, "BUG_ON(" #cond ")"); \
  } while (0)
#define VM_BUG_ON(cond) BUG_ON(cond)
#define BUILD_BUG_ON(cond) _Static_assert(!(cond), "BUILD_BUG_ON(" #cond ")")

#endif
