// The CLAP audio front end: mono waveform -> log-mel spectrogram, as the two model families
// compute it (docs: ../shared/data/golden/clap/README.md, "Convention traps").
//
//   waveform [B, N] -> STFT (periodic Hann, center=True with reflect padding of n_fft/2, power 2)
//   -> mel filter bank [n_mels, n_fft/2 + 1] -> 10 * log10(max(mel, amin)) (ref 1, no top_db)
//   -> [B, 1, T, n_mels], T = 1 + N / hop
//
// WavCaps (torchlibrosa/librosa) and the unfused Hugging Face / LAION models use the Slaney mel
// scale with Slaney area normalisation; Hugging Face's fused models use the HTK scale without
// normalisation. Everything is computed in float64 and returned as float32, so digital silence is
// exactly -100 dB.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace avgzsl::encoders {

enum class MelScale { kSlaney, kHtk };
enum class MelNorm { kNone, kSlaney };

struct LogMelConfig {
  int sample_rate = 32000;
  int n_fft = 1024;
  int win_length = 1024;
  int hop_length = 320;
  double f_min = 50;
  double f_max = 14000;
  int n_mels = 64;
  MelScale scale = MelScale::kSlaney;
  MelNorm norm = MelNorm::kSlaney;
  double amin = 1e-10;  // ref 1, top_db none

  // Throws std::invalid_argument naming the field on impossible values.
  void validate() const;
  // "32000 Hz, n_fft 1024, hop 320, 64 mels 50-14000 Hz slaney/slaney".
  std::string summary() const;
};

// Hertz <-> mel on either scale (Slaney: linear below 1 kHz, logarithmic above; HTK:
// 2595 log10(1 + f / 700)).
double hz_to_mel(double hz, MelScale scale);
double mel_to_hz(double mel, MelScale scale);

// The triangular filters [n_mels, n_fft/2 + 1], float32 (computed in float64): filter m rises from
// the (m)-th to the (m+1)-th of n_mels + 2 points evenly spaced on the mel scale between f_min and
// f_max and falls to the (m+2)-th; Slaney normalisation scales it by 2 / (f[m+2] - f[m]).
torch::Tensor mel_filter_bank(const LogMelConfig& config);

// waveforms [B, N] (any floating dtype, any device; N > n_fft / 2 for the reflect padding)
// -> log-mels [B, 1, T, n_mels] float32 on the same device, T = 1 + N / hop.
torch::Tensor log_mel_spectrogram(const torch::Tensor& waveforms, const LogMelConfig& config);

enum class ClipPadding {
  kZerosAtEnd,       // ClipClap's read_prepare_audio, HF "pad"
  kRepeatThenZeros,  // HF "repeatpad": tile floor(target / len) times, then zeros
  kRepeat,           // HF "repeat": tile, then cut at target
};

// Exactly `target_samples`: shorter clips are padded per `padding` (an empty clip becomes
// silence); longer clips keep the centred window [len/2 - target/2, len/2 - target/2 + target)
// (ClipClap's crop; Hugging Face's rand_trunc made deterministic).
std::vector<float> fit_clip_length(const std::vector<float>& wav, int64_t target_samples, ClipPadding padding);
// The first kept sample of a clip of `length` samples fitted to `target_samples` (0 when padded).
int64_t clip_start_sample(int64_t length, int64_t target_samples);

std::string to_string(ClipPadding padding);

}  // namespace avgzsl::encoders
