/*
 * Plugins that crash, exit, hang or fail, for iommucheck's isolation tests (docs/PLUGINS.md):
 * the example driver (example_plugin.c, included whole) with one fault added by a -D switch.
 * Each fault fires in map_pages when pgcount >= 3, which a contract campaign reaches within a
 * few ops and which a minimized trace reaches in one `map` op.
 *
 *   FAULT_SEGV    writes through a null pointer
 *   FAULT_ABORT   calls abort()
 *   FAULT_EXIT0   calls exit(0), which a CI job would read as a pass
 *   FAULT_EXIT1   calls _Exit(1) (no atexit handlers, as _exit)
 *   FAULT_LOOP    spins forever
 *   FAULT_ENOMEM  crashes on its -ENOMEM path: when alloc_table returns 0 (any pgcount)
 *   FAULT_CREATE  create() fails with -ENOMEM
 *   FAULT_ROOTS   roots() claims (size_t)-1 root tables
 *   FAULT_WARN    WARNs: on that correct call (a finding), and on a map over a mapping as
 *                 Linux's io-pgtable-arm does (caller misuse: allowed, and shown by replay)
 *   FAULT_FLAKY   fails that call with -ENOMEM at random (a driver `diff` cannot compare)
 */
#define iommucheck_driver_descriptor example_driver_descriptor
#include "example_plugin.c"
#undef iommucheck_driver_descriptor

static void fault(const struct example *ex) {
#if defined(FAULT_WARN)
  ex->host->warn(ex->host->ctx, "faulty: a WARN on a correct map_pages call");
#else
  (void)ex;
#endif
#if defined(FAULT_SEGV)
  *(volatile int *)0 = 1;
#elif defined(FAULT_ABORT)
  abort();
#elif defined(FAULT_EXIT0)
  exit(0);
#elif defined(FAULT_EXIT1)
  _Exit(1);
#elif defined(FAULT_LOOP)
  for (volatile int spin = 1; spin;) {
  }
#endif
}

#ifdef FAULT_FLAKY
#include <sys/random.h>

static int coin(void) {
  unsigned char c = 0;
  return getrandom(&c, 1, 0) == 1 && (c & 1);
}
#endif

static int faulty_map_pages(void *handle, uint64_t iova, uint64_t paddr, uint64_t pgsize,
                            uint64_t pgcount, int prot, uint64_t *mapped) {
  const struct example *ex = handle;
  int ret;
  if (pgcount >= 3) fault(ex);
#ifdef FAULT_FLAKY
  if (pgcount >= 3 && coin()) return -ENOMEM;
#endif
  ret = example_map_pages(handle, iova, paddr, pgsize, pgcount, prot, mapped);
#ifdef FAULT_WARN
  IOMMUCHECK_WARN_ON(ex->host, ret == -EEXIST);
#endif
#ifdef FAULT_ENOMEM
  /* The bug: the error path uses the table it did not get. */
  if (ret == -ENOMEM) *(volatile uint64_t *)0 = 0;
#endif
  return ret;
}

static int faulty_create(const struct iommucheck_host *host, const char *options,
                         void **handle) {
#ifdef FAULT_CREATE
  (void)host, (void)options, (void)handle;
  return -ENOMEM;
#else
  return example_create(host, options, handle);
#endif
}

static size_t faulty_roots(void *handle, uint64_t *roots, size_t max) {
  size_t n = example_roots(handle, roots, max);
#ifdef FAULT_ROOTS
  n = (size_t)-1;
#endif
  return n;
}

static struct iommucheck_driver faulty_driver;

/* The example's descriptor (geometry, policy, format) with the faulty calls, made once when
 * the plugin loads, before the host asks for it. */
__attribute__((constructor)) static void faulty_init(void) {
  faulty_driver = example_driver;
  faulty_driver.name = "faulty";
  faulty_driver.description = "the example driver with a fault added, for the isolation tests";
  faulty_driver.create = faulty_create;
  faulty_driver.map_pages = faulty_map_pages;
  faulty_driver.roots = faulty_roots;
}

IOMMUCHECK_DRIVER_EXPORT const struct iommucheck_driver *iommucheck_driver_descriptor(
    uint32_t host_abi_version) {
  (void)host_abi_version;
  return &faulty_driver;
}
