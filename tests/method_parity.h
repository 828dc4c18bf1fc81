// Checks every gzsl::Method port runs against the fixture its make_<method>_fixtures.py writes
// (see tests/fixtures/avca_baselines_reference.py for the layout): "state.*" the initial
// state_dict, "input.*" a training batch and an evaluation set, "eval.*" outputs and distances on
// the initial weights, "loss.*" / "grad.*" / "after_step.*" one training step with Adam.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "avgzsl/gzsl/method.h"
#include "avgzsl/gzsl/method_registry.h"
#include "avgzsl/gzsl/triplet_net.h"
#include "avgzsl/reference/reference_checkpoint.h"
#include "reference_fixture.h"
#include "avgzsl/nn/fused_adam.h"
#include "test_support.h"

namespace avgzsl::testing {

// The fixture scripts' widths (avca_baselines_reference.py: VISUAL, AUDIO, TEXT).
inline gzsl::MethodDims fixture_dims() { return gzsl::MethodDims{/*visual=*/6, /*audio=*/5, /*text=*/7}; }

// The training batch a fixture script stores ("input.x", "input.text", "input.target",
// "input.negative_x", "input.negative_text", "input.class_text").
inline gzsl::TrainingBatch fixture_training_batch(const ReferenceFixture& f) {
  gzsl::TrainingBatch b;
  b.inputs = f.get("input.x");
  b.text = f.get("input.text");
  b.target = f.get("input.target");
  b.negative_inputs = f.get("input.negative_x");
  b.negative_text = f.get("input.negative_text");
  b.class_text = f.get("input.class_text");
  return b;
}

// A fixture file with the checks every method port runs against it.
class MethodReference : public ReferenceFixture {
 public:
  using ReferenceFixture::ReferenceFixture;

  // TripletNet's six outputs against "<mode>.a_p" ... "<mode>.t_q".
  void expect_triplet_embeddings(const gzsl::TripletEmbeddings& e, const std::string& mode) const {
    expect_close(e.a_p, mode + ".a_p");
    expect_close(e.v_p, mode + ".v_p");
    expect_close(e.t_p, mode + ".t_p");
    expect_close(e.a_q, mode + ".a_q");
    expect_close(e.v_q, mode + ".v_q");
    expect_close(e.t_q, mode + ".t_q");
  }

  gzsl::TrainingBatch batch() const { return fixture_training_batch(*this); }

  // Name -> shape of the method's state_dict.
  static std::map<std::string, std::vector<int64_t>> state_shapes(const gzsl::Method& method) {
    std::map<std::string, std::vector<int64_t>> shapes;
    for (const auto& [name, t] : method.state_dict()) shapes[name] = t.sizes().vec();
    return shapes;
  }

  // The port's state_dict has exactly the original's names and shapes.
  void expect_same_state_names(const gzsl::Method& method) const {
    std::map<std::string, std::vector<int64_t>> want;
    for (const auto& [name, t] : with_prefix("state.")) want[name] = t.sizes().vec();
    EXPECT_EQ(state_shapes(method), want);
  }

  // Distances on the evaluation set in eval mode, as the protocol calls them.
  void expect_distances(gzsl::Method& method) const {
    method.eval();
    torch::NoGradGuard no_grad;
    expect_close(method.distances(get("input.eval_x"), get("input.eval_class_text")), "eval.distances");
  }

  // loss(batch) in train mode: every term, the total, every gradient, then one Adam step over
  // trainable_parameters() with the spec's settings, and the whole state (BatchNorm statistics
  // included) after it.
  void expect_training_step(gzsl::Method& method, double lr, double weight_decay) const {
    method.train();
    nn::FusedAdam optimizer(method.trainable_parameters(), torch::optim::AdamOptions(lr).weight_decay(weight_decay));
    const gzsl::MethodLoss loss = method.loss(batch());
    for (const auto& term : loss.terms) expect_close(term.value, "loss." + term.name);
    EXPECT_EQ(loss.terms.size() + 1, with_prefix("loss.").size()) << "a term the fixture has is not reported";
    expect_close(loss.total, "loss.total");
    optimizer.zero_grad();
    loss.total.backward();
    for (const auto& p : method.named_parameters()) expect_close(p.value().grad(), "grad." + p.key());
    optimizer.step();
    // A bias right before a BatchNorm has a zero gradient in exact arithmetic; what is left is
    // rounding noise whose sign depends on the summation order, and Adam's first step moves such a
    // parameter by lr times that sign. Those may differ by 2 lr.
    for (const auto& [name, t] : method.state_dict()) {
      const bool noise_gradient = contains("grad." + name) && get("grad." + name).abs().max().item<double>() < 1e-6;
      expect_close(t, "after_step." + name, noise_gradient ? 2 * lr + 1e-5 : 1e-5);
    }
  }

