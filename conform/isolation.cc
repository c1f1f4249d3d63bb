#include "conform/isolation.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <system_error>

#include "conform/trace.h"

namespace iommu::conform {
namespace {

using Clock = std::chrono::steady_clock;

// The driver call in progress, as the watchdog and the findings name it.
enum class Call : uint32_t {
  kNone,
  kCreate,
  kRoots,
  kMapPages,
  kUnmapPages,
  kIovaToPhys,
  kDestroy
};

const char* call_name(Call c) {
  switch (c) {
    case Call::kCreate:
      return "create()";
    case Call::kRoots:
      return "roots()";
    case Call::kMapPages:
      return "map_pages()";
    case Call::kUnmapPages:
      return "unmap_pages()";
    case Call::kIovaToPhys:
      return "iova_to_phys()";
    case Call::kDestroy:
      return "destroy()";
    case Call::kNone:
      break;
  }
  return "no driver call";
}

// Shared between parent and child (an anonymous shared mapping); 64-bit atomics are lock-free
// and address-free on the platforms we build for, so they work across the two processes.
struct Shared {
  std::atomic<uint64_t> beats;  // bumped at every driver call's entry and exit
  std::atomic<Call> call;       // the call in progress
  std::atomic<bool> stop;       // the parent asks the child to stop after its current op
  std::atomic<uint64_t> ops;    // ops started
  std::atomic<uint64_t> used;   // bytes of record() written: one trace line per op

  char* record() { return reinterpret_cast<char*>(this + 1); }
  const char* record() const { return reinterpret_cast<const char*>(this + 1); }
};

// Pages are only committed as the child writes ops, so a generous size costs nothing.
constexpr size_t kMappingBytes = size_t{64} << 20;

class SharedMapping {
 public:
  SharedMapping() {
    void* p = mmap(nullptr, kMappingBytes, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap");
    shared_ = new (p) Shared{};
  }
  ~SharedMapping() { munmap(shared_, kMappingBytes); }
  SharedMapping(const SharedMapping&) = delete;
  SharedMapping& operator=(const SharedMapping&) = delete;
  Shared& operator*() const { return *shared_; }
  Shared* operator->() const { return shared_; }
  static constexpr size_t capacity() { return kMappingBytes - sizeof(Shared); }

 private:
  Shared* shared_;
};

class Beat {
 public:
  Beat(Shared& s, Call c) : s_(s) {
    s_.call.store(c, std::memory_order_relaxed);
    s_.beats.fetch_add(1, std::memory_order_relaxed);
  }
  ~Beat() {
    s_.call.store(Call::kNone, std::memory_order_relaxed);
    s_.beats.fetch_add(1, std::memory_order_relaxed);
  }
  Beat(const Beat&) = delete;
  Beat& operator=(const Beat&) = delete;

 private:
  Shared& s_;
};

// The driver as the child's checker sees it: every call beats the watchdog.
class WatchedDriver final : public Driver {
 public:
  WatchedDriver(std::unique_ptr<Driver> inner, Shared& s) : inner_(std::move(inner)), s_(s) {}
  ~WatchedDriver() override {
    Beat b(s_, Call::kDestroy);
    inner_.reset();
  }
  WatchedDriver(const WatchedDriver&) = delete;
  WatchedDriver& operator=(const WatchedDriver&) = delete;

  const DriverInfo& info() const override { return inner_->info(); }
  std::vector<uint64_t> roots() const override {
    Beat b(s_, Call::kRoots);
    return inner_->roots();
  }
  int map_pages(uint64_t iova, uint64_t paddr, uint64_t pgsize, uint64_t pgcount, int prot,
                uint64_t* mapped) override {
    Beat b(s_, Call::kMapPages);
    return inner_->map_pages(iova, paddr, pgsize, pgcount, prot, mapped);
  }
  uint64_t unmap_pages(uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                       impl::IotlbGather* gather) override {
    Beat b(s_, Call::kUnmapPages);
    return inner_->unmap_pages(iova, pgsize, pgcount, gather);
  }
  uint64_t iova_to_phys(uint64_t iova) override {
    Beat b(s_, Call::kIovaToPhys);
    return inner_->iova_to_phys(iova);
  }

