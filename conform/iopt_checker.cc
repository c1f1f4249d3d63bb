#include "conform/iopt_checker.h"

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <random>

#include "conform/impl_driver.h"
#include "conform/minimize.h"

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
  last_want = want;
  last_got = got;
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

AccessId IoptChecker::access(uint64_t name) const {
  auto it = names_.find(name);
  return it == names_.end() ? name : it->second;
}

int IoptChecker::apply(IoptOp op) {
  using K = IoptOp::Kind;
  faults.fail_nth(op.fail);
  int rc = 0;
  switch (op.kind) {
    case K::kMapUser:
      rc = map_user(op.iova, op.src, op.length, op.prot);
      break;
    case K::kCopy:
      rc = copy(op.iova, op.src, op.length, op.prot);
      break;
    case K::kUnmap:
      rc = unmap(op.iova, op.length);
      break;
    case K::kAttach:
      rc = attach(op.domain);
      break;
    case K::kDetach:
      rc = detach(op.domain);
      break;
    case K::kAddAccess: {
      AccessId id = 0;
      rc = add_access(op.iova, op.length, op.write, &id);
      if (!op.id) op.id = rc == 0 ? id : 0;
      if (rc == 0)
        names_[op.id] = id;
      else
        names_.erase(op.id);
      break;
    }
    case K::kRemoveAccess:
      rc = remove_access(access(op.id));
      break;
    case K::kRead:
      rc = read(access(op.id), op.offset, op.length);
      break;
    case K::kWrite:
      rc = write(access(op.id), op.offset, iopt_fill_bytes(op.fill, op.length));
      break;
    case K::kTeardown:
      teardown();
      break;
  }
  faults.fail_nth(0);
  ops.push_back(op);
  return rc;
}

std::vector<uint8_t> iopt_fill_bytes(uint64_t fill, uint64_t length) {
  std::vector<uint8_t> bytes(length);
  uint64_t x = fill;
  for (uint8_t& b : bytes) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;  // Knuth's MMIX LCG
    b = uint8_t(x >> 56);
  }
  return bytes;
}

IoptOpPicker::IoptOpPicker(IoptChecker& h, Draw draw, CallerMode mode)
    : h_(h), draw_(std::move(draw)), hostile_(mode == CallerMode::kHostile) {}

void IoptOpPicker::step() {
  using K = IoptOp::Kind;
  const uint64_t fail = pick(6) == 0 ? 1 + pick(12) : 0;
  switch (pick(10)) {
    case 0:
    case 1:
      h_.apply({.kind = K::kMapUser,
                .iova = iova(),
                .src = uva(),
                .length = len(),
                .prot = 1 + int(pick(3)),
                .fail = fail});
      break;
    case 2:
      h_.apply({.kind = K::kCopy,
                .iova = iova(),
                .src = iova(),
                .length = len(),
                .prot = 1 + int(pick(3)),
                .fail = fail});
      break;
    case 3:
      h_.apply({.kind = K::kUnmap, .iova = iova(), .length = len() * (1 + pick(3)), .fail = fail});
      break;
    case 4:
      h_.apply({.kind = K::kAttach, .domain = unsigned(pick(h_.domains.size())), .fail = fail});
      break;
    case 5:
      if (pick(2))
        h_.apply({.kind = K::kDetach, .domain = unsigned(pick(h_.domains.size())), .fail = fail});
      break;
    case 6:
      add_access(fail);
      break;
    case 7:
      if (!ids_.empty())
        h_.apply({.kind = K::kRemoveAccess, .id = ids_[pick(ids_.size())], .fail = fail});
      break;
    case 8:
      rw(false, fail);
      break;
    default:
      rw(true, fail);
      break;
  }
}

// A hostile caller sometimes passes an address off by a byte, or near the top of the space.
uint64_t IoptOpPicker::skew(uint64_t v) {
  if (!hostile_ || pick(8)) return v;
  return pick(2) ? v + 1 + pick(kPageSize - 1) : (~uint64_t{0} << 12) - pick(16) * kPageSize;
}

uint64_t IoptOpPicker::uva() { return skew(pick(h_.mm.npages() + 2) * kPageSize); }

void IoptOpPicker::add_access(uint64_t fail) {
  const IoptOp op{.kind = IoptOp::Kind::kAddAccess,
                  .iova = iova(),
                  .length = len(),
                  .write = pick(2) != 0,
                  .fail = fail};
  if (h_.apply(op) == 0) ids_.push_back(h_.ops.back().id);
}

