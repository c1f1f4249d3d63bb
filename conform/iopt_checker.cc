#include "conform/iopt_checker.h"

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <random>

#include "conform/impl_driver.h"

namespace iommu::conform {

using iopt::IoptStats;
using iopt::kPageSize;
using iopt::XarrayEntry;

IoptDomain::IoptDomain(const DriverSource& source, FaultInjector& faults)
    : memory(hw::TableMemory::window_for_oas(source.info.config.oas)),
      flush(sink, {}),
      env{memory, flush},
      pgtable(source.create(env)),
      core(*pgtable, flush, source.info.config),
      domain(core) {
  memory.set_failure_hook([&faults](uint64_t, uint64_t) { return faults.should_fail(); });
}

IoptChecker::IoptChecker(const IoptScenario& scenario)
    : mm(scenario.layout, faults), model(mm, scenario.config.iova_limit) {
  std::vector<DriverSource> sources = scenario.domains;
  if (sources.empty())
    for (const char* f : {"arm-64-lpae-s1-4k", "arm-64-lpae-s2-4k", "arm-v7s"})
      sources.push_back(impl_driver_source(f));
  for (const DriverSource& s : sources) domains.push_back(std::make_unique<IoptDomain>(s, faults));
  iopt = std::make_unique<iopt::IoPagetable>(mm, faults, scenario.config);
}

IoptChecker::~IoptChecker() {
  iopt.reset();  // before the domains it may still hold
}

template <class Impl, class Ref>
int IoptChecker::run(std::string what, Maps maps, Impl impl, Ref ref) {
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
        violations.push_back(
            fmt::format("map calls: {} made {} map calls, expected {} (one per PFN run)", what,
                        calls, model.expected_map_calls()));
    }
  } else if (!(got == -ENOMEM && want == 0 && injected)) {
    violations.push_back(fmt::format("errno: {}, expected {}", what, want));
  }
  check_state(what);
  return got;
}

void IoptChecker::check_state(const std::string& what) {
  iopt::ref::Observed seen;
  seen.iova_to_phys = [&](unsigned d, uint64_t iova) {
    return domains.at(d)->core.iova_to_phys(iova);
  };
  for (const XarrayEntry& e : iopt->xarray_entries()) seen.xarray.push_back({e.uva, e.pfn});
  for (const std::string& v : model.check(seen)) violations.push_back(v + " after " + what);
  for (auto& d : domains)
    for (const std::string& m : d->env.warnings.take())
      violations.push_back(
          fmt::format("driver: {} warned after {}: {}", d->pgtable->info().name, what, m));
  for (auto& d : domains)
    for (const std::string& m : d->env.host_errors.take())
      violations.push_back(fmt::format("driver: {} misused the host after {}: {}",
                                       d->pgtable->info().name, what, m));
  const IoptStats s = iopt->stats();
  if (s.areas != model.areas() || s.pages_objects != model.pages_objects() ||
      s.accesses != model.accesses())
    violations.push_back(
        fmt::format("objects: {} areas, {} pages objects, {} accesses; expected "
                    "{}, {}, {} after {}",
                    s.areas, s.pages_objects, s.accesses, model.areas(), model.pages_objects(),
                    model.accesses(), what));
  if (model.empty() && (s.pinned || s.xarray_entries || s.access_ranges))
    violations.push_back(
        fmt::format("leak: nothing is mapped or accessed, yet {} pins, {} xarray "
                    "entries, {} access ranges remain after {}",
                    s.pinned, s.xarray_entries, s.access_ranges, what));
}

int IoptChecker::map_user(uint64_t iova, uint64_t uva, uint64_t length, int prot) {
  return run(
      fmt::format("map_user iova={:#x} uva={:#x} length={:#x} prot={}", iova, uva, length, prot),
      Maps::kChecked, [&] { return iopt->map_user(iova, uva, length, prot); },
      [&](bool apply) { return model.map_user(iova, uva, length, prot, apply); });
}

