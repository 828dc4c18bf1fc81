#include "tiny_clap_model.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <fstream>
#include <string>

#include "avgzsl/io/safetensors.h"
#include "avgzsl/encoders/clap/clap_text_encoder.h"
#include "avgzsl/encoders/clap/htsat.h"
#include "byte_symbols.h"

namespace avgzsl::testing {
namespace fs = std::filesystem;

namespace {

encoders::HtsatConfig tiny_htsat() {
  encoders::HtsatConfig c;
  c.embed_dim = 4;
  c.depths = {2, 2, 2, 2};
  c.num_heads = {1, 2, 2, 4};
  c.projection_dim = 12;
  return c;
}

nlohmann::json tiny_text_json(int64_t vocab_size, int64_t pad_token_id) {
  return {{"vocab_size", vocab_size}, {"hidden_size", 16},   {"num_hidden_layers", 2},
          {"num_attention_heads", 2}, {"intermediate_size", 32}, {"max_position_embeddings", 80},
          {"pad_token_id", pad_token_id}};
}

void add_with_prefix(io::NamedTensors& out, const std::string& prefix, torch::nn::Module& module) {
  for (const auto& p : module.named_parameters()) out.emplace_back(prefix + p.key(), p.value().detach().clone());
  for (const auto& b : module.named_buffers()) out.emplace_back(prefix + b.key(), b.value().detach().clone());
}

}  // namespace

void write_tiny_hf_clap_dir(const fs::path& dir, uint64_t seed) { write_random_hf_clap_dir(dir, tiny_htsat(), seed); }

void write_random_hf_clap_dir(const fs::path& dir, const encoders::HtsatConfig& audio, uint64_t seed) {
  fs::create_directories(dir);
  nlohmann::json vocab = {{"<s>", 0}, {"<pad>", 1}, {"</s>", 2}, {"<unk>", 3}};
  int64_t id = 4;
  for (int b = 0; b < 256; ++b) vocab[gpt2_byte_symbol(b)] = id++;
  vocab["<mask>"] = id++;
  std::ofstream(dir / "vocab.json") << vocab.dump();
  std::ofstream(dir / "merges.txt") << "#version: 0.2\n";

  nlohmann::json config = audio.to_hf_json();
  config["text_config"] = tiny_text_json(id, 1);
  config["text_config"]["type_vocab_size"] = 1;
  config["text_config"]["layer_norm_eps"] = 1e-5;
  std::ofstream(dir / "config.json") << config.dump(2);
  const nlohmann::json preprocessor = {{"feature_extractor_type", "ClapFeatureExtractor"},
                                       {"feature_size", 64},      {"sampling_rate", 48000},
                                       {"hop_length", 480},       {"max_length_s", 10},
                                       {"fft_window_size", 1024}, {"frequency_min", 50},
                                       {"frequency_max", 14000},  {"top_db", nullptr},
                                       {"truncation", "rand_trunc"}, {"padding", "repeatpad"}};
  std::ofstream(dir / "preprocessor_config.json") << preprocessor.dump(2);

  torch::manual_seed(seed);
  encoders::ClapAudioModel audio_model(audio);
  io::NamedTensors tensors = encoders::clap_audio_named_tensors(*audio_model, encoders::WeightNaming::kHuggingFace);
  encoders::ClapTextTower text(encoders::ClapTextTowerConfig::from_clap_json(config, "tiny"));
  add_with_prefix(tensors, encoders::kHfClapTextPrefix, *text->transformer);
  add_with_prefix(tensors, encoders::kHfClapProjectionPrefix, *text->projection);
  io::save_safetensors(dir / "model.safetensors", tensors);
}

void write_tiny_wavcaps_dir(const fs::path& dir, uint64_t seed) {
  fs::create_directories(dir);
  // bert-base-uncased's special-token ids are 0 and 100-103; a tiny vocabulary keeps the tokens
  // and their order: specials, letters, continuation letters, a few words.
  std::vector<std::string> words = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "'"};
  for (char c = 'a'; c <= 'z'; ++c) words.push_back(std::string(1, c));
  for (char c = 'a'; c <= 'z'; ++c) words.push_back("##" + std::string(1, c));
  for (const char* w : {"the", "sound", "of", "a", "dog", "barking", "playing", "guitar"}) words.push_back(w);
  std::ofstream vocab(dir / "vocab.txt");
  for (const std::string& w : words) vocab << w << "\n";
  vocab.close();
  const nlohmann::json bert = {{"model_type", "bert"}, {"vocab_size", words.size()}, {"hidden_size", 16},
                               {"num_hidden_layers", 2}, {"num_attention_heads", 2}, {"intermediate_size", 32},
                               {"max_position_embeddings", 40}};
  std::ofstream(dir / "config.json") << bert.dump(2);

  torch::manual_seed(seed);
  encoders::HtsatConfig audio = tiny_htsat();
  encoders::ClapAudioModel audio_model(audio);
  io::NamedTensors tensors = encoders::clap_audio_named_tensors(*audio_model, encoders::WeightNaming::kWavCaps);
  encoders::ClapTextTower text(encoders::ClapTextTowerConfig::wavcaps(
      encoders::TextTransformerConfig::from_json(bert, encoders::TextTransformerConfig::bert_base_uncased(), "tiny"),
      audio.projection_dim));
  add_with_prefix(tensors, encoders::kWavCapsTextPrefix, *text->transformer);
  add_with_prefix(tensors, encoders::kWavCapsProjectionPrefix, *text->projection);
  tensors.emplace_back("temp", torch::tensor({0.07f}));
  io::save_safetensors(dir / "HTSAT_BERT_tiny.safetensors", tensors);
}

}  // namespace avgzsl::testing