void IoptOpPicker::rw(bool write, uint64_t fail) {
  if (ids_.empty()) return;
  IoptOp op{.kind = write ? IoptOp::Kind::kWrite : IoptOp::Kind::kRead, .fail = fail};
  op.id = hostile_ && !pick(8) ? 1000 + pick(4) : ids_[pick(ids_.size())];
  op.offset = pick(3 * kPageSize);
  op.length = 1 + pick(2 * kPageSize);
  if (write) op.fill = draw_();
  h_.apply(op);
}

IoptCampaignResult iopt_campaign(uint64_t seed, uint64_t ops, const IoptScenario& scenario,
                                 CallerMode mode) {
  IoptChecker h(scenario);
  std::mt19937_64 rng(seed);
  IoptOpPicker picker(
      h, [&rng] { return rng(); }, mode);
  IoptCampaignResult r;
  for (; r.ops < ops && h.violations.empty(); ++r.ops) picker.step();
  if (h.violations.empty()) h.apply({.kind = IoptOp::Kind::kTeardown});
  r.violations = h.violations;
  r.trace = h.ops;
  if (!r.violations.empty()) {
    r.violations.push_back(fmt::format("seed {}, the last operations:", seed));
    size_t from = h.log.size() > 12 ? h.log.size() - 12 : 0;
    for (size_t i = from; i < h.log.size(); ++i) r.violations.push_back("  " + h.log[i]);
  }
  return r;
}

IoptReplay replay_iopt(const IoptScenario& scenario, const std::vector<IoptOp>& ops,
                       const IoptShow& show) {
  IoptChecker h(scenario);
  IoptReplay r;
  while (r.ops < ops.size() && h.violations.empty()) {
    const IoptOp& op = ops[r.ops];
    const int got = h.apply(op);
    if (show) show(r.ops, op, op.kind == IoptOp::Kind::kTeardown ? 0 : h.last_want, got);
    ++r.ops;
  }
  r.violations = h.violations;
  return r;
}

std::string iopt_rule(const std::string& violation) {
  return violation.substr(0, violation.find(':'));
}

IoptFinding minimize_iopt(const IoptScenario& scenario, std::vector<IoptOp> ops,
                          const std::string& violation, size_t max_tests,
                          const std::function<bool()>& stop) {
  const std::string rule = iopt_rule(violation);
  auto still_fails = [&](const std::vector<IoptOp>& candidate) {
    const IoptReplay r = replay_iopt(scenario, candidate);
    return !r.violations.empty() && iopt_rule(r.violations.front()) == rule;
  };
  TestBudget budget(max_tests, stop);
  ops = ddmin(std::move(ops), still_fails, budget);
  // An injected failure the violation does not need only obscures it.
  for (IoptOp& op : ops) {
    if (!op.fail || budget.exhausted()) continue;
    const uint64_t fail = std::exchange(op.fail, 0);
    if (!budget.run(still_fails, ops)) op.fail = fail;
  }
  IoptFinding f;
  f.minimized = !budget.exhausted();
  const IoptReplay r = replay_iopt(scenario, ops);
  if (r.violations.empty() || iopt_rule(r.violations.front()) != rule) {
    f.violation = violation;  // cannot happen with a deterministic storage; keep the original
    f.minimized = false;
  } else {
    f.violation = r.violations.front();
    ops.resize(r.ops);
  }
  f.ops = std::move(ops);
  return f;
}

MutantKill iopt_mutant_kill(iopt::Mutant mutant, double seconds, uint64_t seed,
                            std::pair<IoptScenario, IoptFinding>* finding) {
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  MutantKill k;
  IoptScenario s;
  s.config.mutant = mutant;
  s.config.batch_runs = 3;
  s.domains.assign(3, impl_driver_source("arm-64-lpae-s1-4k"));  // as its trace names them
  for (uint64_t e = seed; !k.killed && elapsed() < seconds; ++e) {
    s.layout = UserMemory::scattered_layout(128, 8, e);
    IoptCampaignResult r = iopt_campaign(e, 300, s);
    k.ops += r.ops;
    if (r.violations.empty()) continue;
    k.killed = true;
    IoptFinding f = minimize_iopt(s, r.trace, r.violations.front(), 1000);
    k.violation = f.violation;
    k.check = iopt_rule(k.violation);
    k.trace_ops = f.ops.size();
    if (finding) *finding = {s, std::move(f)};
  }
  k.seconds = elapsed();
  return k;
}

}  // namespace iommu::conform
