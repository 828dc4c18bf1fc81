#include "avgzsl/gzsl/cjme.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "method_parity.h"

namespace avgzsl::gzsl {
namespace cjme_test {

// The fixture's model (tests/fixtures/make_cjme_fixtures.py): hidden 8, dropout 0.
CjmeOptions fixture_options() {
  CjmeOptions o;
  o.dropout_baselines = 0;
  o.embeddings_hidden_size = 8;
  return o;
}

std::shared_ptr<Cjme> fixture_model() { return std::make_shared<Cjme>(testing::fixture_dims(), fixture_options()); }

// Values computed by PyTorch itself from a restatement of the original.
class CjmeParity : public ::testing::Test {
 protected:
  void SetUp() override { model->load_state_dict(ref.with_prefix("state."), "cjme_reference.safetensors"); }

  void expect_outputs(const CjmeOutputs& out, const std::string& mode) const {
    ref.expect_triplet_embeddings(out.embeddings, mode);
    ref.expect_close(out.attention_weights, mode + ".attention_weights");
    ref.expect_close(out.threshold_attention, mode + ".threshold_attention", 0);
  }
  CjmeOutputs forward_batch() {
    const TrainingBatch b = ref.batch();
    return model->forward(b.inputs, b.text, b.negative_inputs, b.negative_text);
  }

