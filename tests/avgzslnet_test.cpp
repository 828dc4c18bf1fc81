#include "avgzsl/gzsl/avgzslnet.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "method_parity.h"

namespace avgzsl::gzsl {
namespace avgzslnet_test {

// The fixture's model (tests/fixtures/make_avgzslnet_fixtures.py): hidden 8, decoder hidden 4,
// dropout 0, the run scripts' flags.
AvgzslNetOptions fixture_options() {
  AvgzslNetOptions o;
  o.embeddings_hidden_size = 8;
  o.decoder_hidden_size = 4;
  o.embedding_dropout = 0;
  o.decoder_dropout = 0;
  return o;
}

std::shared_ptr<AvgzslNet> fixture_model() {
  return std::make_shared<AvgzslNet>(testing::fixture_dims(), fixture_options());
}

// Values computed by PyTorch itself from a restatement of the original.
class AvgzslNetParity : public ::testing::Test {
 protected:
  void SetUp() override { model->load_state_dict(ref.with_prefix("state."), "avgzslnet_reference.safetensors"); }

  void expect_outputs(const AvgzslNetOutputs& out, const std::string& mode) const {
    const TripletEmbeddings& e = out.embeddings;
    ref.expect_close(out.x_t_p, mode + ".x_t_p", 0);
    ref.expect_close(e.a_p, mode + ".a_p");
    ref.expect_close(e.v_p, mode + ".v_p");
    ref.expect_close(e.t_p, mode + ".t_p");
    ref.expect_close(e.a_q, mode + ".a_q");
    ref.expect_close(e.v_q, mode + ".v_q");
    ref.expect_close(e.t_q, mode + ".t_q");
    ref.expect_close(out.x_ta_p, mode + ".x_ta_p");
    ref.expect_close(out.x_tv_p, mode + ".x_tv_p");
    ref.expect_close(out.x_tt_p, mode + ".x_tt_p");
    ref.expect_close(out.x_ta_q, mode + ".x_ta_q");
    ref.expect_close(out.x_tv_q, mode + ".x_tv_q");
  }
  AvgzslNetOutputs forward_batch() {
    const TrainingBatch b = ref.batch();
    return model->forward(b.inputs, b.text, b.negative_inputs, b.negative_text);
  }

