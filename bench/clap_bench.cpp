// The CLAP audio tower's throughput on the paper's geometry: HTSAT base (embed 96, depths
// 2,2,6,2, heads 4,8,16,32) with random weights, 10-s clips.
//   1. clips/s at batch 1 and 16, for WavCaps' front end (32 kHz, hop 320) and LAION's (48 kHz,
//      hop 480): both give 1001 x 64 log-mels, so the encoder costs the same;
//   2. per clip, the front end (fit to 10 s, STFT, mel, log) against the encoder;
//   3. the baseline for the encoder's CPU chunking: batch 16 in one piece.
// Run it alone on a quiet machine:
//   ./build/bench/avgzsl_clap_bench [--threads N]
#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <string>

#include "avgzsl/encoders/clap/clap_audio_encoder.h"
#include "avgzsl/util/allocator.h"
#include "avgzsl/util/threads.h"

using namespace avgzsl;

namespace {

template <typename F>
double time_per_call(int repeats, F&& f) {
  f();  // warm
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < repeats; ++i) f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / repeats;
}

}  // namespace

int main(int argc, char** argv) {
  util::restart_with_passive_openmp(argv);
  util::keep_freed_tensor_memory();
  int threads = 0;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--threads") threads = std::stoi(argv[++i]);
  }
  threads = util::configure_threads(threads);
  encoders::HtsatConfig config;  // HTSAT base, as WavCaps and LAION's unfused models use
  config.projection_dim = 1024;
  torch::manual_seed(0);
  encoders::ClapAudioModel model(config);
  model->eval();
  fmt::print("threads {}; {} with random weights\n", threads, config.summary());

  for (const auto& [name, front_end] : {std::pair{"WavCaps 32 kHz", encoders::ClapAudioFrontEnd::wavcaps()},
                                        std::pair{"LAION 48 kHz", encoders::ClapAudioFrontEnd::hugging_face_default(false)}}) {
    encoders::ClapAudioEncoder encoder(model, front_end, "bench");
    for (const int batch : {1, 16}) {
      std::vector<std::vector<float>> clips;
      torch::manual_seed(1);
      for (int b = 0; b < batch; ++b) {
        const torch::Tensor wave = 0.1 * torch::randn({front_end.clip_samples});
        clips.emplace_back(wave.data_ptr<float>(), wave.data_ptr<float>() + wave.numel());
      }
      torch::Tensor log_mel;
      const int repeats = batch == 1 ? 10 : 2;
      const double front = time_per_call(repeats, [&] { log_mel = encoder.log_mel(clips); });
      const double encode = time_per_call(repeats, [&] { encoder.embed_log_mel(log_mel); });
      fmt::print("{:<15} batch {:>2}: front end {:6.1f} ms + encoder {:7.1f} ms per batch = {:5.2f} clips/s; "
                 "front end is {:4.1f}% of the total\n",
                 name, batch, front * 1e3, encode * 1e3, batch / (front + encode), 100 * front / (front + encode));
      if (batch == 16) {
        // Baseline: the whole batch at once (big fresh temporaries), then chunking restored.
        encoder.model()->audio_encoder->set_cpu_chunk_rows(16);
        const double unchunked = time_per_call(repeats, [&] { encoder.embed_log_mel(log_mel); });
        encoder.model()->audio_encoder->set_cpu_chunk_rows(0);
        fmt::print("{:<15} batch 16 in one piece (baseline): encoder {:7.1f} ms = {:5.2f} clips/s; chunked {:.2f}x faster\n",
                   name, unchunked * 1e3, 16 / unchunked, unchunked / encode);
      }
    }
  }
  return 0;
}