int IoptChecker::copy(uint64_t dst, uint64_t src, uint64_t length, int prot) {
  return run(
      fmt::format("copy dst={:#x} src={:#x} length={:#x} prot={}", dst, src, length, prot),
      Maps::kChecked, [&] { return iopt->copy(dst, src, length, prot); },
      [&](bool apply) { return model.copy(dst, src, length, prot, apply); });
}

int IoptChecker::unmap(uint64_t iova, uint64_t length) {
  return run(
      fmt::format("unmap iova={:#x} length={:#x}", iova, length), Maps::kUnchecked,
      [&] { return iopt->unmap(iova, length); },
      [&](bool apply) { return model.unmap(iova, length, apply); });
}

int IoptChecker::attach(unsigned d) {
  iopt::IoDomain& dom = domains.at(d)->domain;
  return run(
      fmt::format("attach domain={}", d), Maps::kChecked, [&] { return iopt->attach(dom); },
      [&](bool apply) { return model.attach(d, dom.pgsize_bitmap(), dom.ias(), apply); });
}

int IoptChecker::detach(unsigned d) {
  iopt::IoDomain& dom = domains.at(d)->domain;
  return run(
      fmt::format("detach domain={}", d), Maps::kUnchecked, [&] { return iopt->detach(dom); },
      [&](bool apply) { return model.detach(d, apply); });
}

int IoptChecker::add_access(uint64_t iova, uint64_t length, bool write, AccessId* id) {
  AccessId got_id = 0;
  int rc = run(
      fmt::format("add_access iova={:#x} length={:#x} write={}", iova, length, write),
      Maps::kUnchecked, [&] { return iopt->add_access(iova, length, write, &got_id); },
      [&](bool apply) { return model.add_access(iova, length, write, got_id, apply); });
  if (rc == 0) live_accesses_.insert(got_id);
  *id = got_id;
  return rc;
}

int IoptChecker::remove_access(AccessId id) {
  int rc = run(
      fmt::format("remove_access id={}", id), Maps::kUnchecked,
      [&] { return iopt->remove_access(id); },
      [&](bool apply) { return model.remove_access(id, apply); });
  if (rc == 0) live_accesses_.erase(id);
  return rc;
}

int IoptChecker::read(AccessId id, uint64_t offset, uint64_t length) {
  std::vector<uint8_t> got(length), want(length);
  int rc = run(
      fmt::format("read id={} offset={:#x} length={:#x}", id, offset, length), Maps::kUnchecked,
      [&] { return iopt->access_rw(id, offset, got, false); },
      [&](bool) { return model.access_rw(id, offset, length, false); });
  if (rc == 0) {
    model.expected_bytes(id, offset, want);
    if (got != want)
      violations.push_back(fmt::format("bytes: {} read other bytes than the user's", log.back()));
  }
  return rc;
}

int IoptChecker::write(AccessId id, uint64_t offset, std::span<const uint8_t> bytes) {
  std::vector<uint8_t> data(bytes.begin(), bytes.end()), now(bytes.size());
  int rc = run(
      fmt::format("write id={} offset={:#x} length={:#x}", id, offset, bytes.size()),
      Maps::kUnchecked, [&] { return iopt->access_rw(id, offset, data, true); },
      [&](bool) { return model.access_rw(id, offset, bytes.size(), true); });
  if (rc == 0) {
    model.expected_bytes(id, offset, now);
    if (!std::equal(now.begin(), now.end(), bytes.begin()))
      violations.push_back(fmt::format("bytes: {} did not reach the user's pages", log.back()));
  }
  return rc;
}

void IoptChecker::teardown() {
  faults.fail_nth(0);
  while (!live_accesses_.empty()) remove_access(*live_accesses_.begin());
  if (model.areas()) unmap(0, iopt->config().iova_limit);
  for (unsigned d = 0; d < domains.size(); ++d)
    if (iopt->detach(domains[d]->domain) == 0) model.detach(d, true);
  check_state("teardown");
  if (mm.total_pins())
    violations.push_back(fmt::format("leak: {} pins outlive every user", mm.total_pins()));
}