  testing::MethodReference ref{"avgzslnet_reference.safetensors"};
  std::shared_ptr<AvgzslNet> model = fixture_model();
};

TEST_F(AvgzslNetParity, StateDictNamesAndShapesAreTheOriginals) {
  ref.expect_same_state_names(*model);
  const auto shapes = testing::MethodReference::state_shapes(*model);
  EXPECT_EQ(shapes.at("triplet_net.embedding_net1.fc.0.weight"), (std::vector<int64_t>{8, 5}));  // audio
  EXPECT_EQ(shapes.at("triplet_net.embedding_net2.fc.4.weight"), (std::vector<int64_t>{64, 8}));
  EXPECT_EQ(shapes.at("triplet_net.embedding_net3.fc.1.running_var"), (std::vector<int64_t>{7}));
  EXPECT_EQ(shapes.at("decoder_net.embedding_net.fc.0.weight"), (std::vector<int64_t>{4, 64}));
  EXPECT_EQ(shapes.at("decoder_net.embedding_net.fc.4.weight"), (std::vector<int64_t>{7, 4}));  // back to text
}

TEST_F(AvgzslNetParity, EvalModeOutputs) {
  model->eval();
  torch::NoGradGuard no_grad;
  expect_outputs(forward_batch(), "eval");
}

TEST_F(AvgzslNetParity, TrainModeOutputs) {
  model->train();
  const AvgzslNetOutputs out = forward_batch();
  expect_outputs(out, "train");
  // --normalize_decoder_outputs: unit rows.
  EXPECT_TRUE(torch::allclose(out.x_ta_p.norm(2, 1), torch::ones({out.x_ta_p.size(0)}), 1e-5, 1e-5));
}

TEST_F(AvgzslNetParity, DistancesAreTheSumOfAudioAndVideoDistances) { ref.expect_distances(*model); }

TEST_F(AvgzslNetParity, LossTermsGradientsAndOneAdamStepWithTheSpecSettings) {
  const MethodDefaults d = avgzslnet_spec().defaults("ucf");
  ref.expect_training_step(*model, d.lr, d.weight_decay);
}

TEST_F(AvgzslNetParity, WrongWidthsThrow) { testing::expect_bad_widths_throw(*model, ref); }

TEST(AvgzslNet, OriginalTorchSaveStateDictLoads) {
  testing::MethodReference ref("avgzslnet_reference.safetensors");
  const std::shared_ptr<AvgzslNet> model = fixture_model();
  ref.expect_pt_loads(*model, "avgzslnet_state_dict.pt");
}

TEST(AvgzslNet, SpecBuildsForEveryFamilyAndNeedsBothModalities) { testing::expect_spec_builds(avgzslnet_spec()); }

TEST(AvgzslNet, DefaultsAreTheRunScriptsClsSplitLines) {
  const MethodSpec spec = avgzslnet_spec();
  EXPECT_EQ(spec.name, "avgzslnet");
  for (const std::string family : {"ucf", "activitynet", "vggsound"}) {
    const MethodDefaults d = spec.defaults(family);
    testing::expect_avca_run_script_settings(d, family);
    const nlohmann::json want = {{"embeddings_hidden_size", 1024}, {"decoder_hidden_size", 64},
                                 {"embedding_dropout", 0.8},       {"decoder_dropout", 0.5},
                                 {"embedding_use_bn", true},       {"decoder_use_bn", true},
                                 {"normalize_decoder_outputs", true}, {"margin", 1.0},
                                 {"distance_fn", "L2Loss"}};
    EXPECT_EQ(d.options, want) << family;
  }
}

TEST(AvgzslNetLoss, HandComputedReconstructionWithBothDistanceFunctions) {
  // Decoded outputs at distance 3 (a 3-4-5 triangle shifted) from the raw text; embeddings equal,
  // so every triplet term is the margin.
  AvgzslNetOutputs out;
  out.x_t_p = torch::tensor({{0.f, 0.f}});
  out.x_tt_p = out.x_ta_p = out.x_tv_p = torch::tensor({{3.f, 4.f}});
  out.x_ta_q = out.x_tv_q = torch::tensor({{3.f, 4.f}});
  TripletEmbeddings& e = out.embeddings;
  e.a_p = e.v_p = e.t_p = e.a_q = e.v_q = e.t_q = torch::tensor({{1.f, 1.f}});
  AvgzslNetOptions o;
  MethodLoss loss = avgzslnet_loss(out, o);
  ASSERT_EQ(loss.terms.size(), 7u);
  EXPECT_EQ(loss.terms[0].name, "l_rec");
  EXPECT_NEAR(loss.terms[0].value.item<double>(), 3 * 5.0, 1e-5);
  EXPECT_NEAR(loss.total.item<double>(), 15.0 + 6 * 1.0, 1e-4);
  o.distance_fn = "SquaredL2Loss";
  loss = avgzslnet_loss(out, o);
  EXPECT_NEAR(loss.terms[0].value.item<double>(), 3 * 25.0, 1e-4);
}

TEST(AvgzslNet, OptionsRejectAnUnknownDistanceFunction) {
  nlohmann::json j = AvgzslNetOptions{};
  EXPECT_EQ(nlohmann::json(j.get<AvgzslNetOptions>()), j);
  j["distance_fn"] = "CosineLoss";
  EXPECT_THROW(j.get<AvgzslNetOptions>(), std::invalid_argument);
}

}  // namespace avgzslnet_test
}  // namespace avgzsl::gzsl
