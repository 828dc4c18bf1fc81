// Where one training step's time goes: the phases of training::TrainStep::run (batch, forward,
// backward, optimizer, after_step, loss_values), each with its operator calls and allocations,
// and the operators with the most self time. The numbers behind docs/performance.md.
//
//   ./build/bench/avgzsl_step_profile [METHOD] [STEPS] [--libtorch-adam] [--threads N] [--torch-threads N]
//
// METHOD: any of `avgzsl train --method` (default clipclap); STEPS profiled after 10 warm-up
// steps (default 100); --libtorch-adam profiles the step with LibTorch's Adam (the baseline).
// The profiler adds its own cost to every operator call, so the unprofiled time of the same
// steps is printed too: read the phases as shares, not as absolute times. --threads sets both
// LibTorch's and OpenBLAS's threads as `avgzsl train --threads` does; --torch-threads then sets
// LibTorch's alone during the steps (default 1, as training does; 0: all of --threads).
#include <fmt/format.h>
#include <torch/csrc/autograd/profiler_legacy.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "avgzsl/util/allocator.h"
#include "avgzsl/util/threads.h"
#include "method_step_setup.h"

using namespace avgzsl;
namespace prof = torch::autograd::profiler;

namespace {

struct PhaseTotals {
  double us = 0;
  int64_t operators = 0;      // aten operators called directly from the phase (not from inside another)
  int64_t allocations = 0;
  double allocated_bytes = 0;
};

struct OperatorTotals {
  double self_us = 0;
  int64_t calls = 0;
};

struct Profile {
  std::map<std::string, PhaseTotals> phases;
  std::map<std::string, OperatorTotals> operators;
  double step_us = 0;
};

bool is_phase(const std::string& name) { return name.rfind("avgzsl::", 0) == 0; }
bool is_operator(const std::string& name) { return name.rfind("aten::", 0) == 0; }

// Rebuilds the call tree of each thread from its push/pop events.
Profile summarise(const prof::thread_event_lists& threads) {
  Profile out;
  for (const auto& events : threads) {
    struct Open {
      const prof::LegacyEvent* push;
      double child_us = 0;
      std::string phase;        // innermost enclosing phase
      bool inside_operator = false;
    };
    std::vector<Open> stack;
    for (const auto& e : events) {
      const std::string name = e.name();
      if (e.kind() == prof::EventKind::PushRange) {
        Open open{&e};
        if (!stack.empty()) {
          open.phase = stack.back().phase;
          open.inside_operator = stack.back().inside_operator || is_operator(stack.back().push->name());
        }
        if (is_phase(name)) open.phase = name.substr(std::strlen("avgzsl::"));
        if (is_operator(name) && !open.inside_operator && !open.phase.empty()) ++out.phases[open.phase].operators;
        stack.push_back(open);
      } else if (e.kind() == prof::EventKind::PopRange) {
        if (stack.empty()) continue;
        const Open open = stack.back();
        stack.pop_back();
        const double us = open.push->cpuElapsedUs(e);
        if (!stack.empty()) stack.back().child_us += us;
        const std::string push_name = open.push->name();
        if (is_phase(push_name)) {
          out.phases[open.phase].us += us;
          out.step_us += us;
        } else {
          OperatorTotals& op = out.operators[push_name];
          op.self_us += us - open.child_us;
          ++op.calls;
        }
      } else if (e.kind() == prof::EventKind::MemoryAlloc && e.cpuMemoryUsage() > 0 && !stack.empty()) {
        PhaseTotals& phase = out.phases[stack.back().phase];
        ++phase.allocations;
        phase.allocated_bytes += static_cast<double>(e.cpuMemoryUsage());
      }
    }
  }
  return out;
}

template <typename Optimizer>
void profile(const gzsl::MethodSpec& spec, int steps, int torch_threads) {
  bench::MethodStepSetup<Optimizer> setup(spec, torch_threads);
  for (int i = 0; i < 10; ++i) setup.run();
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) setup.run();
  const double plain_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count() / steps;

  torch::profiler::impl::ProfilerConfig config(torch::profiler::impl::ProfilerState::CPU, /*report_input_shapes=*/false,
                                               /*profile_memory=*/true);
  prof::enableProfilerLegacy(config);
  for (int i = 0; i < steps; ++i) setup.run();
  const Profile p = summarise(prof::disableProfilerLegacy());

  fmt::print("{} step, batch {}, {} LibTorch threads: {:.2f} ms unprofiled, {:.2f} ms profiled (per step, mean of {})\n\n",
             spec.name, bench::kBatch, at::get_num_threads(), plain_ms, p.step_us / 1e3 / steps, steps);
  fmt::print("{:<12} {:>9} {:>7} {:>10} {:>12} {:>10}\n", "phase", "ms/step", "share", "ops/step", "allocs/step",
             "MB/step");
  for (const char* phase : {"batch", "forward", "backward", "optimizer", "after_step", "loss_values"}) {
    const auto it = p.phases.find(phase);
    if (it == p.phases.end()) continue;
    const PhaseTotals& t = it->second;
    fmt::print("{:<12} {:>9.2f} {:>6.1f}% {:>10.0f} {:>12.0f} {:>10.2f}\n", phase, t.us / 1e3 / steps,
               100 * t.us / p.step_us, static_cast<double>(t.operators) / steps,
               static_cast<double>(t.allocations) / steps, t.allocated_bytes / 1e6 / steps);
  }
  std::vector<std::pair<std::string, OperatorTotals>> ops(p.operators.begin(), p.operators.end());
  std::sort(ops.begin(), ops.end(), [](const auto& a, const auto& b) { return a.second.self_us > b.second.self_us; });
  fmt::print("\n{:<44} {:>10} {:>12} {:>7}\n", "operator (self time)", "calls/step", "ms/step", "share");
  for (size_t i = 0; i < ops.size() && i < 20; ++i) {
    fmt::print("{:<44} {:>10.1f} {:>12.3f} {:>6.1f}%\n", ops[i].first, static_cast<double>(ops[i].second.calls) / steps,
               ops[i].second.self_us / 1e3 / steps, 100 * ops[i].second.self_us / p.step_us);
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Set up as the avgzsl CLI is (see bench_main.cpp).
  util::restart_with_passive_openmp(argv);
  util::keep_freed_tensor_memory();
  std::string method = "clipclap";
  int steps = 100, threads = 0, torch_threads = 1;
  bool libtorch_adam = false;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--libtorch-adam") == 0) libtorch_adam = true;
    else if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (std::strcmp(argv[i], "--torch-threads") == 0 && i + 1 < argc) torch_threads = std::atoi(argv[++i]);
    else positional.emplace_back(argv[i]);
  }
  try {
    util::configure_threads(threads);
    if (!positional.empty()) method = positional[0];
    if (positional.size() > 1) steps = std::stoi(positional[1]);
    if (steps < 1) throw std::invalid_argument("STEPS must be at least 1");
    const gzsl::MethodSpec& spec = gzsl::method_spec(method);
    if (libtorch_adam) profile<torch::optim::Adam>(spec, steps, torch_threads);
    else profile<nn::FusedAdam>(spec, steps, torch_threads);
  } catch (const std::exception& e) {
    fmt::print(stderr, "avgzsl_step_profile: {}\n", e.what());
    return 1;
  }
  return 0;
}
