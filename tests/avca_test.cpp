#include "avgzsl/gzsl/avca.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>

#include "avca_fixture.h"

namespace avgzsl::avca_test {
namespace {

using avca_testing::fixture_dims;
using avca_testing::fixture_options;
using avca_testing::ReferenceFile;

std::shared_ptr<gzsl::Avca> loaded_model(const ReferenceFile& file) {
  auto model = std::make_shared<gzsl::Avca>(fixture_dims(), fixture_options());
  model->load_state_dict(file.with_prefix("state."), "avca_reference.safetensors");
  return model;
}

TEST(Avca, StateDictHasTheOriginalsNamesAndShapes) {
  const ReferenceFile file("avca_reference.safetensors");
  gzsl::Avca model(fixture_dims(), fixture_options());
  std::map<std::string, std::vector<int64_t>> ours;
  for (const auto& [name, t] : model.state_dict()) ours[name] = t.sizes().vec();
  std::map<std::string, std::vector<int64_t>> theirs;
  for (const auto& [name, t] : file.with_prefix("state.")) theirs[name] = t.sizes().vec();
  EXPECT_EQ(ours, theirs);
}

TEST(Avca, PaperSizedModelKeepsTheFixedAttentionWidths) {
  // CLIP 512 + WavCaps CLAP 1024 inputs, t = [t_clip | t_clap] of 1536: every 300 of the original
  // becomes 1536, while 3 heads x 100 stay (to_qkv: 3 x 300 rows; to_out maps 300 back to 1536).
  gzsl::Avca model(gzsl::MethodDims{512, 1024, 1536}, gzsl::AvcaOptions{});
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& [name, t] : model.state_dict()) shapes[name] = t.sizes().vec();
  EXPECT_EQ(shapes.at("A_enc.fc.0.weight"), (std::vector<int64_t>{512, 1024}));
  EXPECT_EQ(shapes.at("V_enc.fc.0.weight"), (std::vector<int64_t>{512, 512}));
  EXPECT_EQ(shapes.at("V_enc.fc.4.weight"), (std::vector<int64_t>{1536, 512}));
  EXPECT_EQ(shapes.at("cross_attention.layers.0.0.fn.to_qkv.weight"), (std::vector<int64_t>{900, 1536}));
  EXPECT_EQ(shapes.at("cross_attention.layers.0.0.fn.to_out.0.weight"), (std::vector<int64_t>{1536, 300}));
  EXPECT_EQ(shapes.at("cross_attention.layers.0.1.fn.net.3.weight"), (std::vector<int64_t>{1536, 64}));
  EXPECT_EQ(shapes.at("W_proj.fc.0.weight"), (std::vector<int64_t>{64, 1536}));
  EXPECT_EQ(shapes.at("A_proj.fc.4.weight"), (std::vector<int64_t>{64, 512}));
  EXPECT_EQ(shapes.at("pos_emb1D"), (std::vector<int64_t>{2, 1536}));
}

// BatchNorm momentum by module name inside one EmbeddingNet.
std::map<std::string, double> batchnorm_momenta(const torch::nn::Module& net) {
  std::map<std::string, double> out;
  for (const auto& m : net.named_modules()) {
    if (const auto* bn = m.value()->as<torch::nn::BatchNorm1dImpl>()) out[m.key()] = bn->options.momentum().value();
  }
  return out;
}

TEST(Avca, MomentumReachesOnlyTheSecondBatchNormOfTwoLayerNets) {
  gzsl::Avca model(fixture_dims(), fixture_options());
  EXPECT_EQ(batchnorm_momenta(*model.A_enc), (std::map<std::string, double>{{"fc.1", 0.1}, {"fc.5", 0.99}}));
  EXPECT_EQ(batchnorm_momenta(*model.V_proj), (std::map<std::string, double>{{"fc.1", 0.1}, {"fc.5", 0.99}}));
  EXPECT_EQ(batchnorm_momenta(*model.W_proj), (std::map<std::string, double>{{"fc.1", 0.1}}));
  EXPECT_EQ(batchnorm_momenta(*model.D), (std::map<std::string, double>{{"fc.1", 0.1}}));
}

TEST(Avca, PositionalEmbeddingIsLeftOutOfTheOptimiser) {
  gzsl::Avca model(fixture_dims(), fixture_options());
  const auto trainable = model.trainable_parameters();
  EXPECT_EQ(trainable.size(), model.parameters().size() - 1);
  for (const auto& p : trainable) EXPECT_FALSE(p.is_same(model.pos_emb1D));
}

TEST(Avca, TrainModeForwardMatchesPyTorch) {
  const ReferenceFile file("avca_reference.safetensors");
  auto model = loaded_model(file);
  model->train();
  file.expect_forward(model->forward_pass(file.batch()));
}

TEST(Avca, OneTrainingStepMatchesPyTorch) {
  const ReferenceFile file("avca_reference.safetensors");
  auto model = loaded_model(file);
  const torch::Tensor pos_before = model->pos_emb1D.detach().clone();
  file.expect_training_step(*model);
  EXPECT_TRUE(torch::equal(model->pos_emb1D, pos_before));  // a gradient, but never a step
  file.expect_distances(*model, "eval_after_step");
}

TEST(Avca, EvalDistancesMatchPyTorch) {
  const ReferenceFile file("avca_reference.safetensors");
  auto model = loaded_model(file);
  file.expect_distances(*model, "eval_initial");
  // And they are cdist(theta_v, theta_w) of get_embeddings.
  torch::NoGradGuard no_grad;
  const gzsl::AvcaEmbeddings e = model->embeddings(file.get("input.eval_x"), file.get("input.eval_class_text"));
  file.expect_close(e.theta_v, "eval_initial.theta_v");
  file.expect_close(e.theta_a, "eval_initial.theta_a");
  file.expect_close(e.theta_w, "eval_initial.theta_w");
}

TEST(Avca, TorchSaveOfTheOriginalLoadsAndGivesTheSameDistances) {
  const ReferenceFile file("avca_reference.safetensors");
  gzsl::Avca model(fixture_dims(), fixture_options());
  file.expect_torch_save_loads(model, "avca_state_dict.pt");
}

TEST(Avca, DefaultsAreTheRunScriptsClsLines) {
  const gzsl::MethodSpec spec = gzsl::avca_spec();
  EXPECT_EQ(spec.name, "avca");
  EXPECT_TRUE(spec.needs_visual_and_audio);
  struct Expected {
    const char* family;
    double embedding_dropout, decoder_dropout, additional_dropout;
  };
  for (const Expected& e : {Expected{"ucf", 0.2, 0.3, 0.5}, Expected{"activitynet", 0.2, 0.2, 0.1},
                            Expected{"vggsound", 0.0, 0.0, 0.0}}) {
    const gzsl::MethodDefaults d = spec.defaults(e.family);
    EXPECT_EQ(d.epochs, 50) << e.family;
    EXPECT_DOUBLE_EQ(d.lr, 1e-3);
    EXPECT_EQ(d.batch_size, 256);  // the cls lines pass no --bs
    EXPECT_EQ(d.batches_per_epoch, 500);
    EXPECT_DOUBLE_EQ(d.weight_decay, 1e-5);
    const nlohmann::json expected = {{"embeddings_hidden_size", 512}, {"decoder_hidden_size", 512},
                                     {"embedding_dropout", e.embedding_dropout}, {"decoder_dropout", e.decoder_dropout},
                                     {"additional_dropout", e.additional_dropout}, {"depth_transformer", 1},
                                     {"additional_triplets_loss", true}, {"first_additional_triplet", 1},
                                     {"second_additional_triplet", 1}, {"reg_loss", true}, {"momentum", 0.99}};
    EXPECT_EQ(d.options, expected) << e.family << ": " << d.options.dump();
    const auto model = spec.make(gzsl::MethodDims{6, 5, 4}, d.options);
    EXPECT_EQ(model->method_name(), "avca");
    EXPECT_EQ(model->options_json(), d.options);
  }
  EXPECT_THROW(spec.defaults("kinetics"), std::invalid_argument);
}

TEST(Avca, BadInputsThrow) {
  EXPECT_THROW(gzsl::Avca(gzsl::MethodDims{0, 4, 4}, fixture_options()), std::invalid_argument);
  EXPECT_THROW(gzsl::Avca(gzsl::MethodDims{5, 0, 4}, fixture_options()), std::invalid_argument);
  gzsl::Avca model(fixture_dims(), fixture_options());
  model.eval();
  torch::NoGradGuard no_grad;
  EXPECT_THROW(model.distances(torch::randn({3, 8}), torch::randn({2, 4})), c10::Error);   // input width 9 expected
  EXPECT_THROW(model.distances(torch::randn({3, 9}), torch::randn({2, 5})), c10::Error);   // text width 4 expected
  gzsl::TrainingBatch b;
  b.inputs = b.negative_inputs = torch::randn({3, 10});
  b.text = b.negative_text = torch::randn({3, 4});
  EXPECT_THROW(model.loss(b), c10::Error);
  nlohmann::json options = gzsl::avca_defaults("ucf").options;
  options.erase("momentum");
  EXPECT_THROW(gzsl::avca_options_from_json(options), std::invalid_argument);
}

}  // namespace
}  // namespace avgzsl::avca_test