 private:
  std::unique_ptr<Driver> inner_;
  Shared& s_;
};

DriverSource watched(const DriverSource& source, Shared& s) {
  DriverSource w = source;
  w.create = [create = source.create, &s](DriverEnv& env) -> std::unique_ptr<Driver> {
    std::unique_ptr<Driver> d;
    {
      Beat b(s, Call::kCreate);
      d = create(env);
    }
    return std::make_unique<WatchedDriver>(std::move(d), s);
  };
  return w;
}

class Child final : public IsolatedChild {
 public:
  explicit Child(Shared& s) : s_(s) {}
  bool started(const Op& op) override {
    const std::string line = format_op(op) + "\n";
    const uint64_t used = s_.used.load(std::memory_order_relaxed);
    if (used + line.size() > SharedMapping::capacity()) return false;
    std::memcpy(s_.record() + used, line.data(), line.size());
    s_.used.store(used + line.size(), std::memory_order_release);
    s_.ops.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  bool stop_requested() const override { return s_.stop.load(std::memory_order_relaxed); }
  DriverSource watch(const DriverSource& other) override { return watched(other, s_); }

 private:
  Shared& s_;
};

// The child's report: a tag, then length-prefixed strings. Without it, the child died.
void put(std::string& out, std::string_view s) { out += fmt::format("{}:{}", s.size(), s); }

std::string encode(const std::optional<Violation>& v) {
  if (!v) return "N";
  std::string out = "V";
  put(out, std::to_string(v->op_index));
  put(out, v->op);
  put(out, v->check);
  put(out, v->detail);
  return out;
}

bool take(std::string_view& in, std::string& s) {
  const size_t colon = in.find(':');
  if (colon == std::string_view::npos) return false;
  size_t n = 0;
  for (char c : in.substr(0, colon)) n = n * 10 + static_cast<size_t>(c - '0');
  if (in.size() < colon + 1 + n) return false;
  s = std::string(in.substr(colon + 1, n));
  in.remove_prefix(colon + 1 + n);
  return true;
}

void write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = write(fd, s.data(), s.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    s.remove_prefix(static_cast<size_t>(n));
  }
}

// Lock-free, so that a child forked while another thread adds a hook still reads them.
std::array<std::atomic<void (*)()>, 64> exit_hooks{};
std::atomic<size_t> exit_hook_count{0};

void run_exit_hooks() {
  const size_t n = std::min(exit_hook_count.load(std::memory_order_acquire), exit_hooks.size());
  for (size_t i = 0; i < n; i++)
    if (auto hook = exit_hooks[i].load(std::memory_order_acquire)) hook();
}

// Other threads may fork their own children at any time: every fd but `keep` (and stdio) is
// closed first, so that no child holds another run's pipe open and delays its end of file.
// A Ctrl-C reaches the whole process group; the parent decides what stops, not the child.
[[noreturn]] void child_main(const DriverSource& source, const IsolatedBody& body, Shared& s,
                             int fd) {
  signal(SIGINT, SIG_IGN);
  if (fd > 3) close_range(3, static_cast<unsigned>(fd) - 1, 0);
  close_range(static_cast<unsigned>(fd) + 1, ~0u, 0);
  Child child(s);
  std::string report;
  try {
    report = encode(body(watched(source, s), child));
  } catch (const std::exception& e) {
    report = "E";
    put(report, e.what());
  } catch (...) {
    report = "E";
    put(report, "unknown exception");
  }
  run_exit_hooks();
  std::fflush(stdout);
  write_all(fd, report);
  _exit(0);
}

struct Ending {
  std::string report;
  int status = 0;
  bool timed_out = false;
  Call call = Call::kNone;  // in progress when the child ended
};

// Reads the child's report until it ends, watching its heartbeat.
Ending watch(pid_t pid, int fd, Shared& s, const IsolationOptions& o) {
  Ending e;
  uint64_t beats = s.beats.load(std::memory_order_relaxed);
  auto changed = Clock::now();
  const auto timeout = std::chrono::duration<double>(o.call_timeout);
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    const int r = poll(&p, 1, 50);
    if (r > 0) {
      char buf[4096];
      const ssize_t n = read(fd, buf, sizeof buf);
      if (n > 0) {
        e.report.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0 || errno != EINTR) break;
    }
    if (o.stop && o.stop()) s.stop.store(true, std::memory_order_relaxed);
    if (o.progress) o.progress(s.ops.load(std::memory_order_relaxed));
    e.call = s.call.load(std::memory_order_relaxed);
    if (const uint64_t b = s.beats.load(std::memory_order_relaxed); b != beats) {
      beats = b;
      changed = Clock::now();
    } else if (!e.timed_out && e.call != Call::kNone && Clock::now() - changed > timeout) {
      e.timed_out = true;
      kill(pid, SIGKILL);
    }
  }
  while (waitpid(pid, &e.status, 0) < 0 && errno == EINTR) {
  }
  if (!e.timed_out) e.call = s.call.load(std::memory_order_relaxed);
  return e;
}

std::vector<Op> started_ops(const Shared& s) {
  const uint64_t used = s.used.load(std::memory_order_acquire);
  return parse_trace(std::string_view(s.record(), used), "<ops of the isolated run>").ops;
}

std::string signal_text(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  const char* desc = sigdescr_np(sig);
  return fmt::format("SIG{} ({})", abbrev ? abbrev : std::to_string(sig).c_str(),
                     desc ? desc : "unknown signal");
}

// The check and detail of a child that did not report.
std::pair<std::string, std::string> death(const Ending& e, const IsolationOptions& o) {
  const char* call = call_name(e.call);
  if (e.timed_out)
    return {"timeout", fmt::format("{} did not return within {} s (--call-timeout); the driver "
                                   "process was killed",
                                   call, o.call_timeout)};
  if (WIFSIGNALED(e.status))
    return {"crash", fmt::format("the driver process was killed by {} in {}",
                                 signal_text(WTERMSIG(e.status)), call)};
  return {"exit", fmt::format("the driver process exited with status {} in {}; a driver must "
                              "never exit",
                              WIFEXITED(e.status) ? WEXITSTATUS(e.status) : -1, call)};
}

Violation death_violation(const Ending& e, const std::vector<Op>& ops, const IsolationOptions& o) {
  auto [check, detail] = death(e, o);
  Violation v{ops.empty() ? 0 : ops.size() - 1, ops.empty() ? "create" : format_op(ops.back()),
              std::move(check), std::move(detail)};
  if (e.call == Call::kCreate) v.op = "create";
  if (e.call == Call::kDestroy) v.op = "teardown";
  return v;
}

std::optional<Violation> decode(std::string_view in) {
  const char tag = in.front();
  in.remove_prefix(1);
  std::string field[4];
  if (tag == 'E' && take(in, field[0])) throw IsolationError(field[0]);
  if (tag == 'V' && take(in, field[0]) && take(in, field[1]) && take(in, field[2]) &&
      take(in, field[3]))
    return Violation{std::stoull(field[0]), field[1], field[2], field[3]};
  return std::nullopt;
}

}  // namespace

void add_child_exit_hook(void (*hook)()) {
  // A child forked between the two stores sees an empty slot and skips it.
  const size_t i = exit_hook_count.fetch_add(1, std::memory_order_acq_rel);
  if (i >= exit_hooks.size()) throw std::length_error("more than 64 isolated-child exit hooks");
  exit_hooks[i].store(hook, std::memory_order_release);
}

// virtio and virtio-sync are this program's own code, as impl: is.
bool runs_isolated(const DriverInfo& info) {
  return !info.name.starts_with("impl:") && !info.name.starts_with("virtio");
}

IsolatedRun run_isolated(const DriverSource& source, const IsolatedBody& body,
                         const IsolationOptions& options) {
  SharedMapping shared;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid < 0) {
    const int err = errno;
    close(fds[0]);
    close(fds[1]);
    throw std::system_error(err, std::generic_category(), "fork");
  }
  if (pid == 0) {
    close(fds[0]);
    child_main(source, body, *shared, fds[1]);
  }
  close(fds[1]);
  const Ending e = watch(pid, fds[0], *shared, options);
  close(fds[0]);
  IsolatedRun run{.ops = started_ops(*shared), .violation = std::nullopt};
  const bool reported =
      !e.timed_out && !e.report.empty() && WIFEXITED(e.status) && WEXITSTATUS(e.status) == 0;
  if (reported && (e.report[0] == 'N' || e.report[0] == 'V' || e.report[0] == 'E')) {
    run.violation = decode(e.report);
    return run;
  }
  run.violation = death_violation(e, run.ops, options);
  return run;
}

}  // namespace iommu::conform
