// A CLAP model ready to use: the audio tower with its front end, and the text tower with its
// tokenizer, from one Hugging Face folder or one WavCaps checkpoint (models/clap_model_dir.h).
#pragma once

#include <torch/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace avgzsl::encoders {
class ClapAudioEncoder;
class ClapTextEncoder;
}  // namespace avgzsl::encoders

namespace avgzsl::encoders {

class ClapEncoder {
 public:
  // Throws std::runtime_error naming the file at fault, or when the two towers' embedding sizes
  // differ (a checkpoint that cannot be a CLAP model).
  ClapEncoder(const std::filesystem::path& model_dir_or_checkpoint, torch::Device device = torch::kCPU);
  ~ClapEncoder();
  ClapEncoder(ClapEncoder&&) noexcept;
  ClapEncoder& operator=(ClapEncoder&&) noexcept;

  // The rate the audio must be decoded at (48 kHz for LAION's models, 32 kHz for WavCaps).
  int sample_rate() const;
  // The samples of one clip (10 s at sample_rate()): longer tracks are cropped to their centre.
  int64_t clip_samples() const;
  int64_t embedding_dim() const;
  // Mono waveforms at sample_rate(), any length (the model's 10-s rule is applied) ->
  // L2-normalised audio embeddings [N, D] on the CPU.
  torch::Tensor embed_audio(const std::vector<std::vector<float>>& waveforms);
  // Texts -> L2-normalised text embeddings [N, D] on the CPU.
  torch::Tensor encode_texts(const std::vector<std::string>& texts);
  // What identifies the model in a job description.
  const std::string& fingerprint() const { return fingerprint_; }

 private:
  std::unique_ptr<encoders::ClapAudioEncoder> audio_;
  std::unique_ptr<encoders::ClapTextEncoder> text_;
  std::string fingerprint_;
};

}  // namespace avgzsl::encoders