namespace {

// Picks operations over a small iova space (64 pages) and user memory, so that areas overlap,
// share pages objects through copy, and accesses cover domain-stored and hole spans alike.
class OpPicker {
 public:
  OpPicker(IoptChecker& h, uint64_t seed, CallerMode mode)
      : h_(h), rng_(seed), hostile_(mode == CallerMode::kHostile) {}

  void step() {
    if (pick(6) == 0) h_.faults.fail_nth(1 + pick(12));
    switch (pick(10)) {
      case 0:
      case 1:
        h_.map_user(iova(), uva(), len(), 1 + int(pick(3)));
        break;
      case 2:
        h_.copy(iova(), iova(), len(), 1 + int(pick(3)));
        break;
      case 3:
        h_.unmap(iova(), len() * (1 + pick(3)));
        break;
      case 4:
        h_.attach(unsigned(pick(h_.domains.size())));
        break;
      case 5:
        if (pick(2)) h_.detach(unsigned(pick(h_.domains.size())));
        break;
      case 6:
        add();
        break;
      case 7:
        if (!ids_.empty()) h_.remove_access(ids_[pick(ids_.size())]);
        break;
      case 8:
        rw(false);
        break;
      default:
        rw(true);
        break;
    }
    h_.faults.fail_nth(0);
  }

 private:
  uint64_t pick(uint64_t n) { return rng_() % n; }
  // A hostile caller sometimes passes an address off by a byte, or near the top of the space.
  uint64_t skew(uint64_t v) {
    if (!hostile_ || pick(8)) return v;
    return pick(2) ? v + 1 + pick(kPageSize - 1) : (~uint64_t{0} << 12) - pick(16) * kPageSize;
  }
  uint64_t iova() { return skew(0x100000 + pick(64) * kPageSize); }
  uint64_t uva() { return skew(pick(h_.mm.npages() + 2) * kPageSize); }
  uint64_t len() { return skew((1 + pick(12)) * kPageSize); }
  void add() {
    AccessId id = 0;
    if (h_.add_access(iova(), len(), pick(2), &id) == 0) ids_.push_back(id);
  }
  void rw(bool write) {
    if (ids_.empty()) return;
    AccessId id = hostile_ && !pick(8) ? 1000 + pick(4) : ids_[pick(ids_.size())];
    uint64_t offset = pick(3 * kPageSize), length = 1 + pick(2 * kPageSize);
    if (!write) {
      h_.read(id, offset, length);
      return;
    }
    std::vector<uint8_t> bytes(length);
    for (auto& b : bytes) b = uint8_t(rng_());
    h_.write(id, offset, bytes);
  }

  IoptChecker& h_;
  std::mt19937_64 rng_;
  bool hostile_;
  std::vector<AccessId> ids_;
};

}  // namespace

IoptCampaignResult iopt_campaign(uint64_t seed, uint64_t ops, const IoptScenario& scenario,
                                 CallerMode mode) {
  IoptChecker h(scenario);
  OpPicker picker(h, seed, mode);
  IoptCampaignResult r;
  for (; r.ops < ops && h.violations.empty(); ++r.ops) picker.step();
  if (h.violations.empty()) h.teardown();
  r.violations = h.violations;
  if (!r.violations.empty()) {
    r.violations.push_back(fmt::format("seed {}, the last operations:", seed));
    size_t from = h.log.size() > 12 ? h.log.size() - 12 : 0;
    for (size_t i = from; i < h.log.size(); ++i) r.violations.push_back("  " + h.log[i]);
  }
  return r;
}

MutantKill iopt_mutant_kill(iopt::Mutant mutant, double seconds, uint64_t seed) {
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  MutantKill k;
  IoptScenario s;
  s.config.mutant = mutant;
  s.config.batch_runs = 3;
  for (uint64_t e = seed; !k.killed && elapsed() < seconds; ++e) {
    s.layout = UserMemory::scattered_layout(128, 8, e);
    IoptCampaignResult r = iopt_campaign(e, 300, s);
    k.ops += r.ops;
    if (r.violations.empty()) continue;
    k.killed = true;
    k.violation = r.violations.front();
    k.check = k.violation.substr(0, k.violation.find(':'));
  }
  k.seconds = elapsed();
  return k;
}

}  // namespace iommu::conform
