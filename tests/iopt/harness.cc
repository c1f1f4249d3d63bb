#include "harness.h"

#include <fmt/format.h>

#include <cerrno>
#include <random>

namespace iommu::iopt::testing {

Harness::Harness(Scenario scenario) : mm(scenario.layout, faults) {
  for (const std::string& f : scenario.formats) domains.push_back(std::make_unique<TestDomain>(faults, f));
  iopt = std::make_unique<IoPagetable>(mm, faults, scenario.config);
}

Harness::~Harness() {
  iopt.reset();  // before the domains it may still hold
}

template <class Impl, class Ref>
int Harness::run(std::string what, Maps maps, Impl impl, Ref ref) {
  const uint64_t failures = faults.failures();
  const uint64_t map_calls = iopt->stats().map_calls;
  const int want = ref(false);
  const int got = impl();
  const bool injected = faults.failures() != failures;
  what += fmt::format(" = {}{}", got, injected ? " (allocation failed)" : "");
  log.push_back(what);
  if (got == want) {
    if (got == 0) {
      ref(true);
      uint64_t calls = iopt->stats().map_calls - map_calls;
      if (maps == Maps::kChecked && calls != model.expected_map_calls())
        violations.push_back(fmt::format("map calls: {} made {} map calls, expected {} (one per PFN run)",
                                         what, calls, model.expected_map_calls()));
    }
  } else if (!(got == -ENOMEM && want == 0 && injected)) {
    violations.push_back(fmt::format("errno: {}, expected {}", what, want));
  }
  check_state(what);
  return got;
}

void Harness::check_state(const std::string& what) {
  ref::Observed seen;
  seen.iova_to_phys = [&](unsigned d, uint64_t iova) { return domains.at(d)->core.iova_to_phys(iova); };
  for (const XarrayEntry& e : iopt->xarray_entries()) seen.xarray.push_back({e.uva, e.pfn});
  for (const std::string& v : model.check(seen)) violations.push_back(v + " after " + what);
  const IoptStats s = iopt->stats();
  if (s.areas != model.areas() || s.pages_objects != model.pages_objects() ||
      s.accesses != model.accesses())
    violations.push_back(fmt::format("objects: {} areas, {} pages objects, {} accesses; expected "
                                     "{}, {}, {} after {}", s.areas, s.pages_objects, s.accesses,
                                     model.areas(), model.pages_objects(), model.accesses(), what));
  if (model.empty() && (s.pinned || s.xarray_entries || s.access_ranges))
    violations.push_back(fmt::format("leak: nothing is mapped or accessed, yet {} pins, {} xarray "
                                     "entries, {} access ranges remain after {}", s.pinned,
                                     s.xarray_entries, s.access_ranges, what));
}

int Harness::map_user(uint64_t iova, uint64_t uva, uint64_t length, int prot) {
  return run(fmt::format("map_user iova={:#x} uva={:#x} length={:#x} prot={}", iova, uva, length, prot),
             Maps::kChecked, [&] { return iopt->map_user(iova, uva, length, prot); },
             [&](bool apply) { return model.map_user(iova, uva, length, prot, apply); });
}

int Harness::copy(uint64_t dst, uint64_t src, uint64_t length, int prot) {
  return run(fmt::format("copy dst={:#x} src={:#x} length={:#x} prot={}", dst, src, length, prot),
             Maps::kChecked, [&] { return iopt->copy(dst, src, length, prot); },
             [&](bool apply) { return model.copy(dst, src, length, prot, apply); });
}

int Harness::unmap(uint64_t iova, uint64_t length) {
  return run(fmt::format("unmap iova={:#x} length={:#x}", iova, length), Maps::kUnchecked,
             [&] { return iopt->unmap(iova, length); },
             [&](bool apply) { return model.unmap(iova, length, apply); });
}

int Harness::attach(unsigned d) {
  IoDomain& dom = domains.at(d)->domain;
  return run(fmt::format("attach domain={}", d), Maps::kChecked, [&] { return iopt->attach(dom); },
             [&](bool apply) { return model.attach(d, dom.pgsize_bitmap(), apply); });
}

int Harness::detach(unsigned d) {
  IoDomain& dom = domains.at(d)->domain;
  return run(fmt::format("detach domain={}", d), Maps::kUnchecked, [&] { return iopt->detach(dom); },
             [&](bool apply) { return model.detach(d, apply); });
}

int Harness::add_access(uint64_t iova, uint64_t length, bool write, AccessId* id) {
  AccessId got_id = 0;
  int rc = run(fmt::format("add_access iova={:#x} length={:#x} write={}", iova, length, write),
               Maps::kUnchecked, [&] { return iopt->add_access(iova, length, write, &got_id); },
               [&](bool apply) { return model.add_access(iova, length, write, got_id, apply); });
  if (rc == 0) live_accesses_.insert(got_id);
  *id = got_id;
  return rc;
}

int Harness::remove_access(AccessId id) {
  int rc = run(fmt::format("remove_access id={}", id), Maps::kUnchecked,
               [&] { return iopt->remove_access(id); },
               [&](bool apply) { return model.remove_access(id, apply); });
  if (rc == 0) live_accesses_.erase(id);
  return rc;
}

int Harness::read(AccessId id, uint64_t offset, uint64_t length) {
  std::vector<uint8_t> got(length), want(length);
  int rc = run(fmt::format("read id={} offset={:#x} length={:#x}", id, offset, length),
               Maps::kUnchecked, [&] { return iopt->access_rw(id, offset, got, false); },
               [&](bool) { return model.access_rw(id, offset, length, false); });
  if (rc == 0) {
    model.expected_bytes(id, offset, want);
    if (got != want)
      violations.push_back(fmt::format("bytes: {} read other bytes than the user's", log.back()));
  }
  return rc;
}

int Harness::write(AccessId id, uint64_t offset, std::span<const uint8_t> bytes) {
  std::vector<uint8_t> data(bytes.begin(), bytes.end()), now(bytes.size());
  int rc = run(fmt::format("write id={} offset={:#x} length={:#x}", id, offset, bytes.size()),
               Maps::kUnchecked, [&] { return iopt->access_rw(id, offset, data, true); },
               [&](bool) { return model.access_rw(id, offset, bytes.size(), true); });
  if (rc == 0) {
    model.expected_bytes(id, offset, now);
    if (!std::equal(now.begin(), now.end(), bytes.begin()))
      violations.push_back(fmt::format("bytes: {} did not reach the user's pages", log.back()));
  }
  return rc;
}

void Harness::teardown() {
  faults.fail_nth(0);
  while (!live_accesses_.empty()) remove_access(*live_accesses_.begin());
  if (model.areas()) unmap(0, uint64_t{1} << 47);
  for (unsigned d = 0; d < domains.size(); ++d)
    if (iopt->detach(domains[d]->domain) == 0) model.detach(d, true);
  check_state("teardown");
  if (mm.total_pins())
    violations.push_back(fmt::format("leak: {} pins outlive every user", mm.total_pins()));
}

namespace {

// Picks operations over a small iova space (64 pages) and user memory, so that areas overlap,
// share pages objects through copy, and accesses cover domain-stored and hole spans alike.
class Driver {
 public:
  Driver(Harness& h, uint64_t seed) : h_(h), rng_(seed) {}

