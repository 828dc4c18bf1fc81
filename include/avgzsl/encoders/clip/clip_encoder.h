// A CLIP model directory ready to use: the model, its tokenizer and its image preprocessing.
#pragma once

#include <torch/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "avgzsl/encoders/clip/clip_model.h"
#include "avgzsl/preprocessing/clip_tokenizer.h"
#include "avgzsl/preprocessing/image_transform.h"

namespace avgzsl::encoders {

class ClipEncoder {
 public:
  // A Hugging Face CLIP directory: config.json, model.safetensors (or pytorch_model.bin), the
  // tokenizer as vocab.json + merges.txt or OpenAI's bpe_simple_vocab_16e6.txt.gz, and
  // preprocessor_config.json (CLIP's defaults at the model's image size when absent).
  // Throws std::runtime_error naming the file at fault.
  ClipEncoder(const std::filesystem::path& model_dir, torch::Device device = torch::kCPU);

  // RGB24 image -> the model's input [3, S, S] (CPU float32).
  torch::Tensor preprocess(const preprocessing::ImageView& image) const;
  // [N, 3, S, S] -> L2-normalised image embeddings [N, E] on the CPU.
  torch::Tensor embed_images(const torch::Tensor& pixel_values);
  // Texts -> text embeddings [N, E] on the CPU, not normalised (ensembling normalises).
  torch::Tensor encode_texts(const std::vector<std::string>& texts);

  const encoders::ClipModel& model() const { return model_; }
  int64_t embedding_dim() const { return model_->config().projection_dim; }
  // What identifies the weights in a job description: directory name, config and weights size.
  const std::string& fingerprint() const { return fingerprint_; }

 private:
  encoders::ClipModel model_{nullptr};
  preprocessing::ClipTokenizer tokenizer_;
  preprocessing::ClipImageConfig image_config_;
  torch::Device device_;
  std::string fingerprint_;
};

}  // namespace avgzsl::encoders
