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
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/pickler.h>

#include "avgzsl/data/synthetic.h"
#include "avgzsl/io/safetensors.h"
#include "avgzsl/encoders/clip/clip_model.h"
#include "byte_symbols.h"

namespace avgzsl::testing {
namespace fs = std::filesystem;

data::Dataset tiny_dataset(uint64_t seed) {
  data::SyntheticOptions o;
  o.seed = seed;
  o.videos_scale = 0.1;
  o.visual_dim = 24;
  o.audio_dim = 20;
  o.clip_dim = 16;
  o.clap_dim = 12;
  o.latent_dim = 6;
  return data::make_synthetic_dataset(o);
}

training::TrainConfig tiny_train_config(const fs::path& data) {
  training::TrainConfig c;
  c.data = data.string();
  c.epochs = 2;
  c.batches_per_epoch = 4;
  c.batch_size = 16;
  c.hidden_dim = 16;
  c.embedding_dim = 8;
  return c;
}

fs::path fixture_dir() { return AVGZSL_FIXTURE_DIR; }

void write_tiny_clip_dir(const fs::path& dir, uint64_t seed) {
  fs::create_directories(dir);
  nlohmann::json vocab = nlohmann::json::object();
  int64_t id = 0;
  const std::vector<std::string> symbols = gpt2_byte_symbols_in_table_order();
  for (const std::string& s : symbols) vocab[s] = id++;
  for (const std::string& s : symbols) vocab[s + "</w>"] = id++;
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
  encoders::ClipModel model(encoders::ClipConfig::from_json(config, "tiny"));
  io::NamedTensors tensors;
  for (const auto& p : model->named_parameters()) tensors.emplace_back(p.key(), p.value().detach().clone());
  io::save_safetensors(dir / "model.safetensors", tensors);
}

// Written with LibTorch's own pickler and zip writer. torch::pickle_save itself is not used: it
// tags dicts with torch.jit._pickle.restore_type_tag, which torch.save never writes and our
// allow-listed reader refuses.
void save_torch_checkpoint(const fs::path& path, const io::NamedTensors& tensors) {
  c10::impl::GenericDict state(c10::StringType::get(), c10::TensorType::get());
  for (const auto& [name, tensor] : tensors) state.insert(name, tensor.contiguous().clone());
  c10::impl::GenericDict root(c10::StringType::get(), c10::AnyType::get());
  root.insert("model", state);
  root.insert("epoch", static_cast<int64_t>(3));
  std::string pickle;
  int64_t next_key = 0;
  torch::jit::Pickler pickler([&](const char* data, size_t size) { pickle.append(data, size); }, nullptr, nullptr, nullptr,
                              [&](const at::Tensor&) { return std::to_string(next_key++); }, /*tag_aggregates=*/false);
  pickler.protocol();
  pickler.pushIValue(root);
  pickler.stop();
  std::ofstream out(path, std::ios::binary);
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* data, size_t size) -> size_t {
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    return size;
  });
  writer.writeRecord("data.pkl", pickle.data(), pickle.size());
  const std::vector<at::Tensor>& storages = pickler.tensorData();  // in key order
  for (size_t key = 0; key < storages.size(); ++key) {
    const at::Storage& storage = storages[key].storage();
    writer.writeRecord("data/" + std::to_string(key), storage.data(), storage.nbytes());
  }
  writer.writeEndOfFile();
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