  testing::MethodReference ref{"cjme_reference.safetensors"};
  std::shared_ptr<Cjme> model = fixture_model();
};

TEST_F(CjmeParity, StateDictNamesAndShapesAreTheOriginals) {
  ref.expect_same_state_names(*model);
  const auto shapes = testing::MethodReference::state_shapes(*model);
  // EmbeddingNetCJME: fc.0 Linear, fc.1 BatchNorm1d, fc.4 Linear (ReLU, Dropout, ReLU hold nothing).
  EXPECT_EQ(shapes.at("triplet_net.embedding_net1.fc.0.weight"), (std::vector<int64_t>{8, 5}));   // audio
  EXPECT_EQ(shapes.at("triplet_net.embedding_net2.fc.0.weight"), (std::vector<int64_t>{8, 6}));   // video
  EXPECT_EQ(shapes.at("triplet_net.embedding_net3.fc.0.weight"), (std::vector<int64_t>{7, 7}));   // text -> text
  EXPECT_EQ(shapes.at("triplet_net.embedding_net3.fc.4.weight"), (std::vector<int64_t>{64, 7}));
  EXPECT_EQ(shapes.at("attention_model.0.running_mean"), (std::vector<int64_t>{11}));
  EXPECT_EQ(shapes.at("attention_model.1.weight"), (std::vector<int64_t>{1, 11}));
}

TEST_F(CjmeParity, EvalModeOutputs) {
  model->eval();
  torch::NoGradGuard no_grad;
  expect_outputs(forward_batch(), "eval");
}

TEST_F(CjmeParity, TrainModeOutputsClassEmbeddingsAndSupervision) {
  model->train();
  const CjmeOutputs out = forward_batch();
  expect_outputs(out, "train");
  // train.py embeds the training classes after the forward, in training mode.
  const torch::Tensor classes = model->triplet_net->get_classes_embedding(ref.get("input.class_text")).detach();
  ref.expect_close(classes, "train.class_embeddings");
  const CjmeLossTerms terms = cjme_loss(out, classes, /*margin=*/1.0);
  // The fixture holds all three targets (0 audio, 0.5 neither, 1 video).
  ref.expect_close(terms.supervision, "train.supervision", 0);
}

TEST_F(CjmeParity, DistancesPickAudioOrVideoByTheThresholdedAttention) { ref.expect_distances(*model); }

TEST_F(CjmeParity, LossTermsGradientsAndOneAdamStepWithTheSpecSettings) {
  const MethodDefaults d = cjme_spec().defaults("ucf");
  ref.expect_training_step(*model, d.lr, d.weight_decay);
}

TEST_F(CjmeParity, WrongWidthsThrow) {
  testing::expect_bad_widths_throw(*model, ref);
  TrainingBatch b = ref.batch();
  b.class_text = b.class_text.narrow(1, 1, b.class_text.size(1) - 1);
  model->train();
  EXPECT_THROW(model->loss(b), std::invalid_argument);
}

TEST(Cjme, OriginalTorchSaveStateDictLoads) {
  testing::MethodReference ref("cjme_reference.safetensors");
  const std::shared_ptr<Cjme> model = fixture_model();
  ref.expect_pt_loads(*model, "cjme_state_dict.pt");
}

TEST(Cjme, SpecBuildsForEveryFamilyAndNeedsBothModalities) { testing::expect_spec_builds(cjme_spec()); }

TEST(Cjme, DefaultsAreTheRunScriptsClsSplitLines) {
  const MethodSpec spec = cjme_spec();
  EXPECT_EQ(spec.name, "cjme");
  for (const std::string family : {"ucf", "activitynet", "vggsound"}) {
    const MethodDefaults d = spec.defaults(family);
    testing::expect_avca_run_script_settings(d, family);
    EXPECT_DOUBLE_EQ(d.options.at("dropout_baselines").get<double>(), family == "vggsound" ? 0.0 : 0.2) << family;
    EXPECT_EQ(d.options.at("embeddings_hidden_size").get<int64_t>(), 1024);
    EXPECT_TRUE(d.options.at("embedding_use_bn").get<bool>());
    EXPECT_DOUBLE_EQ(d.options.at("margin").get<double>(), 1.0);
    EXPECT_EQ(d.options.size(), 4u);
  }
}

TEST(CjmeLoss, HandComputedTermsShowTheBroadcastQuirk) {
  // One-dimensional embeddings, two samples, two classes at +1 and -1.
  CjmeOutputs out;
  TripletEmbeddings& e = out.embeddings;
  e.t_p = torch::tensor({{0.f}, {0.f}});
  e.a_p = torch::tensor({{1.f}, {0.f}});
  e.a_q = torch::tensor({{0.f}, {3.f}});   // l_ta = [max(1 - 0 + 1, 0), max(0 - 3 + 1, 0)] = [2, 0]
  e.v_p = torch::tensor({{0.f}, {0.f}});
  e.v_q = torch::tensor({{5.f}, {5.f}});   // l_tv = [0, 0]
  e.t_q = torch::tensor({{0.f}, {0.f}});
  out.attention_weights = torch::tensor({{0.25f}, {0.75f}});
  const torch::Tensor classes = torch::tensor({{1.f}, {-1.f}});
  const CjmeLossTerms terms = cjme_loss(out, classes, /*margin=*/1.0);
  // [B,1] weights times [B] losses broadcast to [B,B]: mean(1 - w) * mean(l_ta) = 0.5 * 1, not the
  // per-sample mean((1 - w_i) l_ta_i) = 0.75.
  EXPECT_NEAR(terms.ct.item<double>(), 0.5, 1e-5);
  EXPECT_NEAR(terms.l_av.item<double>(), 0.5, 1e-6);  // mean of (1 - 0)^2 and 0
  // Sample 0: audio scores [1, -1] (entropy 0.36), video [0, 0] (entropy ln 2): video more
  // uncertain by more than 0.1 -> target 0 (audio). Sample 1: both ln 2 -> 0.5.
  EXPECT_TRUE(torch::equal(terms.supervision, torch::tensor({0.f, 0.5f})));
  EXPECT_NEAR(terms.attention.item<double>(), (0.25 * 0.25 + 0.25 * 0.25) / 2, 1e-6);
  EXPECT_NEAR(terms.total.item<double>(), 0.5 + 0.5 + 0.0625, 1e-5);
}

TEST(Cjme, OptionsRoundTripThroughJson) {
  CjmeOptions o;
  o.dropout_baselines = 0.3;
  o.embeddings_hidden_size = 16;
  o.embedding_use_bn = false;
  o.margin = 0.5;
  const nlohmann::json j = o;
  const CjmeOptions back = j.get<CjmeOptions>();
  EXPECT_EQ(nlohmann::json(back), j);
  // Without BatchNorm the Sequential indices shift as in the original: fc.0 Linear, fc.3 Linear.
  const Cjme model(testing::fixture_dims(), back);
  const auto shapes = testing::MethodReference::state_shapes(model);
  EXPECT_EQ(shapes.at("triplet_net.embedding_net1.fc.3.weight"), (std::vector<int64_t>{64, 16}));
  EXPECT_EQ(shapes.count("triplet_net.embedding_net1.fc.1.weight"), 0u);
}

}  // namespace cjme_test
}  // namespace avgzsl::gzsl
