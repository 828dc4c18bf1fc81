#include "avgzsl/encoders/clap/clap_encoder.h"

#include <stdexcept>

#include "avgzsl/encoders/clap/clap_audio_encoder.h"
#include "avgzsl/encoders/clap/clap_text_encoder.h"

namespace avgzsl::encoders {

ClapEncoder::ClapEncoder(const std::filesystem::path& model_dir_or_checkpoint, torch::Device device)
    : audio_(std::make_unique<encoders::ClapAudioEncoder>(model_dir_or_checkpoint, device)),
      text_(std::make_unique<encoders::ClapTextEncoder>(model_dir_or_checkpoint, device)) {
  if (audio_->embedding_dim() != text_->embedding_dim()) {
    throw std::runtime_error(model_dir_or_checkpoint.string() + ": the audio tower embeds in " +
                             std::to_string(audio_->embedding_dim()) + " dimensions, the text tower in " +
                             std::to_string(text_->embedding_dim()));
  }
  fingerprint_ = audio_->fingerprint();
}

ClapEncoder::~ClapEncoder() = default;
ClapEncoder::ClapEncoder(ClapEncoder&&) noexcept = default;
ClapEncoder& ClapEncoder::operator=(ClapEncoder&&) noexcept = default;

int ClapEncoder::sample_rate() const { return audio_->sample_rate(); }
int64_t ClapEncoder::clip_samples() const { return audio_->clip_samples(); }
int64_t ClapEncoder::embedding_dim() const { return audio_->embedding_dim(); }

torch::Tensor ClapEncoder::embed_audio(const std::vector<std::vector<float>>& waveforms) {
  return audio_->embed(waveforms);
}

torch::Tensor ClapEncoder::encode_texts(const std::vector<std::string>& texts) { return text_->encode(texts); }

}  // namespace avgzsl::encoders
