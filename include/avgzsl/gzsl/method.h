// What every GZSL method (ClipClap and the baselines of the paper's comparison) offers the shared
// protocol: a loss on a training batch, distances between videos and classes for calibrated
// stacking, its parameters under the original implementation's state_dict names, and its options.
//
// Inputs are always the protocol's: a video is x = [v | a] (visual features first, then audio;
// either may be absent), a class is its text vector t. A method that needs both modalities or
// splits x into v and a reads the sizes from MethodDims, never from constants.
#pragma once

#include <nlohmann/json.hpp>
#include <torch/nn/module.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace avgzsl::gzsl {

// Sizes that come from the data (the originals hard-code 300-d word2vec and 512-d features).
struct MethodDims {
  int64_t visual = 0;  // width of v in x; 0 when the run uses no visual features
  int64_t audio = 0;   // width of a in x; 0 when the run uses no audio
  int64_t text = 0;    // width of a class-text vector
  int64_t input() const { return visual + audio; }
};
void to_json(nlohmann::json& j, const MethodDims& d);
void from_json(const nlohmann::json& j, MethodDims& d);

// One training batch as the originals' data loaders build it (AVCA-GZSL's ContrastiveDataset):
// for every positive video, a negative video drawn from another training class, and the class
// texts of both.
struct TrainingBatch {
  torch::Tensor inputs;           // [B, visual + audio] the sampled videos
  torch::Tensor text;             // [B, text] class text of each video's label
  torch::Tensor target;           // [B] int64 index of each label among the training classes
  torch::Tensor negative_inputs;  // [B, visual + audio] a video of another training class
  torch::Tensor negative_text;    // [B, text] that class's text
  torch::Tensor class_text;       // [K, text] texts of all training classes (sorted class ids)
  // Optional [B] int64: when defined, text == class_text.index_select(0, text_rows) (training
  // batches: the rows are `target`). A method may then encode the K class texts once instead of
  // the B rows, which repeat (ClipClap does; docs/performance.md).
  torch::Tensor text_rows;
};

struct NamedLoss {
  std::string name;
  torch::Tensor value;  // scalar
};

struct MethodLoss {
  torch::Tensor total;            // what backward() runs on, scalar
  std::vector<NamedLoss> terms;   // the original's loss terms, for logs (may be empty)
};

// The space in which a method compares videos with classes, for figures (the paper's t-SNE of
// theta_o and theta_w): distances() is the Euclidean distance between these rows.
struct JointEmbeddings {
  torch::Tensor videos;   // [N, E]
  torch::Tensor classes;  // [K, E]
};

// Optimiser settings that belong to a method (Adam in every original).
struct OptimizerSettings {
  double weight_decay = 0;  // Adam's L2 penalty
};

class Method : public torch::nn::Module {
 public:
  // The --method name ("clipclap", "cjme", ...).
  virtual std::string method_name() const = 0;
  virtual const MethodDims& dims() const = 0;
  // The method's hyper-parameters (e.g. dropout, margin), enough with dims() to rebuild it.
  virtual nlohmann::json options_json() const = 0;

  // Whether loss() reads the batch's negatives (drawing them costs random numbers, so a method that
  // ignores them keeps its sampler sequence). Default: true.
  virtual bool uses_negatives() const { return true; }
  // Loss of one training batch in the current train/eval mode, graph attached.
  virtual MethodLoss loss(const TrainingBatch& batch) = 0;
  // Called after every optimiser step, in training mode (ClipClap repeats the reference's extra
  // embedding pass there). Default: nothing.
  virtual void after_step(const TrainingBatch& batch);
  // Distances [N, K] (smaller: more likely) between videos `inputs` [N, visual + audio] and the
  // classes `class_text` [K, text], as the original's evaluation computes them. Called in eval mode
  // under NoGradGuard by the caller.
  virtual torch::Tensor distances(const torch::Tensor& inputs, const torch::Tensor& class_text) = 0;
  // The embeddings that distances() compares, same calling rules. Empty (the default) for a method
  // without one such space: CJME and AVGZSLNet add or choose between an audio and a visual distance.
  virtual std::optional<JointEmbeddings> joint_embeddings(const torch::Tensor& inputs, const torch::Tensor& class_text);
  // The tensors the original's optimiser updates (default: all parameters). AVCA's leaves its
  // positional embedding out, so it never trains.
  virtual std::vector<torch::Tensor> trainable_parameters();

  // Every parameter and buffer under its state_dict name.
  std::vector<std::pair<std::string, torch::Tensor>> state_dict() const;
  // Strict load: every name present with the right shape, finite, nothing else; errors name the
  // tensor and `source`.
  void load_state_dict(const std::vector<std::pair<std::string, torch::Tensor>>& state, const std::string& source);
};

}  // namespace avgzsl::gzsl