  // The original writer's torch.save(model.state_dict()) loads and gives the same distances.
  void expect_pt_loads(gzsl::Method& method, const std::string& pt_name) const {
    const auto path = fixture_dir() / pt_name;
    const reference::ReferenceCheckpoint checkpoint = reference::read_reference_checkpoint(path);
    method.load_state_dict(checkpoint.state, path.string());
    for (const auto& [name, t] : method.state_dict()) expect_close(t, "state." + name, 0);
    expect_distances(method);
  }
};

// The registry entry builds a model of the right name for every family, whose options equal the
// family's defaults, and refuses inputs without both modalities.
inline void expect_spec_builds(const gzsl::MethodSpec& spec) {
  EXPECT_TRUE(spec.needs_visual_and_audio);
  EXPECT_FALSE(spec.summary.empty());
  for (const std::string family : {"ucf", "activitynet", "vggsound"}) {
    const gzsl::MethodDefaults d = spec.defaults(family);
    const std::shared_ptr<gzsl::Method> m = spec.make(fixture_dims(), d.options);
    EXPECT_EQ(m->method_name(), spec.name);
    EXPECT_EQ(m->options_json(), d.options) << family;
    EXPECT_EQ(m->dims().input(), fixture_dims().input());
  }
  EXPECT_THROW(spec.defaults("audioset"), std::invalid_argument);
  const nlohmann::json options = spec.defaults("ucf").options;
  EXPECT_THROW(spec.make(gzsl::MethodDims{6, 0, 7}, options), std::invalid_argument);
  EXPECT_THROW(spec.make(gzsl::MethodDims{0, 5, 7}, options), std::invalid_argument);
}

// AVCA-GZSL's run scripts train CJME and AVGZSLNet alike on every benchmark.
inline void expect_avca_run_script_settings(const gzsl::MethodDefaults& d, const std::string& family) {
  EXPECT_EQ(d.epochs, 50) << family;             // --epochs 50
  EXPECT_DOUBLE_EQ(d.lr, 1e-3) << family;        // --lr 0.001
  EXPECT_EQ(d.batch_size, 256) << family;        // src/args.py --bs
  EXPECT_EQ(d.batches_per_epoch, 500) << family; // --n_batches 500
  EXPECT_DOUBLE_EQ(d.weight_decay, 0) << family; // optim.Adam(model.parameters(), lr)
}

// Inputs of the wrong width are refused with std::invalid_argument, in training and evaluation.
inline void expect_bad_widths_throw(gzsl::Method& method, const MethodReference& ref) {
  const torch::Tensor x = ref.get("input.eval_x");
  const torch::Tensor t = ref.get("input.eval_class_text");
  method.eval();
  torch::NoGradGuard no_grad;
  EXPECT_THROW(method.distances(x.narrow(1, 0, x.size(1) - 1), t), std::invalid_argument);
  EXPECT_THROW(method.distances(x, t.narrow(1, 0, t.size(1) - 1)), std::invalid_argument);
  gzsl::TrainingBatch b = ref.batch();
  b.negative_inputs = torch::cat({b.negative_inputs, b.negative_inputs.narrow(1, 0, 1)}, 1);
  EXPECT_THROW(method.loss(b), std::invalid_argument);
  b = ref.batch();
  b.text = b.text.narrow(1, 1, b.text.size(1) - 1);
  EXPECT_THROW(method.loss(b), std::invalid_argument);
}

}  // namespace avgzsl::testing
