#include "avgzsl/encoders/clap/audio_frontend.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace avgzsl::encoders {

namespace {
namespace frontend_impl {

// Slaney's mel scale (librosa's htk=False, transformers' mel_scale="slaney").
constexpr double kSlaneyHzPerMel = 200.0 / 3.0;
constexpr double kSlaneyLogStartHz = 1000.0;
constexpr double kSlaneyLogStartMel = kSlaneyLogStartHz / kSlaneyHzPerMel;  // 15
const double kSlaneyLogStep = std::log(6.4) / 27.0;

// [n_mels, n_fft/2 + 1] in float64.
torch::Tensor filter_bank_f64(const LogMelConfig& c) {
  const int64_t n_freqs = c.n_fft / 2 + 1;
  const double mel_lo = hz_to_mel(c.f_min, c.scale), mel_hi = hz_to_mel(c.f_max, c.scale);
  std::vector<double> points(static_cast<size_t>(c.n_mels) + 2);  // filter edges and centres, Hz
  for (size_t i = 0; i < points.size(); ++i) {
    const double mel = mel_lo + (mel_hi - mel_lo) * static_cast<double>(i) / static_cast<double>(points.size() - 1);
    points[i] = mel_to_hz(mel, c.scale);
  }
  torch::Tensor bank = torch::zeros({c.n_mels, n_freqs}, torch::kFloat64);
  auto w = bank.accessor<double, 2>();
  for (int64_t m = 0; m < c.n_mels; ++m) {
    const double left = points[m], centre = points[m + 1], right = points[m + 2];
    const double norm = c.norm == MelNorm::kSlaney ? 2.0 / (right - left) : 1.0;
    for (int64_t k = 0; k < n_freqs; ++k) {
      const double f = static_cast<double>(k) * c.sample_rate / c.n_fft;
      const double rising = (f - left) / (centre - left);
      const double falling = (right - f) / (right - centre);
      w[m][k] = std::max(0.0, std::min(rising, falling)) * norm;
    }
  }
  return bank;
}

}  // namespace frontend_impl
}  // namespace

void LogMelConfig::validate() const {
  auto bad = [](const std::string& what) { throw std::invalid_argument("log-mel front end: " + what); };
  if (sample_rate <= 0) bad("sample_rate must be positive");
  if (n_fft <= 1) bad("n_fft must be at least 2");
  if (win_length <= 0 || win_length > n_fft) bad("win_length must be in [1, n_fft]");
  if (hop_length <= 0) bad("hop_length must be positive");
  if (n_mels <= 0) bad("n_mels must be positive");
  if (!(f_min >= 0) || !(f_max > f_min) || f_max > sample_rate / 2.0) {
    bad("need 0 <= f_min < f_max <= sample_rate / 2, got " + std::to_string(f_min) + " and " + std::to_string(f_max));
  }
  if (!(amin > 0)) bad("amin must be positive");
}

std::string LogMelConfig::summary() const {
  std::ostringstream s;
  s << sample_rate << " Hz, n_fft " << n_fft << ", win " << win_length << ", hop " << hop_length << ", " << n_mels
    << " mels " << f_min << "-" << f_max << " Hz " << (scale == MelScale::kSlaney ? "slaney" : "htk") << "/"
    << (norm == MelNorm::kSlaney ? "slaney" : "none");
  return s.str();
}

double hz_to_mel(double hz, MelScale scale) {
  using namespace frontend_impl;
  if (scale == MelScale::kHtk) return 2595.0 * std::log10(1.0 + hz / 700.0);
  if (hz < kSlaneyLogStartHz) return hz / kSlaneyHzPerMel;
  return kSlaneyLogStartMel + std::log(hz / kSlaneyLogStartHz) / kSlaneyLogStep;
}

double mel_to_hz(double mel, MelScale scale) {
  using namespace frontend_impl;
  if (scale == MelScale::kHtk) return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0);
  if (mel < kSlaneyLogStartMel) return mel * kSlaneyHzPerMel;
  return kSlaneyLogStartHz * std::exp(kSlaneyLogStep * (mel - kSlaneyLogStartMel));
}

torch::Tensor mel_filter_bank(const LogMelConfig& config) {
  config.validate();
  return frontend_impl::filter_bank_f64(config).to(torch::kFloat32);
}

torch::Tensor log_mel_spectrogram(const torch::Tensor& waveforms, const LogMelConfig& config) {
  config.validate();
  TORCH_CHECK(waveforms.dim() == 2 && waveforms.is_floating_point(), "log-mel front end: expected waveforms [B, N] of a float type, got ",
              waveforms.sizes(), " ", waveforms.scalar_type());
  TORCH_CHECK(waveforms.size(1) > config.n_fft / 2, "log-mel front end: ", waveforms.size(1),
              " samples are too few for the reflect padding of ", config.n_fft / 2);
  torch::NoGradGuard no_grad;
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64).device(waveforms.device());
  const torch::Tensor x = waveforms.to(f64);  // [B, N]
  const torch::Tensor window = torch::hann_window(config.win_length, /*periodic=*/true, f64);
  const torch::Tensor spec = torch::stft(x, config.n_fft, config.hop_length, config.win_length, window, /*center=*/true,
                                         "reflect", /*normalized=*/false, /*onesided=*/true, /*return_complex=*/true);
  const torch::Tensor power = torch::view_as_real(spec).pow(2).sum(-1);                    // [B, F, T]
  const torch::Tensor bank = frontend_impl::filter_bank_f64(config).to(waveforms.device());  // [M, F]
  const torch::Tensor mel = torch::matmul(bank, power);                                      // [B, M, T]
  // ref = 1: the 10 log10(max(amin, ref)) offset is 0.
  const torch::Tensor db = 10.0 * torch::log10(torch::clamp_min(mel, config.amin));
  return db.transpose(1, 2).unsqueeze(1).to(torch::kFloat32).contiguous();  // [B, 1, T, M]
}

int64_t clip_start_sample(int64_t length, int64_t target_samples) {
  return length > target_samples ? length / 2 - target_samples / 2 : 0;
}

std::vector<float> fit_clip_length(const std::vector<float>& wav, int64_t target_samples, ClipPadding padding) {
  if (target_samples <= 0) throw std::invalid_argument("fit_clip_length: target_samples must be positive");
  const auto length = static_cast<int64_t>(wav.size());
  const auto target = static_cast<size_t>(target_samples);
  if (length >= target_samples) {
    const int64_t start = clip_start_sample(length, target_samples);
    return std::vector<float>(wav.begin() + start, wav.begin() + start + target_samples);
  }
  std::vector<float> out;
  out.reserve(target);
  if (length > 0) {
    switch (padding) {
      case ClipPadding::kZerosAtEnd:
        out = wav;
        break;
      case ClipPadding::kRepeatThenZeros:
        for (int64_t i = 0; i < target_samples / length; ++i) out.insert(out.end(), wav.begin(), wav.end());
        break;
      case ClipPadding::kRepeat:
        while (out.size() < target) out.insert(out.end(), wav.begin(), wav.end());
        out.resize(target);
        break;
    }
  }
  out.resize(target, 0.0f);
  return out;
}

std::string to_string(ClipPadding padding) {
  switch (padding) {
    case ClipPadding::kZerosAtEnd: return "pad";
    case ClipPadding::kRepeatThenZeros: return "repeatpad";
    case ClipPadding::kRepeat: return "repeat";
  }
  return "?";
}

}  // namespace avgzsl::encoders
