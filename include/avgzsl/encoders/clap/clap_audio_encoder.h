// The CLAP audio encoder as the extraction pipeline uses it: mono waveforms at the model's rate
// -> fitted to the model's clip length -> log-mel front end -> HTSAT + projection -> L2-normalised
// embeddings.
//
// Families (clap_model_dir.h):
// - Hugging Face folder (laion/clap-htsat-unfused, -fused, larger_clap_*): sizes from config.json,
//   the front end from preprocessor_config.json (ClapFeatureExtractor fields; when absent, the
//   unfused model's settings: 48 kHz, hop 480, 64 mels 50-14000 Hz, Slaney, repeatpad; fused
//   models: HTK mel without normalisation). Truncation is always the deterministic centred crop.
// - WavCaps checkpoint (HTSAT_BERT_zero_shot.pt, the paper's encoder): sizes read off the
//   tensors, front end = WavCaps inference.yaml (32 kHz, n_fft 1024, hop 320, 64 mels 50-14000 Hz,
//   Slaney) with ClipClap's zero padding at the end. A LAION-AI/CLAP checkpoint (audio_branch.*)
//   given the same way gets the Hugging Face default front end.
//
// Fused models: clips are fitted to 10 s (centred crop), so every row has is_longer = false and
// the model runs its global path only, as transformers does for clips up to 10 s.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "avgzsl/encoders/clap/audio_frontend.h"
#include "avgzsl/encoders/clap/htsat.h"

namespace avgzsl::encoders {

// How waveforms become model input: the log-mel settings and the clip length policy.
struct ClapAudioFrontEnd {
  LogMelConfig log_mel;
  ClipPadding padding = ClipPadding::kZerosAtEnd;
  int64_t clip_samples = 320000;

  // WavCaps inference.yaml with ClipClap's read_prepare_audio (zero padding, 10 s).
  static ClapAudioFrontEnd wavcaps();
  // Hugging Face's ClapFeatureExtractor settings of laion/clap-htsat-unfused (48 kHz, hop 480,
  // 50-14000 Hz, Slaney, repeatpad, 10 s); `fused`: HTK scale, no normalisation (its "fusion"
  // truncation's filters).
  static ClapAudioFrontEnd hugging_face_default(bool fused);
  // A preprocessor_config.json (ClapFeatureExtractor): absent fields take the class defaults.
  // Throws std::runtime_error naming the file on unsupported values (top_db, unknown padding).
  static ClapAudioFrontEnd from_hf_preprocessor_file(const std::filesystem::path& json_file);
  std::string summary() const;
};

class ClapAudioEncoder {
 public:
  // Finds the files with locate_clap_model; the model is in eval mode on `device`. Errors name the
  // file and the tensor / field.
  explicit ClapAudioEncoder(const std::filesystem::path& model_dir_or_checkpoint, torch::Device device = torch::kCPU);
  // From parts (tests, tools).
  ClapAudioEncoder(ClapAudioModel model, ClapAudioFrontEnd front_end, std::string fingerprint,
                   torch::Device device = torch::kCPU);

  int sample_rate() const { return front_end_.log_mel.sample_rate; }  // 48000 HF, 32000 WavCaps
  int64_t clip_samples() const { return front_end_.clip_samples; }    // 10 s at that rate
  int64_t embedding_dim() const { return model_->config().projection_dim; }  // 512 LAION, 1024 WavCaps
  ClipPadding padding() const { return front_end_.padding; }

  // Mono waveforms at sample_rate(), any lengths (each fitted with fit_clip_length and the model's
  // padding rule) -> L2-normalised embeddings [B, D], CPU float32. An empty list gives [0, D].
  torch::Tensor embed(const std::vector<std::vector<float>>& waveforms);
  // log-mels [B, C, T, M] -> normalised [B, D] (CPU float32); is_longer [B] only for fused models
  // with 4-channel input.
  torch::Tensor embed_log_mel(const torch::Tensor& log_mel, const torch::Tensor& is_longer = {});
  // The model input for `waveforms`: fitted, then the front end: [B, 1, T, M] float32 on the CPU.
  torch::Tensor log_mel(const std::vector<std::vector<float>>& waveforms) const;

  const LogMelConfig& front_end() const { return front_end_.log_mel; }
  const ClapAudioFrontEnd& front_end_settings() const { return front_end_; }
  const HtsatConfig& config() const { return model_->config(); }
  ClapAudioModel& model() { return model_; }
  // Folder / checkpoint name + layout + config summary + front end + weights file size.
  std::string fingerprint() const { return fingerprint_; }

 private:
  void check_front_end() const;

  ClapAudioModel model_{nullptr};
  ClapAudioFrontEnd front_end_;
  std::string fingerprint_;
  torch::Device device_;
};

}  // namespace avgzsl::encoders
