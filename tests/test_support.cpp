#include "test_support.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <torch/torch.h>

#include "avgzsl/data/synthetic.h"
#include "avgzsl/io/safetensors.h"
#include "avgzsl/models/clip_model.h"

namespace avgzsl::testing {
namespace fs = std::filesystem;

Dataset tiny_dataset(uint64_t seed) {
  SyntheticOptions o;
  o.seed = seed;
  o.videos_scale = 0.1;
  o.visual_dim = 24;
  o.audio_dim = 20;
  o.clip_dim = 16;
  o.clap_dim = 12;
  o.latent_dim = 6;
  return make_synthetic_dataset(o);
}

fs::path fixture_dir() { return AVGZSL_FIXTURE_DIR; }

namespace {

// GPT-2/CLIP's byte -> printable code point table, in vocabulary order.
std::vector<int> byte_code_points() {
  std::vector<int> bytes;
  for (int b = '!'; b <= '~'; ++b) bytes.push_back(b);
  for (int b = 0xA1; b <= 0xAC; ++b) bytes.push_back(b);
  for (int b = 0xAE; b <= 0xFF; ++b) bytes.push_back(b);
  std::vector<int> points(bytes.begin(), bytes.end());
  int extra = 0;
  for (int b = 0; b < 256; ++b) {
    if (std::find(bytes.begin(), bytes.end(), b) == bytes.end()) {
      bytes.push_back(b);
      points.push_back(256 + extra++);
    }
  }
  return points;
}

std::string utf8(int code_point) {
  std::string s;
  if (code_point < 0x80) {
    s += static_cast<char>(code_point);
  } else {
    s += static_cast<char>(0xC0 | (code_point >> 6));
    s += static_cast<char>(0x80 | (code_point & 0x3F));
  }
  return s;
}

}  // namespace

void write_tiny_clip_dir(const fs::path& dir, uint64_t seed) {
  fs::create_directories(dir);
  nlohmann::json vocab = nlohmann::json::object();
  int64_t id = 0;
  const std::vector<int> points = byte_code_points();
  for (int p : points) vocab[utf8(p)] = id++;
  for (int p : points) vocab[utf8(p) + "</w>"] = id++;
  vocab["<|startoftext|>"] = id++;
  vocab["<|endoftext|>"] = id++;
  std::ofstream(dir / "vocab.json") << vocab.dump();
  std::ofstream(dir / "merges.txt") << "#version: 0.2\n";
  const nlohmann::json config = {
      {"projection_dim", 16},
      {"text_config",
       {{"hidden_size", 16}, {"intermediate_size", 32}, {"num_attention_heads", 2}, {"num_hidden_layers", 2},
        {"vocab_size", id}, {"max_position_embeddings", 77}, {"eos_token_id", id - 1}}},
      {"vision_config",
       {{"hidden_size", 16}, {"intermediate_size", 32}, {"num_attention_heads", 2}, {"num_hidden_layers", 2},
        {"image_size", 32}, {"patch_size", 8}}}};
  std::ofstream(dir / "config.json") << config.dump(2);
  torch::manual_seed(seed);
  models::ClipModel model(models::ClipConfig::from_json(config, "tiny"));
  io::NamedTensors tensors;
  for (const auto& p : model->named_parameters()) tensors.emplace_back(p.key(), p.value().detach().clone());
  io::save_safetensors(dir / "model.safetensors", tensors);
}

bool run_shell(const std::string& command) { return std::system(command.c_str()) == 0; }

bool have_ffmpeg() {
  static const bool present = run_shell("ffmpeg -version > /dev/null 2>&1");
  return present;
}

void make_test_video(const fs::path& path, const std::string& colour, double seconds, int width, int height,
                     bool with_audio) {
  fs::create_directories(path.parent_path());
  const std::string size = std::to_string(width) + "x" + std::to_string(height);
  std::string command = "ffmpeg -loglevel error -y -f lavfi -i color=c=" + colour + ":s=" + size + ":r=10:d=" +
                        std::to_string(seconds);
  if (with_audio) command += " -f lavfi -i sine=frequency=440:duration=" + std::to_string(seconds) + " -c:a aac";
  command += " -c:v mpeg4 -shortest '" + path.string() + "'";
  if (!run_shell(command)) throw std::runtime_error("ffmpeg failed: " + command);
}

}  // namespace avgzsl::testing
