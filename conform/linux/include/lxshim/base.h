/* iommucheck's userspace stand-in for the kernel's basic types, compiler helpers, bit
 * operations, atomics and barriers, as far as the io-pgtable sources use them. Our own
 * declarations, written to the kernel's documented interfaces; no kernel code. */
#ifndef LXSHIM_BASE_H
#define LXSHIM_BASE_H

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;
typedef u64 phys_addr_t;
typedef u64 dma_addr_t;
typedef unsigned int gfp_t;
typedef unsigned int slab_flags_t;
typedef unsigned long pgoff_t;
typedef struct {
  int counter;
} atomic_t;

#define __init
#define __exit
#define __initdata
#undef __always_inline
#define __always_inline inline __attribute__((always_inline))
#define __maybe_unused __attribute__((unused))
#define __must_check __attribute__((warn_unused_result))
#define __packed __attribute__((packed))
#define __aligned(x) __attribute__((aligned(x)))
#define noinline __attribute__((noinline))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define fallthrough __attribute__((fallthrough))
#define EXPORT_SYMBOL(x)
#define EXPORT_SYMBOL_GPL(x)
#define MODULE_LICENSE(x)
#define MODULE_DESCRIPTION(x)
#define subsys_initcall(fn)
#define late_initcall(fn)
#define module_init(fn)

/* IS_ENABLED(CONFIG_X): 1 when the build defines CONFIG_X to 1 (lxshim_config.h), else 0. */
#define lxshim_placeholder_1 0,
#define lxshim_second(ignored, val, ...) val
#define lxshim_defined3(arg1_or_junk) lxshim_second(arg1_or_junk 1, 0)
#define lxshim_defined2(val) lxshim_defined3(lxshim_placeholder_##val)
#define IS_ENABLED(option) lxshim_defined2(option)

#define BITS_PER_LONG 64
#define BIT(nr) (1UL << (nr))
#define BIT_ULL(nr) (1ULL << (nr))
#define GENMASK(h, l) (((~0UL) << (l)) & (~0UL >> (BITS_PER_LONG - 1 - (h))))
#define GENMASK_ULL(h, l) (((~0ULL) << (l)) & (~0ULL >> (63 - (h))))
#define upper_32_bits(n) ((u32)(((n) >> 16) >> 16))
#define lower_32_bits(n) ((u32)((n)&0xffffffff))

#define __bf_shf(x) (__builtin_ffsll(x) - 1)
#define FIELD_PREP(mask, val) (((typeof(mask))(val) << __bf_shf(mask)) & (mask))
#define FIELD_GET(mask, reg) ((typeof(mask))(((reg) & (mask)) >> __bf_shf(mask)))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#define min(a, b) ((a) < (b) ? (a) : (b))
#define max(a, b) ((a) > (b) ? (a) : (b))
#define min_t(t, a, b) ((t)(a) < (t)(b) ? (t)(a) : (t)(b))
#define max_t(t, a, b) ((t)(a) > (t)(b) ? (t)(a) : (t)(b))
#define DIV_ROUND_UP(n, d) (((n) + (d)-1) / (d))
#define ALIGN(x, a) (((x) + ((typeof(x))(a)-1)) & ~((typeof(x))(a)-1))
#define IS_ALIGNED(x, a) (((x) & ((typeof(x))(a)-1)) == 0)
#define round_down(x, y) ((x) & ~((typeof(x))(y)-1))
#define round_up(x, y) ((((x)-1) | ((typeof(x))(y)-1)) + 1)

static inline unsigned long __ffs(unsigned long w) { return (unsigned long)__builtin_ctzl(w); }
static inline unsigned long __fls(unsigned long w) {
  return 63UL - (unsigned long)__builtin_clzl(w);
}
static inline int fls(unsigned int x) { return x ? 32 - __builtin_clz(x) : 0; }
static inline int fls64(u64 x) { return x ? 64 - __builtin_clzll(x) : 0; }
#define ilog2(n) ((int)(63 - __builtin_clzll((u64)(n))))
#define is_power_of_2(n) ((n) != 0 && (((n) & ((n)-1)) == 0))

