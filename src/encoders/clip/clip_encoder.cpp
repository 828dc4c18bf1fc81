#include "avgzsl/encoders/clip/clip_encoder.h"
#include "avgzsl/util/text.h"

#include <torch/torch.h>

#include <stdexcept>

#include "avgzsl/io/atomic_file.h"

namespace avgzsl::encoders {
namespace fs = std::filesystem;

namespace {

preprocessing::ClipTokenizer load_tokenizer(const fs::path& dir) {
  if (fs::exists(dir / "vocab.json") || fs::exists(dir / "merges.txt")) {
    return preprocessing::ClipTokenizer::from_hugging_face(dir);
  }
  if (fs::exists(dir / "bpe_simple_vocab_16e6.txt.gz")) {
    return preprocessing::ClipTokenizer::from_openai_vocabulary(dir / "bpe_simple_vocab_16e6.txt.gz");
  }
  throw std::runtime_error(dir.string() + ": no tokenizer (vocab.json + merges.txt, or bpe_simple_vocab_16e6.txt.gz)");
}

std::string weights_fingerprint(const fs::path& dir) {
  std::string text = dir.filename().string() + ":" + std::to_string(util::stable_hash(io::read_file(dir / "config.json")));
  for (const char* name : {"model.safetensors", "pytorch_model.bin"}) {
    if (fs::exists(dir / name)) text += ":" + std::string(name) + ":" + std::to_string(fs::file_size(dir / name));
  }
  return text;
}

}  // namespace

ClipEncoder::ClipEncoder(const fs::path& model_dir, torch::Device device)
    : model_(encoders::load_clip_model(model_dir)), tokenizer_(load_tokenizer(model_dir)), device_(device) {
  const int64_t size = model_->config().vision.image_size;
  if (fs::exists(model_dir / "preprocessor_config.json")) {
    image_config_ = preprocessing::load_clip_image_config(model_dir / "preprocessor_config.json");
  } else {
    image_config_.shortest_edge = image_config_.crop_height = image_config_.crop_width = static_cast<int>(size);
  }
  if (image_config_.crop_height != size || image_config_.crop_width != size) {
    throw std::runtime_error((model_dir / "preprocessor_config.json").string() + ": crop size " +
                             std::to_string(image_config_.crop_width) + "x" + std::to_string(image_config_.crop_height) +
                             " does not match the model's image size " + std::to_string(size));
  }
  if (tokenizer_.vocab_size() > model_->config().text.vocab_size) {
    throw std::runtime_error(model_dir.string() + ": the tokenizer has " + std::to_string(tokenizer_.vocab_size()) +
                             " tokens, the model's vocabulary " + std::to_string(model_->config().text.vocab_size));
  }
  fingerprint_ = weights_fingerprint(model_dir);
  model_->to(device_);
}

torch::Tensor ClipEncoder::preprocess(const preprocessing::ImageView& image) const {
  std::vector<float> values = preprocessing::clip_preprocess(image, image_config_);
  const int64_t h = image_config_.crop_height, w = image_config_.crop_width;
  return torch::from_blob(values.data(), {3, h, w}, torch::kFloat32).clone();
}

torch::Tensor ClipEncoder::embed_images(const torch::Tensor& pixel_values) {
  torch::NoGradGuard no_grad;
  const torch::Tensor embeds = model_->encode_image(pixel_values.to(device_));
  return (embeds / embeds.norm(2, -1, true)).to(torch::kCPU);
}

torch::Tensor ClipEncoder::encode_texts(const std::vector<std::string>& texts) {
  torch::NoGradGuard no_grad;
  const int64_t context = model_->config().text.max_position_embeddings;
  std::vector<int64_t> ids;
  ids.reserve(texts.size() * static_cast<size_t>(context));
  for (const std::string& text : texts) {
    const std::vector<int64_t> row = tokenizer_.tokenize(text, static_cast<int>(context), /*truncate=*/true);
    ids.insert(ids.end(), row.begin(), row.end());
  }
  const torch::Tensor input = torch::tensor(ids, torch::kInt64).view({static_cast<int64_t>(texts.size()), context});
  return model_->encode_text(input.to(device_)).to(torch::kCPU);
}

}  // namespace avgzsl::encoders
