// The CLAP log-mel front end: independent checks (mel formula, filter shapes and areas, a pure
// tone in its mel bin, power and 10 log10, silence, frame counts, reflect padding against a direct
// DFT, clip fitting) and parity with the golden front ends (../shared/data/golden/clap/
// frontend_cases: torchlibrosa as WavCaps builds it, Hugging Face's ClapFeatureExtractor;
// skipped when absent).
#include "avgzsl/encoders/clap/audio_frontend.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <numeric>

#include "avgzsl/io/safetensors.h"
#include "avgzsl/media/video_decoder.h"
#include "avgzsl/encoders/clap/clap_audio_encoder.h"
#include "golden_data.h"

namespace avgzsl::encoders {
namespace {
namespace frontend_test {

namespace fs = std::filesystem;
using testing::golden_clap_dir;


constexpr double kPi = 3.14159265358979323846;

encoders::LogMelConfig wavcaps_config() { return encoders::ClapAudioFrontEnd::wavcaps().log_mel; }
encoders::LogMelConfig hf_config() { return encoders::ClapAudioFrontEnd::hugging_face_default(false).log_mel; }

std::vector<float> sine(double freq, double amplitude, int sample_rate, int64_t samples) {
  std::vector<float> out(static_cast<size_t>(samples));
  for (int64_t n = 0; n < samples; ++n) out[n] = static_cast<float>(amplitude * std::sin(2 * kPi * freq * n / sample_rate));
  return out;
}

torch::Tensor as_batch(std::vector<float> wav) {
  return torch::from_blob(wav.data(), {1, static_cast<int64_t>(wav.size())}, torch::kFloat32).clone();
}

// The filter edges/centres in Hz from the mel formula alone (n_mels + 2 points).
std::vector<double> mel_points(const encoders::LogMelConfig& c) {
  std::vector<double> hz(c.n_mels + 2);
  const double lo = encoders::hz_to_mel(c.f_min, c.scale), hi = encoders::hz_to_mel(c.f_max, c.scale);
  for (size_t i = 0; i < hz.size(); ++i) hz[i] = encoders::mel_to_hz(lo + (hi - lo) * i / (hz.size() - 1), c.scale);
  return hz;
}

struct DbComparison {
  double max_loud = 0;  // over bins whose golden value is above -60 dB
  double max_all = 0;
};

DbComparison compare_db(const torch::Tensor& ours, const torch::Tensor& golden) {
  EXPECT_EQ(ours.sizes(), golden.sizes());
  const torch::Tensor diff = (ours - golden).abs();
  const torch::Tensor loud = golden > -60;
  DbComparison r;
  r.max_all = diff.max().item<double>();
  r.max_loud = loud.any().item<bool>() ? diff.masked_select(loud).max().item<double>() : 0.0;
  return r;
}

std::vector<float> decode(const fs::path& flac, int sample_rate) {
  const auto wav = media::decode_audio_mono(flac, sample_rate);
  EXPECT_TRUE(wav.has_value()) << flac;
  return wav.value_or(std::vector<float>{});
}


TEST(AudioFrontend, MelScalesMatchTheirFormulas) {
  // Slaney: linear below 1 kHz (3 mel per 200 Hz), 27 mel per factor 6.4 above.
  EXPECT_NEAR(encoders::hz_to_mel(200, encoders::MelScale::kSlaney), 3.0, 1e-12);
  EXPECT_NEAR(encoders::hz_to_mel(1000, encoders::MelScale::kSlaney), 15.0, 1e-12);
  EXPECT_NEAR(encoders::hz_to_mel(6400, encoders::MelScale::kSlaney), 42.0, 1e-12);
  EXPECT_NEAR(encoders::hz_to_mel(700, encoders::MelScale::kHtk), 2595.0 * std::log10(2.0), 1e-9);
  for (encoders::MelScale scale : {encoders::MelScale::kSlaney, encoders::MelScale::kHtk}) {
    for (double hz : {0.0, 50.0, 999.0, 1000.0, 1001.0, 4321.0, 14000.0, 24000.0}) {
      EXPECT_NEAR(encoders::mel_to_hz(encoders::hz_to_mel(hz, scale), scale), hz, 1e-9 * std::max(1.0, hz));
    }
  }
}

TEST(AudioFrontend, FilterRowsAreTrianglesAtTheMelCentres) {
  for (const encoders::LogMelConfig& c : {wavcaps_config(), hf_config()}) {
    const torch::Tensor bank = encoders::mel_filter_bank(c).to(torch::kFloat64);
    ASSERT_EQ(bank.sizes(), (std::vector<int64_t>{c.n_mels, c.n_fft / 2 + 1}));
    const std::vector<double> hz = mel_points(c);
    const double df = static_cast<double>(c.sample_rate) / c.n_fft;
    int checked_area = 0;
    for (int64_t m = 0; m < c.n_mels; ++m) {
      const double left = hz[m], centre = hz[m + 1], right = hz[m + 2];
      const double height = 2.0 / (right - left);  // Slaney area normalisation: unit area in Hz
      const torch::Tensor row = bank[m];
      // Zero outside (left, right), never above the triangle's apex.
      for (int64_t k = 0; k < row.size(0); ++k) {
        const double f = k * df, w = row[k].item<double>();
        if (f <= left || f >= right) EXPECT_EQ(w, 0.0) << "filter " << m << " bin " << k;
        EXPECT_LE(w, height * (1 + 1e-9));
        EXPECT_GE(w, 0.0);
      }
      // The peak is the bin nearest the centre frequency (or its neighbour on a tie).
      const int64_t peak = row.argmax().item<int64_t>();
      EXPECT_LE(std::abs(peak * df - centre), df) << "filter " << m;
      // Area in Hz is 1 where the triangle spans enough bins for the sum to approximate it.
      if (right - left > 16 * df) {
        EXPECT_NEAR(row.sum().item<double>() * df, 1.0, 0.02) << "filter " << m;
        ++checked_area;
      }
    }
    EXPECT_GE(checked_area, 10);
  }
  // HTK without normalisation: unit-height triangles.
  encoders::LogMelConfig htk = hf_config();
  htk.scale = encoders::MelScale::kHtk;
  htk.norm = encoders::MelNorm::kNone;
  const torch::Tensor bank = encoders::mel_filter_bank(htk);
  EXPECT_LE(bank.max().item<float>(), 1.0f + 1e-6f);
  EXPECT_GT(std::get<0>(bank.max(1)).min().item<float>(), 0.4f);
}

TEST(AudioFrontend, ToneLandsInItsMelBinAndLevelsArePowerDecibels) {
  const encoders::LogMelConfig c = wavcaps_config();
  const std::vector<double> hz = mel_points(c);
  for (int64_t m : {10, 30, 50}) {
    const double f0 = hz[m + 1];  // centre of filter m
    const torch::Tensor half = encoders::log_mel_spectrogram(as_batch(sine(f0, 0.5, c.sample_rate, 32000)), c);
    const torch::Tensor quarter = encoders::log_mel_spectrogram(as_batch(sine(f0, 0.25, c.sample_rate, 32000)), c);
    const torch::Tensor frame = half[0][0][50];  // a frame far from the edges
    EXPECT_EQ(frame.argmax().item<int64_t>(), m) << f0 << " Hz";
    // Half the amplitude is a quarter of the power: 10 log10(4) dB lower in every loud bin.
    const torch::Tensor drop = half[0][0][50] - quarter[0][0][50];
    EXPECT_NEAR(drop[m].item<double>(), 10 * std::log10(4.0), 1e-3);
  }
}

TEST(AudioFrontend, SilenceIsMinus100AndFramesAreOnePlusLengthOverHop) {
  const encoders::LogMelConfig c = wavcaps_config();
  for (int64_t n : {513, 1000, 31999, 32000, 320000}) {
    const torch::Tensor mel = encoders::log_mel_spectrogram(torch::zeros({2, n}), c);
    ASSERT_EQ(mel.sizes(), (std::vector<int64_t>{2, 1, 1 + n / c.hop_length, c.n_mels}));
    EXPECT_TRUE((mel == -100.0f).all().item<bool>()) << n;
  }
  EXPECT_THROW(encoders::log_mel_spectrogram(torch::zeros({1, 512}), c), c10::Error);  // too short to reflect-pad
  EXPECT_THROW(encoders::log_mel_spectrogram(torch::zeros({512}), c), c10::Error);
}

TEST(AudioFrontend, MatchesADirectReflectPaddedHannDft) {
  encoders::LogMelConfig c = wavcaps_config();
  c.n_fft = c.win_length = 256;
  c.hop_length = 100;
  c.n_mels = 20;
  torch::manual_seed(3);
  const torch::Tensor wav = torch::randn({1, 2000}) * 0.3;
  const torch::Tensor ours = encoders::log_mel_spectrogram(wav, c);
  const torch::Tensor bank = encoders::mel_filter_bank(c).to(torch::kFloat64);
  const auto x = wav.to(torch::kFloat64)[0];
  const int64_t n = x.size(0), half = c.n_fft / 2;
  for (int64_t t : {0, 1, 10, 20}) {  // frame 0 reaches into the reflected padding
    std::vector<double> power(half + 1);
    for (int64_t k = 0; k <= half; ++k) {
      double re = 0, im = 0;
      for (int64_t j = 0; j < c.n_fft; ++j) {
        int64_t i = t * c.hop_length + j - half;  // centred frame
        if (i < 0) i = -i;                        // reflect (edge sample not repeated)
        if (i >= n) i = 2 * (n - 1) - i;
        const double window = 0.5 - 0.5 * std::cos(2 * kPi * j / c.n_fft);  // periodic Hann
        const double v = x[i].item<double>() * window;
        re += v * std::cos(2 * kPi * k * j / c.n_fft);
        im -= v * std::sin(2 * kPi * k * j / c.n_fft);
      }
      power[k] = re * re + im * im;
    }
    const torch::Tensor p = torch::tensor(power, torch::kFloat64);
    const torch::Tensor expected = 10 * torch::log10(torch::clamp_min(torch::matmul(bank, p), 1e-10));
    EXPECT_LT((ours[0][0][t].to(torch::kFloat64) - expected).abs().max().item<double>(), 1e-4) << "frame " << t;
  }
}

TEST(AudioFrontend, FitClipLength) {
  const std::vector<float> three = {1, 2, 3};
  EXPECT_EQ(encoders::fit_clip_length(three, 7, encoders::ClipPadding::kZerosAtEnd), (std::vector<float>{1, 2, 3, 0, 0, 0, 0}));
  EXPECT_EQ(encoders::fit_clip_length(three, 7, encoders::ClipPadding::kRepeatThenZeros), (std::vector<float>{1, 2, 3, 1, 2, 3, 0}));
  EXPECT_EQ(encoders::fit_clip_length(three, 8, encoders::ClipPadding::kRepeat), (std::vector<float>{1, 2, 3, 1, 2, 3, 1, 2}));
  EXPECT_EQ(encoders::fit_clip_length(three, 3, encoders::ClipPadding::kRepeat), three);
  EXPECT_EQ(encoders::fit_clip_length({}, 4, encoders::ClipPadding::kRepeatThenZeros), (std::vector<float>(4, 0.0f)));
  std::vector<float> ramp(25);
  std::iota(ramp.begin(), ramp.end(), 0.0f);
  // Centred crop: start = 25 / 2 - 10 / 2 = 7 whatever the padding rule.
  for (encoders::ClipPadding p : {encoders::ClipPadding::kZerosAtEnd, encoders::ClipPadding::kRepeatThenZeros, encoders::ClipPadding::kRepeat}) {
    const auto crop = encoders::fit_clip_length(ramp, 10, p);
    ASSERT_EQ(crop.size(), 10u);
    EXPECT_EQ(crop.front(), 7.0f);
    EXPECT_EQ(crop.back(), 16.0f);
  }
  EXPECT_EQ(encoders::clip_start_sample(25, 10), 7);
  EXPECT_EQ(encoders::clip_start_sample(26, 10), 8);
  EXPECT_EQ(encoders::clip_start_sample(9, 10), 0);
  // ClipClap's crop of the 25-s clip at 32 kHz and HF's centred offset at 48 kHz (golden values).
  EXPECT_EQ(encoders::clip_start_sample(800000, 320000), 240000);
  EXPECT_EQ(encoders::clip_start_sample(1200000, 480000), 360000);
  EXPECT_THROW(encoders::fit_clip_length(three, 0, encoders::ClipPadding::kRepeat), std::invalid_argument);
}

TEST(AudioFrontend, ConfigValidation) {
  encoders::LogMelConfig c = wavcaps_config();
  c.f_max = 20000;  // above Nyquist at 32 kHz
  EXPECT_THROW(encoders::mel_filter_bank(c), std::invalid_argument);
  c = wavcaps_config();
  c.hop_length = 0;
  EXPECT_THROW(encoders::log_mel_spectrogram(torch::zeros({1, 2000}), c), std::invalid_argument);
}

// ---- golden front ends ----

TEST(AudioFrontendGolden, FilterBanksMatchLibrosaAndTransformers) {
  const fs::path dir = golden_clap_dir() / "frontend_cases";
  AVGZSL_SKIP_WITHOUT(dir);
  const io::SafetensorsFile wavcaps(dir / "wavcaps_32k.safetensors");
  const io::SafetensorsFile hf(dir / "hf_48k.safetensors");
  const double d32 = (encoders::mel_filter_bank(wavcaps_config()) - wavcaps.tensor("mel_filterbank", torch::kFloat32)).abs().max().item<double>();
  const double d48 = (encoders::mel_filter_bank(hf_config()) - hf.tensor("mel_filters_slaney", torch::kFloat32)).abs().max().item<double>();
  RecordProperty("filterbank_32k_max_abs_diff", testing::measured_difference(d32));
  RecordProperty("filterbank_48k_max_abs_diff", testing::measured_difference(d48));
  EXPECT_LT(d32, 1e-6);
  EXPECT_LT(d48, 1e-6);
}

TEST(AudioFrontendGolden, DecodedFlacIsInt16Over32768) {
  const fs::path flac = golden_clap_dir() / "frontend_cases" / "audio_32k" / "clip3s.flac";
  AVGZSL_SKIP_WITHOUT(flac);
  const std::vector<float> wav = decode(flac, 32000);
  ASSERT_EQ(wav.size(), 96000u);
  double off_grid = 0;
  for (float v : wav) off_grid = std::max(off_grid, std::abs(v * 32768.0 - std::round(v * 32768.0)));
  EXPECT_EQ(off_grid, 0.0);
}

TEST(AudioFrontendGolden, WavCapsTorchlibrosaLogMels) {
  const fs::path dir = golden_clap_dir() / "frontend_cases";
  AVGZSL_SKIP_WITHOUT(dir);
  const io::SafetensorsFile golden(dir / "wavcaps_32k.safetensors");
  const encoders::ClapAudioFrontEnd fe = encoders::ClapAudioFrontEnd::wavcaps();
  struct Case {
    std::string name, tensor;
    bool fitted;
  };
  const std::vector<Case> cases = {{"silence", "silence.logmel", false},
                                   {"sine1k_full", "sine1k_full.logmel", false},
                                   {"clip3s", "clip3s.logmel", false},
                                   {"clip3s", "clip3s.clipclap_logmel", true},
                                   {"clip25s", "clip25s.clipclap_logmel", true}};
  for (const Case& c : cases) {
    std::vector<float> wav = decode(dir / "audio_32k" / (c.name + ".flac"), 32000);
    if (c.fitted) {
      const int64_t start = golden.tensor(c.name + ".clipclap_waveform_start").item<int64_t>();
      EXPECT_EQ(encoders::clip_start_sample(static_cast<int64_t>(wav.size()), fe.clip_samples), start) << c.tensor;
      wav = encoders::fit_clip_length(wav, fe.clip_samples, fe.padding);
    }
    const torch::Tensor ours = encoders::log_mel_spectrogram(as_batch(wav), fe.log_mel)[0];  // [1, T, M]
    const torch::Tensor expected = golden.tensor(c.tensor, torch::kFloat32);
    const DbComparison d = compare_db(ours, expected);
    RecordProperty(c.tensor + "_max_abs_db_loud", testing::measured_difference(d.max_loud));
    RecordProperty(c.tensor + "_max_abs_db_all", testing::measured_difference(d.max_all));
    EXPECT_LT(d.max_loud, 0.01) << c.tensor;
    EXPECT_LT(d.max_all, 1.0) << c.tensor;
    if (c.name == "silence") EXPECT_TRUE((ours == -100.0f).all().item<bool>());
  }
}

TEST(AudioFrontendGolden, HuggingFaceFeatureExtractorInputFeatures) {
  const fs::path dir = golden_clap_dir() / "frontend_cases";
  AVGZSL_SKIP_WITHOUT(dir);
  const io::SafetensorsFile golden(dir / "hf_48k.safetensors");
  // The golden's feature extractor settings, read the way the encoder reads them.
  const encoders::ClapAudioFrontEnd fe =
      encoders::ClapAudioFrontEnd::from_hf_preprocessor_file(golden_clap_dir() / "laion_htsat_tiny" / "preprocessor_config.json");
  EXPECT_EQ(fe.padding, encoders::ClipPadding::kRepeatThenZeros);
  EXPECT_EQ(fe.clip_samples, 480000);
  EXPECT_EQ(fe.log_mel.scale, encoders::MelScale::kSlaney);
  EXPECT_EQ(fe.log_mel.hop_length, 480);
  EXPECT_EQ(fe.log_mel.f_min, 50);
  const std::vector<std::pair<std::string, std::string>> cases = {{"silence", "silence.input_features"},
                                                                  {"sine1k_full", "sine1k_full.input_features"},
                                                                  {"clip3s", "clip3s.input_features"},
                                                                  {"clip25s", "clip25s.input_features_center"}};
  EXPECT_EQ(encoders::clip_start_sample(1200000, fe.clip_samples), golden.tensor("clip25s.trunc_offset_center").item<int64_t>());
  for (const auto& [name, tensor] : cases) {
    const std::vector<float> wav = encoders::fit_clip_length(decode(dir / "audio_48k" / (name + ".flac"), 48000), fe.clip_samples, fe.padding);
    const torch::Tensor ours = encoders::log_mel_spectrogram(as_batch(wav), fe.log_mel)[0];
    const DbComparison d = compare_db(ours, golden.tensor(tensor, torch::kFloat32));
    RecordProperty(tensor + "_max_abs_db_loud", testing::measured_difference(d.max_loud));
    RecordProperty(tensor + "_max_abs_db_all", testing::measured_difference(d.max_all));
    EXPECT_LT(d.max_loud, 0.01) << tensor;
    EXPECT_LT(d.max_all, 1.0) << tensor;
    if (name == "silence") EXPECT_TRUE((ours == -100.0f).all().item<bool>());
  }
}

TEST(AudioFrontendGolden, TenSecondModelInputs) {
  // Rows sine440_half, noise, chirp of both model folders' cases (10 s, no fitting needed).
  AVGZSL_SKIP_WITHOUT(golden_clap_dir());
  const std::vector<std::string> rows = {"sine440_half", "noise", "chirp"};
  struct Folder {
    std::string dir, tensor;
    encoders::ClapAudioFrontEnd fe;
    int rate;
  };
  const std::vector<Folder> folders = {{"wavcaps_htsat_tiny", "logmel", encoders::ClapAudioFrontEnd::wavcaps(), 32000},
                                       {"laion_htsat_tiny", "input_features", encoders::ClapAudioFrontEnd::hugging_face_default(false), 48000}};
  for (const Folder& f : folders) {
    const fs::path dir = golden_clap_dir() / f.dir;
    const io::SafetensorsFile cases(dir / "cases.safetensors");
    const torch::Tensor golden = cases.tensor(f.tensor, torch::kFloat32);
    for (size_t i = 0; i < rows.size(); ++i) {
      const std::vector<float> wav = decode(dir / "audio" / (rows[i] + ".flac"), f.rate);
      ASSERT_EQ(static_cast<int64_t>(wav.size()), f.fe.clip_samples) << rows[i];
      const torch::Tensor ours = encoders::log_mel_spectrogram(as_batch(wav), f.fe.log_mel)[0];
      const DbComparison d = compare_db(ours, golden[static_cast<int64_t>(i)]);
      RecordProperty(f.dir + "_" + rows[i] + "_max_abs_db_loud", testing::measured_difference(d.max_loud));
      RecordProperty(f.dir + "_" + rows[i] + "_max_abs_db_all", testing::measured_difference(d.max_all));
      EXPECT_LT(d.max_loud, 0.01) << f.dir << " " << rows[i];
      EXPECT_LT(d.max_all, 1.0) << f.dir << " " << rows[i];
    }
  }
}

}  // namespace frontend_test
}  // namespace
}  // namespace avgzsl::encoders