static inline void set_bit(long nr, volatile unsigned long *addr) {
  __atomic_fetch_or(addr + nr / BITS_PER_LONG, 1UL << (nr % BITS_PER_LONG), __ATOMIC_RELAXED);
}
static inline void clear_bit(long nr, volatile unsigned long *addr) {
  __atomic_fetch_and(addr + nr / BITS_PER_LONG, ~(1UL << (nr % BITS_PER_LONG)), __ATOMIC_RELAXED);
}
static inline bool test_bit(long nr, const volatile unsigned long *addr) {
  return (addr[nr / BITS_PER_LONG] >> (nr % BITS_PER_LONG)) & 1;
}

#define READ_ONCE(x) (*(const volatile typeof(x) *)&(x))
#define WRITE_ONCE(x, val) (*(volatile typeof(x) *)&(x) = (val))
#define barrier() __asm__ __volatile__("" ::: "memory")
/* Barriers as a coherent walker sees CPU stores (docs/LINUX.md, "The shim"): a table store
 * reaches the device only at a barrier that completes it for the device. wmb() and mb() do
 * (they order stores before later MMIO, which may start a walk): under a coherent walk they
 * publish every pending store (runtime.c). dma_wmb() only orders stores to coherent memory
 * among themselves, completing none, and the smp_ barriers order CPU against CPU, not the
 * device: they, the read barriers and atomics (cmpxchg_relaxed included) publish nothing. */
void lxshim_device_barrier(void);
#define wmb() lxshim_device_barrier()
#define mb() lxshim_device_barrier()
#define rmb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define dma_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#define dma_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define smp_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#define smp_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define smp_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)

/* cmpxchg: returns the old value; stores `new` only when it equalled `old`. */
#define lxshim_cmpxchg(ptr, old, new)                                                 \
  ({                                                                                  \
    typeof(*(ptr)) lx_expected_ = (old);                                              \
    __atomic_compare_exchange_n((ptr), &lx_expected_, (new), false, __ATOMIC_SEQ_CST, \
                                __ATOMIC_SEQ_CST);                                    \
    lx_expected_;                                                                     \
  })
#define cmpxchg(ptr, o, n) lxshim_cmpxchg(ptr, o, n)
#define cmpxchg_relaxed(ptr, o, n) lxshim_cmpxchg(ptr, o, n)
#define cmpxchg64(ptr, o, n) lxshim_cmpxchg(ptr, o, n)
#define cmpxchg64_relaxed(ptr, o, n) lxshim_cmpxchg(ptr, o, n)
#define xchg(ptr, v) __atomic_exchange_n((ptr), (v), __ATOMIC_SEQ_CST)
#define xchg_relaxed(ptr, v) __atomic_exchange_n((ptr), (v), __ATOMIC_RELAXED)

#define SZ_1K 0x00000400
#define SZ_4K 0x00001000
#define SZ_16K 0x00004000
#define SZ_64K 0x00010000
#define SZ_1M 0x00100000
#define SZ_2M 0x00200000
#define SZ_16M 0x01000000
#define SZ_32M 0x02000000
#define SZ_512M 0x20000000
#define SZ_1G 0x40000000
#define SZ_2G 0x80000000UL
#define SZ_4G 0x100000000ULL

/* Kernel logging: the io-pgtable code only logs on paths that also return an error, and the
 * checker judges the error, so messages are type-checked and dropped. */
#define lxshim_no_printk(fmt, ...)               \
  ({                                             \
    if (0) __builtin_printf(fmt, ##__VA_ARGS__); \
    0;                                           \
  })
#define pr_err(fmt, ...) lxshim_no_printk(fmt, ##__VA_ARGS__)
#define pr_warn(fmt, ...) lxshim_no_printk(fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...) lxshim_no_printk(fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...) lxshim_no_printk(fmt, ##__VA_ARGS__)
#define dev_err(dev, fmt, ...) lxshim_no_printk(fmt, ##__VA_ARGS__)
#define dev_warn(dev, fmt, ...) lxshim_no_printk(fmt, ##__VA_ARGS__)

#endif
