#include "avgzsl/encoders/clap/clap_audio_encoder.h"
#include "avgzsl/util/input_file.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "avgzsl/encoders/clap/clap_model_dir.h"
#include "avgzsl/encoders/pretrained_weights.h"

namespace avgzsl::encoders {

namespace {
namespace clap_audio_impl {

namespace fs = std::filesystem;

// The fitted clips [B, N] -> log-mels [B, 1, T, M] on `device`, one clip at a time (the float64
// STFT of a 10-s clip is ~8 MB; a batch at once would hold them all).
torch::Tensor front_end_batch(const std::vector<std::vector<float>>& waveforms, const ClapAudioFrontEnd& fe,
                              torch::Device device) {
  std::vector<torch::Tensor> rows;
  rows.reserve(waveforms.size());
  for (const auto& wav : waveforms) {
    std::vector<float> fitted = fit_clip_length(wav, fe.clip_samples, fe.padding);
    const torch::Tensor clip =
        torch::from_blob(fitted.data(), {1, static_cast<int64_t>(fitted.size())}, torch::kFloat32).to(device);
    rows.push_back(log_mel_spectrogram(clip, fe.log_mel));  // [1, 1, T, M]
  }
  return torch::cat(rows, 0);
}

std::string model_name(const ClapModelFiles& files) {
  if (files.family == ClapFamily::kWavCaps) return files.weights.filename().string();
  fs::path dir = files.dir.lexically_normal();
  if (dir.filename().empty()) dir = dir.parent_path();
  if (dir.filename().empty() || dir.filename() == ".") dir = fs::absolute(dir).lexically_normal();
  return dir.filename().string();
}

}  // namespace clap_audio_impl
}  // namespace

ClapAudioFrontEnd ClapAudioFrontEnd::wavcaps() {
  ClapAudioFrontEnd fe;
  fe.log_mel = LogMelConfig{};  // the defaults are WavCaps' inference.yaml
  fe.padding = ClipPadding::kZerosAtEnd;
  fe.clip_samples = 10 * 32000;
  return fe;
}

ClapAudioFrontEnd ClapAudioFrontEnd::hugging_face_default(bool fused) {
  ClapAudioFrontEnd fe;
  fe.log_mel.sample_rate = 48000;
  fe.log_mel.n_fft = 1024;
  fe.log_mel.win_length = 1024;
  fe.log_mel.hop_length = 480;
  fe.log_mel.f_min = 50;
  fe.log_mel.f_max = 14000;
  fe.log_mel.n_mels = 64;
  fe.log_mel.scale = fused ? MelScale::kHtk : MelScale::kSlaney;
  fe.log_mel.norm = fused ? MelNorm::kNone : MelNorm::kSlaney;
  fe.padding = ClipPadding::kRepeatThenZeros;
  fe.clip_samples = 10 * 48000;
  return fe;
}

ClapAudioFrontEnd ClapAudioFrontEnd::from_hf_preprocessor_file(const std::filesystem::path& json_file) {
  const std::string where = json_file.string();
  std::ifstream in = util::open_input_file(json_file);
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(where + ": not valid JSON (" + std::string(e.what()) + ")");
  }
  if (!j.is_object()) throw std::runtime_error(where + ": not a JSON object");
  auto get = [&](const char* key, auto fallback) {
    using T = decltype(fallback);
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    try {
      return it->get<T>();
    } catch (const nlohmann::json::exception&) {
      throw std::runtime_error(where + ": field '" + key + "' has the wrong type (" + it->dump() + ")");
    }
  };
  // ClapFeatureExtractor's class defaults.
  ClapAudioFrontEnd fe;
  LogMelConfig& m = fe.log_mel;
  m.n_mels = get("feature_size", 64);
  m.sample_rate = get("sampling_rate", 48000);
  m.hop_length = get("hop_length", 480);
  m.n_fft = get("fft_window_size", 1024);
  m.win_length = m.n_fft;
  m.f_min = get("frequency_min", 0.0);
  m.f_max = get("frequency_max", 14000.0);
  const double max_length_s = get("max_length_s", 10.0);
  fe.clip_samples = get("nb_max_samples", static_cast<int64_t>(max_length_s * m.sample_rate));
  if (j.contains("top_db") && !j["top_db"].is_null()) {
    throw std::runtime_error(where + ": top_db " + j["top_db"].dump() + " is not supported (only null, no clipping)");
  }
  const std::string truncation = get("truncation", std::string("fusion"));
  if (truncation != "fusion" && truncation != "rand_trunc") {
    throw std::runtime_error(where + ": unknown truncation '" + truncation + "' (fusion or rand_trunc)");
  }
  // The feature extractor picks its filters by truncation: HTK / no norm for fusion.
  m.scale = truncation == "fusion" ? MelScale::kHtk : MelScale::kSlaney;
  m.norm = truncation == "fusion" ? MelNorm::kNone : MelNorm::kSlaney;
  const std::string padding = get("padding", std::string("repeatpad"));
  if (padding == "repeatpad") {
    fe.padding = ClipPadding::kRepeatThenZeros;
  } else if (padding == "pad") {
    fe.padding = ClipPadding::kZerosAtEnd;
  } else if (padding == "repeat") {
    fe.padding = ClipPadding::kRepeat;
  } else {
    throw std::runtime_error(where + ": unknown padding '" + padding + "' (repeatpad, pad or repeat)");
  }
  if (fe.clip_samples <= 0) throw std::runtime_error(where + ": the clip length must be positive");
  try {
    m.validate();
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(where + ": " + e.what());
  }
  return fe;
}