  void step() {
    if (pick(6) == 0) h_.faults.fail_nth(1 + pick(12));
    switch (pick(10)) {
      case 0: case 1: h_.map_user(iova(), page(h_.mm.npages()) * kPageSize, len(), 1 + int(pick(3))); break;
      case 2: h_.copy(iova(), iova(), len(), 1 + int(pick(3))); break;
      case 3: h_.unmap(iova(), len() * (1 + pick(3))); break;
      case 4: h_.attach(unsigned(pick(h_.domains.size()))); break;
      case 5: if (pick(2)) h_.detach(unsigned(pick(h_.domains.size()))); break;
      case 6: add(); break;
      case 7: if (!ids_.empty()) h_.remove_access(ids_[pick(ids_.size())]); break;
      case 8: rw(false); break;
      default: rw(true); break;
    }
    h_.faults.fail_nth(0);
  }

 private:
  uint64_t pick(uint64_t n) { return rng_() % n; }
  uint64_t page(uint64_t n) { return pick(n); }
  uint64_t iova() { return 0x100000 + page(64) * kPageSize; }
  uint64_t len() { return (1 + page(12)) * kPageSize; }
  void add() {
    AccessId id = 0;
    if (h_.add_access(iova(), len(), pick(2), &id) == 0) ids_.push_back(id);
  }
  void rw(bool write) {
    if (ids_.empty()) return;
    AccessId id = ids_[pick(ids_.size())];
    uint64_t offset = pick(3 * kPageSize), length = 1 + pick(2 * kPageSize);
    if (!write) {
      h_.read(id, offset, length);
      return;
    }
    std::vector<uint8_t> bytes(length);
    for (auto& b : bytes) b = uint8_t(rng_());
    h_.write(id, offset, bytes);
  }

  Harness& h_;
  std::mt19937_64 rng_;
  std::vector<AccessId> ids_;
};

}  // namespace

std::vector<std::string> campaign(uint64_t seed, unsigned ops, const Scenario& scenario) {
  Harness h(scenario);
  Driver driver(h, seed);
  for (unsigned i = 0; i < ops && h.violations.empty(); ++i) driver.step();
  if (h.violations.empty()) h.teardown();
  std::vector<std::string> out = h.violations;
  if (!out.empty()) {
    out.push_back(fmt::format("seed {}, operations:", seed));
    size_t from = h.log.size() > 12 ? h.log.size() - 12 : 0;
    for (size_t i = from; i < h.log.size(); ++i) out.push_back("  " + h.log[i]);
  }
  return out;
}

}  // namespace iommu::iopt::testing
