// Training-free zero-shot scoring (CLIP image-text and CLAP audio-text cosines, fused) and its
// protocol evaluation; class lists as users type them.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <fstream>

#include "avgzsl/data/synthetic.h"
#include "avgzsl/data/class_names.h"
#include "avgzsl/gzsl/training_free.h"
#include "avgzsl/prediction/zero_shot_prediction.h"
#include "avgzsl/training/training_free_baseline.h"
#include "error_text.h"
#include "temp_dir.h"

namespace avgzsl::prediction {
namespace {

TEST(TrainingFree, FusesSoftmaxOfScaledCosinesAsComputedByHand) {
  // Visual: cos = [1, 0.99] -> logits [100, 99] -> p_v = [1/(1+e^-1), e^-1/(1+e^-1)].
  // Audio: cos = [0, 1] -> logits [0, 100] -> p_a = [e^-100/(1+e^-100), 1/(1+e^-100)].
  const double c = 0.99, s = std::sqrt(1 - c * c);
  const torch::Tensor clip_text = torch::tensor({1.0, 0.0, c, s}, torch::kFloat32).view({2, 2});
  const torch::Tensor clap_text = torch::tensor({1.0, 0.0, 0.0, 1.0}, torch::kFloat32).view({2, 2});
  // Row 0 has audio; row 1 is a video without an audio track (zero row); scale must not matter.
  const torch::Tensor visual = torch::tensor({2.0, 0.0, 1.0, 0.0}, torch::kFloat32).view({2, 2});
  const torch::Tensor audio = torch::tensor({0.0, 3.0, 0.0, 0.0}, torch::kFloat32).view({2, 2});
  const torch::Tensor p = gzsl::training_free_probabilities(visual, clip_text, audio, clap_text);
  const double pv0 = 1 / (1 + std::exp(-1.0)), pa1 = 1 / (1 + std::exp(-100.0));
  EXPECT_NEAR(p[0][0].item<double>(), (pv0 + (1 - pa1)) / 2, 1e-5);
  EXPECT_NEAR(p[0][1].item<double>(), ((1 - pv0) + pa1) / 2, 1e-5);
  EXPECT_NEAR(p[1][0].item<double>(), pv0, 1e-5);  // frames alone
  EXPECT_NEAR(p[1][1].item<double>(), 1 - pv0, 1e-5);
  // One modality alone is its own softmax.
  const torch::Tensor only_visual = gzsl::training_free_probabilities(visual, clip_text, torch::Tensor(), torch::Tensor());
  EXPECT_NEAR(only_visual[0][0].item<double>(), pv0, 1e-5);
  const torch::Tensor only_audio = gzsl::training_free_probabilities(torch::Tensor(), torch::Tensor(), audio, clap_text);
  EXPECT_NEAR(only_audio[0][1].item<double>(), pa1, 1e-5);
  EXPECT_THROW(gzsl::training_free_probabilities(torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()),
               std::invalid_argument);
}

// The synthetic test bed with each video's features replaced by its class text plus noise: a
// training-free scorer must then find the class, seen or unseen alike.
data::Dataset aligned_dataset(double noise, bool with_audio) {
  data::SyntheticOptions options;
  options.videos_scale = 0.2;
  options.visual_dim = options.clip_dim = 32;
  options.audio_dim = options.clap_dim = 24;
  data::Dataset d = data::make_synthetic_dataset(options);
  torch::manual_seed(5);
  for (auto& [name, split] : d.video_splits) {
    split.visual = d.clip_text.index_select(0, split.labels) + noise * torch::randn({split.size(), d.clip_dim});
    split.audio = d.clap_text.index_select(0, split.labels) + noise * torch::randn({split.size(), d.clap_dim});
    if (!with_audio) split.audio = torch::Tensor();
  }
  if (!with_audio) {
    d.audio_dim = d.clap_dim = 0;
    d.clap_text = torch::Tensor();
  }
  return d;
}

TEST(TrainingFree, ProtocolFindsClassesWhoseTextTheFeaturesAre) {
  for (bool with_audio : {true, false}) {
    const training::ProtocolSummary s = training::evaluate_training_free(aligned_dataset(0.01, with_audio));
    EXPECT_EQ(s.best_epoch, -1);
    EXPECT_GT(s.test.seen, 0.99) << with_audio;
    EXPECT_GT(s.test.unseen, 0.99) << with_audio;
    EXPECT_GT(s.test.zsl, 0.99) << with_audio;
    EXPECT_GT(s.validation.hm, 0.99) << with_audio;
  }
}

TEST(TrainingFree, RefusesFeaturesWithoutMatchingClassText) {
  data::SyntheticOptions options;
  options.videos_scale = 0.2;
  options.visual_dim = 32;  // CLIP text stays 512-d: not comparable
  const data::Dataset d = data::make_synthetic_dataset(options);
  try {
    training::evaluate_training_free(d);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("visual features (32-d)"), std::string::npos) << e.what();
  }
}

TEST(ClassLists, CommaSeparatedAndFileFormsAreTrimmedAndChecked) {
  EXPECT_EQ(data::parse_class_list(" playing guitar,dog barking ,rain"),
            (std::vector<std::string>{"playing guitar", "dog barking", "rain"}));
  EXPECT_THROW(data::parse_class_list("a,,b"), std::invalid_argument);
  EXPECT_THROW(data::parse_class_list("a,b,"), std::invalid_argument);
  EXPECT_THROW(data::parse_class_list("a,b,a"), std::invalid_argument);
  testing::TempDir dir;
  const auto file = dir.path() / "classes.txt";
  std::ofstream(file) << "# my classes\nplaying guitar\r\n\n  dog barking  \n";
  EXPECT_EQ(data::read_class_file(file), (std::vector<std::string>{"playing guitar", "dog barking"}));
  EXPECT_THROW(data::read_class_file(dir.path() / "missing.txt"), std::runtime_error);
}

TEST(ClassLists, ByteOrderMarkIsSkippedAndBinaryFilesAreNamedWithTheirLine) {
  testing::TempDir dir;
  const auto bom = dir.path() / "bom.txt";
  std::ofstream(bom) << "\xEF\xBB\xBFplaying guitar\r\ndog barking\r\n";
  EXPECT_EQ(data::read_class_file(bom), (std::vector<std::string>{"playing guitar", "dog barking"}));

  const auto binary = dir.path() / "classes.bin";
  std::ofstream(binary, std::ios::binary) << "rain\nsnow\n\x89PNG\r\n\x1a\n" << std::string(3, '\0');
  const std::string message = testing::error_message([&] { data::read_class_file(binary); });
  EXPECT_NE(message.find(binary.string() + ": line 3: bytes that are not UTF-8"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << "one line";
  const auto with_nul = dir.path() / "nul.txt";
  std::ofstream(with_nul, std::ios::binary) << "rain\nsn" << '\0' << "ow\n";
  EXPECT_NE(testing::error_message([&] { data::read_class_file(with_nul); }).find("nul.txt: line 2: a NUL byte"), std::string::npos);
  EXPECT_THROW(data::parse_class_list("rain,\xff\xfe"), std::invalid_argument);
}

}  // namespace
}  // namespace avgzsl::prediction