std::string ClapAudioFrontEnd::summary() const {
  return log_mel.summary() + ", " + std::to_string(clip_samples) + " samples, " + to_string(padding);
}

ClapAudioEncoder::ClapAudioEncoder(const std::filesystem::path& model_dir_or_checkpoint, torch::Device device)
    : device_(device) {
  namespace fs = std::filesystem;
  const ClapModelFiles files = locate_clap_model(model_dir_or_checkpoint);
  const PretrainedWeights weights(files.weights);
  const WeightNaming naming = detect_clap_audio_naming(weights);
  HtsatConfig config;
  if (files.family == ClapFamily::kHuggingFace) {
    config = HtsatConfig::from_hf_file(files.config);
    front_end_ = files.preprocessor_config.empty() ? ClapAudioFrontEnd::hugging_face_default(config.enable_fusion)
                                                   : ClapAudioFrontEnd::from_hf_preprocessor_file(files.preprocessor_config);
  } else {
    config = HtsatConfig::infer_from_weights(weights, naming);
    front_end_ = naming == WeightNaming::kLaion ? ClapAudioFrontEnd::hugging_face_default(config.enable_fusion)
                                               : ClapAudioFrontEnd::wavcaps();
  }
  model_ = load_clap_audio_model(weights, naming, config);
  model_->to(device_);
  check_front_end();
  std::ostringstream s;
  s << clap_audio_impl::model_name(files) << " [" << to_string(files.family) << ", " << to_string(naming) << " names; "
    << config.summary() << "; " << front_end_.summary() << "; weights " << fs::file_size(files.weights) << " bytes]";
  fingerprint_ = s.str();
}

ClapAudioEncoder::ClapAudioEncoder(ClapAudioModel model, ClapAudioFrontEnd front_end, std::string fingerprint,
                                   torch::Device device)
    : model_(std::move(model)), front_end_(std::move(front_end)), fingerprint_(std::move(fingerprint)), device_(device) {
  model_->eval();
  model_->to(device_);
  check_front_end();
}

void ClapAudioEncoder::check_front_end() const {
  const HtsatConfig& c = model_->config();
  const LogMelConfig& m = front_end_.log_mel;
  m.validate();
  if (m.n_mels != c.num_mel_bins) {
    throw std::runtime_error("CLAP audio: the front end makes " + std::to_string(m.n_mels) + " mel bins, the model takes " +
                             std::to_string(c.num_mel_bins));
  }
  const int64_t frames = 1 + front_end_.clip_samples / m.hop_length;
  if (frames > c.max_frames()) {
    throw std::runtime_error("CLAP audio: a clip of " + std::to_string(front_end_.clip_samples) + " samples gives " +
                             std::to_string(frames) + " frames, the model takes at most " + std::to_string(c.max_frames()));
  }
  if (front_end_.clip_samples <= m.n_fft / 2) throw std::runtime_error("CLAP audio: the clip length is shorter than half an FFT");
}

torch::Tensor ClapAudioEncoder::log_mel(const std::vector<std::vector<float>>& waveforms) const {
  if (waveforms.empty()) {
    return torch::empty({0, 1, 1 + front_end_.clip_samples / front_end_.log_mel.hop_length, front_end_.log_mel.n_mels});
  }
  return clap_audio_impl::front_end_batch(waveforms, front_end_, torch::kCPU);
}

torch::Tensor ClapAudioEncoder::embed(const std::vector<std::vector<float>>& waveforms) {
  if (waveforms.empty()) return torch::empty({0, embedding_dim()});
  torch::Tensor mels;
  {
    torch::NoGradGuard no_grad;
    mels = clap_audio_impl::front_end_batch(waveforms, front_end_, device_);
  }
  return embed_log_mel(mels);
}

torch::Tensor ClapAudioEncoder::embed_log_mel(const torch::Tensor& log_mel, const torch::Tensor& is_longer) {
  torch::Tensor out;
  {
    c10::InferenceMode inference;
    out = model_->embed(log_mel.to(device_, torch::kFloat32), is_longer.defined() ? is_longer.to(device_) : is_longer);
  }
  return out.to(torch::kCPU).clone();  // a normal tensor (not an inference tensor) for the caller
}

}  // namespace avgzsl::encoders
