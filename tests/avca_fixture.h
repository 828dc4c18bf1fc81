// Shared by avca_test.cpp and hyper_multiple_test.cpp: a fixture file written by
// tests/fixtures/make_avca_fixtures.py or make_hyper_multiple_fixtures.py, and the checks of one
// training step that both methods share (the original's optimize_params with optimize=True, then
// its get_embeddings pass in train mode).
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "avgzsl/gzsl/avca.h"
#include "avgzsl/reference/reference_checkpoint.h"
#include "method_parity.h"
#include "reference_fixture.h"
#include "test_support.h"

namespace avgzsl::avca_testing {

// The sizes the scripts use (make_avca_fixtures.py: VISUAL, AUDIO, TEXT, hidden sizes, LR).
inline gzsl::MethodDims fixture_dims() { return gzsl::MethodDims{/*visual=*/5, /*audio=*/4, /*text=*/4}; }
inline gzsl::AvcaOptions fixture_options() {
  gzsl::AvcaOptions o;
  o.embeddings_hidden_size = 7;
  o.decoder_hidden_size = 8;
  o.embedding_dropout = o.decoder_dropout = o.additional_dropout = 0.0;  // no random draws
  o.momentum = 0.99;
  return o;
}
inline constexpr double kFixtureLr = 1e-3;

// A fixture file with the checks AVCA and Hyper-multiple run against it.
class ReferenceFile : public testing::ReferenceFixture {
 public:
  using ReferenceFixture::ReferenceFixture;

  gzsl::TrainingBatch batch() const { return testing::fixture_training_batch(*this); }

  // The train-mode outputs of AVCA.forward that the script stores.
  void expect_forward(const gzsl::AvcaForward& f) const {
    const std::vector<std::pair<std::string, torch::Tensor>> outputs = {
        {"phi_a", f.phi_a},         {"phi_v", f.phi_v},           {"theta_w", f.theta_w},     {"theta_w_neg", f.theta_w_neg},
        {"rho_w", f.rho_w},         {"theta_v", f.theta_v},       {"theta_v_neg", f.theta_v_neg},
        {"theta_a", f.theta_a},     {"theta_a_neg", f.theta_a_neg}, {"phi_v_rec", f.phi_v_rec},
        {"phi_a_rec", f.phi_a_rec}, {"rho_a", f.rho_a},           {"rho_a_neg", f.rho_a_neg}, {"rho_v", f.rho_v},
        {"rho_v_neg", f.rho_v_neg}};
    for (const auto& [name, t] : outputs) expect_close(t, "train." + name);
  }

  // One training step of the original on `model` (state loaded from "state."): loss terms,
  // gradients of every parameter, Adam over trainable_parameters() with weight decay 1e-5, the
  // state after the step, the running statistics after the extra embedding pass.
  void expect_training_step(gzsl::Method& model) const {
    model.train();
    torch::optim::Adam optimizer(model.trainable_parameters(), torch::optim::AdamOptions(kFixtureLr).weight_decay(1e-5));
    const gzsl::TrainingBatch b = batch();
    const gzsl::MethodLoss loss = model.loss(b);
    for (const auto& term : loss.terms) expect_close(term.value, "loss." + term.name);
    size_t stored_terms = 0;
    for (const auto& name : names()) stored_terms += name.rfind("loss.", 0) == 0 && name != "loss.total";
    EXPECT_EQ(loss.terms.size(), stored_terms);
    expect_close(loss.total, "loss.total");
    optimizer.zero_grad();
    loss.total.backward();
    // A Linear bias right before a BatchNorm has a zero gradient in exact arithmetic; what is left
    // is rounding noise (|g| ~ 1e-9 .. 1e-6) whose value depends on the summation order, and Adam
    // turns even noise into a step of up to lr. So that the step, the extra pass and the eval
    // distances after it compare exactly, the step runs on PyTorch's gradients once ours have
    // been checked against them.
    for (auto& p : model.named_parameters()) {
      expect_close(p.value().grad(), "grad." + p.key());
      p.value().mutable_grad().copy_(get("grad." + p.key()));
    }
    optimizer.step();
    for (const auto& [name, t] : model.state_dict()) expect_close(t, "after_step." + name);
    model.after_step(b);
    for (const auto& [name, t] : model.state_dict()) {
      if (contains("after_extra_pass." + name)) expect_close(t, "after_extra_pass." + name);
    }
  }

  void expect_distances(gzsl::Method& model, const std::string& prefix) const {
    model.eval();
    torch::NoGradGuard no_grad;
    expect_close(model.distances(get("input.eval_x"), get("input.eval_class_text")), prefix + ".distances");
  }

  // The restated original's torch.save(model.state_dict()) (fixtures/<pt_name>) loads into a fresh
  // `model` and gives the initial model's eval distances.
  void expect_torch_save_loads(gzsl::Method& model, const std::string& pt_name) const {
    const reference::ReferenceCheckpoint checkpoint = reference::read_reference_checkpoint(testing::fixture_dir() / pt_name);
    model.load_state_dict(checkpoint.state, pt_name);
    expect_distances(model, "eval_initial");
  }
};

}  // namespace avgzsl::avca_testing
