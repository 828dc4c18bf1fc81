#include "avgzsl/encoders/clap/clap_text_encoder.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <numeric>
#include <stdexcept>
#include <unordered_map>

#include "avgzsl/encoders/clap/clap_model_dir.h"
#include "avgzsl/encoders/config_json.h"
#include "avgzsl/nn/activations.h"
#include "avgzsl/encoders/pretrained_weights.h"
#include "avgzsl/preprocessing/roberta_tokenizer.h"
#include "avgzsl/preprocessing/wordpiece_tokenizer.h"

namespace avgzsl::encoders {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
// Named inside the anonymous namespace: unity build (see text_transformer.cpp).
namespace clap_text {

// LAION's CLAP tokenises with max_length 77 (laion_clap hook.py / training data.py:
// padding="max_length", truncation=True, max_length=77); WavCaps' TextEncoder with
// padding='longest', truncation=True, max_length=30 (retrieval/models/text_encoder.py).
constexpr int64_t kHfClapMaxLength = preprocessing::kClapTextMaxLength;
constexpr int64_t kWavCapsMaxLength = preprocessing::kWavcapsTextMaxLength;
constexpr int64_t kDefaultBatchSize = 64;

// Stale buffers transformers saves with the embeddings; recomputed here.
const std::vector<std::string> kHfIgnorable = {"embeddings.position_ids", "embeddings.token_type_ids"};
// WavCaps builds BertModel(add_pooling_layer=False); a pooler in such a file would be unused.
const std::vector<std::string> kWavCapsIgnorable = {"embeddings.position_ids", "embeddings.token_type_ids",
                                                    "pooler.dense.weight", "pooler.dense.bias"};

std::string pooling_name(ClapTextPooling pooling) {
  return pooling == ClapTextPooling::kPoolerOutput ? "pooler_output" : "cls_token";
}

// The tensor's shape, or a one-line error naming the file and the tensor.
std::vector<int64_t> shape_of(const PretrainedWeights& weights, const std::string& name) {
  return weights.float_tensor(name).sizes().vec();
}

[[noreturn]] void fail(const fs::path& path, const std::string& problem) {
  throw std::runtime_error(path.string() + ": " + problem);
}

}  // namespace clap_text
}  // namespace

// --- configuration ------------------------------------------------------------------------------

ClapTextTowerConfig ClapTextTowerConfig::from_clap_json(const json& j, const std::string& source) {
  if (!j.is_object()) throw std::invalid_argument(source + ": not a JSON object");
  ClapTextTowerConfig c;
  const json& text = config_section(j, "text_config");
  c.text = TextTransformerConfig::from_json(text, TextTransformerConfig::clap_text_defaults(), source + " text_config");
  // ClapConfig.__init__ sets text_config.projection_dim / projection_hidden_act from its own.
  auto read = [&](const json& obj, const char* key, auto& value, const std::string& where) {
    const auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return;
    try {
      value = it->template get<std::remove_reference_t<decltype(value)>>();
    } catch (const json::exception&) {
      throw std::invalid_argument(where + ": field '" + key + "' has the wrong type (" + it->dump() + ")");
    }
  };
  read(text, "projection_dim", c.projection_dim, source + " text_config");
  read(text, "projection_hidden_act", c.projection_hidden_act, source + " text_config");
  read(j, "projection_dim", c.projection_dim, source);
  read(j, "projection_hidden_act", c.projection_hidden_act, source);
  if (c.projection_dim <= 0) {
    throw std::invalid_argument(source + ": field 'projection_dim' must be positive, got " + std::to_string(c.projection_dim));
  }
  if (!nn::is_supported_activation(c.projection_hidden_act)) {
    throw std::invalid_argument(source + ": unsupported projection_hidden_act '" + c.projection_hidden_act + "'");
  }
  c.pooling = ClapTextPooling::kPoolerOutput;
  c.text.add_pooling_layer = true;
  c.projection_first = "linear1";
  c.projection_second = "linear2";
  return c;
}

ClapTextTowerConfig ClapTextTowerConfig::from_clap_config_file(const fs::path& config_json) {
  return parse_config_file(config_json, [](const json& j, const std::string& source) { return from_clap_json(j, source); });
}

ClapTextTowerConfig ClapTextTowerConfig::wavcaps(const TextTransformerConfig& bert, int64_t embed_size) {
  ClapTextTowerConfig c;
  c.text = bert;
  c.text.add_pooling_layer = false;
  c.projection_dim = embed_size;
  c.projection_hidden_act = "relu";
  c.pooling = ClapTextPooling::kClsToken;
  c.projection_first = "0";
  c.projection_second = "2";
  return c;
}

// --- the tower ----------------------------------------------------------------------------------

ClapTextTowerImpl::ClapTextTowerImpl(const ClapTextTowerConfig& c) : config_(c) {
  if (c.pooling == ClapTextPooling::kPoolerOutput && !c.text.add_pooling_layer) {
    throw std::invalid_argument("CLAP text tower: pooler_output pooling needs the pooling layer");
  }
  transformer = register_module("transformer", TextTransformer(c.text));
  projection = register_module("projection", TextProjectionHead(c.text.hidden_size, c.projection_dim, c.projection_hidden_act,
                                                                c.projection_first, c.projection_second));
}

torch::Tensor ClapTextTowerImpl::features(const torch::Tensor& input_ids, const torch::Tensor& attention_mask) {
  const torch::Tensor h = transformer(input_ids, attention_mask);  // [B, L, H]
  const torch::Tensor pooled = config_.pooling == ClapTextPooling::kPoolerOutput
                                   ? transformer->pooler(h)  // tanh(dense(h[:, 0])) [B, H]
                                   : h.select(1, 0);         // [CLS] [B, H]
  return projection(pooled);                                 // [B, D]
}

torch::Tensor ClapTextTowerImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask) {
  namespace F = torch::nn::functional;
  return F::normalize(features(input_ids, attention_mask), F::NormalizeFuncOptions().p(2).dim(-1).eps(1e-12));
}

// --- loaders ------------------------------------------------------------------------------------

ClapTextTower load_hf_clap_text_tower(const fs::path& config_json, const PretrainedWeights& weights) {
  ClapTextTower tower(ClapTextTowerConfig::from_clap_config_file(config_json));
  weights.load_into(*tower->transformer, kHfClapTextPrefix, clap_text::kHfIgnorable);
  weights.load_into(*tower->projection, kHfClapProjectionPrefix);
  tower->eval();
  return tower;
}

TextTransformerConfig infer_wavcaps_bert_config(const PretrainedWeights& weights) {
  const std::string p = kWavCapsTextPrefix;
  TextTransformerConfig c = TextTransformerConfig::bert_base_uncased();
  const auto words = clap_text::shape_of(weights, p + "embeddings.word_embeddings.weight");
  const auto positions = clap_text::shape_of(weights, p + "embeddings.position_embeddings.weight");
  const auto types = clap_text::shape_of(weights, p + "embeddings.token_type_embeddings.weight");
  if (words.size() != 2 || positions.size() != 2 || types.size() != 2) {
    clap_text::fail(weights.path(), "tensor '" + p + "embeddings.*_embeddings.weight' is not a matrix");
  }
  c.vocab_size = words[0];
  c.hidden_size = words[1];
  c.max_position_embeddings = positions[0];
  c.type_vocab_size = types[0];
  // Layers: the largest N of encoder.layer.N.* plus one.
  const std::string layer_prefix = p + "encoder.layer.";
  int64_t layers = 0;
  for (const std::string& name : weights.names()) {
    if (name.rfind(layer_prefix, 0) != 0) continue;
    const size_t begin = layer_prefix.size(), end = name.find('.', begin);
    try {
      layers = std::max<int64_t>(layers, std::stoll(name.substr(begin, end - begin)) + 1);
    } catch (const std::exception&) {
      clap_text::fail(weights.path(), "tensor '" + name + "' has no layer number");
    }
  }
  if (layers == 0) clap_text::fail(weights.path(), "missing tensor '" + layer_prefix + "0.*' (no BERT layers)");
  c.num_hidden_layers = layers;
  const auto intermediate = clap_text::shape_of(weights, layer_prefix + "0.intermediate.dense.weight");
  if (intermediate.size() != 2) clap_text::fail(weights.path(), "tensor '" + layer_prefix + "0.intermediate.dense.weight' is not a matrix");
  c.intermediate_size = intermediate[0];
  // bert-base's head size is 64 (768 / 12); a hidden size that is no multiple of 64 needs config.json.
  if (c.hidden_size % 64 != 0) {
    clap_text::fail(weights.path(), "hidden size " + std::to_string(c.hidden_size) +
                                        " is not a multiple of 64; put the text encoder's BERT config.json beside the checkpoint");
  }
  c.num_attention_heads = c.hidden_size / 64;
  c.add_pooling_layer = false;
  try {
    c.validate(weights.path().string());
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(e.what());
  }
  return c;
}

ClapTextTower load_wavcaps_text_tower(const PretrainedWeights& weights, const fs::path& bert_config_json) {
  const TextTransformerConfig bert = bert_config_json.empty() ? infer_wavcaps_bert_config(weights)
                                                              : TextTransformerConfig::from_bert_config_file(bert_config_json);
  const std::string second = std::string(kWavCapsProjectionPrefix) + "2.weight";
  const auto projection_shape = clap_text::shape_of(weights, second);
  if (projection_shape.size() != 2) clap_text::fail(weights.path(), "tensor '" + second + "' is not a matrix");
  ClapTextTower tower(ClapTextTowerConfig::wavcaps(bert, projection_shape[0]));
  weights.load_into(*tower->transformer, kWavCapsTextPrefix, clap_text::kWavCapsIgnorable);
  weights.load_into(*tower->projection, kWavCapsProjectionPrefix);
  tower->eval();
  return tower;
}

// --- the encoder --------------------------------------------------------------------------------

struct ClapTextEncoder::Impl {
  ClapModelFiles files;
  ClapTextTower tower{nullptr};
  torch::Device device = torch::kCPU;
  int64_t max_length = 0;
  int64_t batch_size = clap_text::kDefaultBatchSize;
  int64_t pad_token_id = 0;
  std::function<std::vector<int64_t>(const std::string&, int64_t)> tokenize;
  std::string fingerprint;
};

namespace {
namespace clap_text {

struct TokenizerHandle {
  std::function<std::vector<int64_t>(const std::string&, int64_t)> encode;  // (text, max_length) -> ids
  int64_t pad_token_id = 0;
  int64_t vocab_size = 0;  // largest id + 1
};

// The family's tokenizer from its vocabulary files (defined at the end of this file).
TokenizerHandle make_tokenizer(const ClapModelFiles& files);

}  // namespace clap_text
}  // namespace

ClapTextEncoder::ClapTextEncoder(const fs::path& model_dir_or_checkpoint, torch::Device device)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.files = locate_clap_model(model_dir_or_checkpoint);
  m.device = device;
  const PretrainedWeights weights(m.files.weights);
  if (m.files.family == ClapFamily::kHuggingFace) {
    m.tower = load_hf_clap_text_tower(m.files.config, weights);
    m.max_length = std::min(clap_text::kHfClapMaxLength, m.tower->config().text.max_tokens());
  } else {
    m.tower = load_wavcaps_text_tower(weights, m.files.config);
    m.max_length = std::min(clap_text::kWavCapsMaxLength, m.tower->config().text.max_tokens());
  }
  m.tower->to(device);
  m.pad_token_id = m.tower->config().text.pad_token_id;
  clap_text::TokenizerHandle tokenizer = clap_text::make_tokenizer(m.files);
  if (tokenizer.pad_token_id != m.pad_token_id) {
    // RoBERTa's position ids count the tokens that are not the model's pad id.
    throw std::runtime_error(m.files.vocab.string() + ": the padding token has id " + std::to_string(tokenizer.pad_token_id) +
                             ", the model's pad_token_id is " + std::to_string(m.pad_token_id));
  }
  if (tokenizer.vocab_size > m.tower->config().text.vocab_size) {
    throw std::runtime_error(m.files.vocab.string() + ": the tokenizer has " + std::to_string(tokenizer.vocab_size) +
                             " tokens, the model's vocabulary " + std::to_string(m.tower->config().text.vocab_size));
  }
  m.tokenize = std::move(tokenizer.encode);

  const ClapTextTowerConfig& c = m.tower->config();
  std::error_code ec;
  const auto bytes = fs::file_size(m.files.weights, ec);
  const fs::path named = fs::is_regular_file(model_dir_or_checkpoint) ? model_dir_or_checkpoint : m.files.dir;
  std::string name = named.filename().string();
  if (name.empty() || name == ".") name = named.parent_path().filename().string();
  m.fingerprint = name + " " + to_string(m.files.family) + " text " + c.text.summary() + ", projection " +
                  std::to_string(c.projection_dim) + " " + c.projection_hidden_act + ", " +
                  clap_text::pooling_name(c.pooling) + ", max_length " + std::to_string(m.max_length) + ", weights " +
                  (ec ? std::string("?") : std::to_string(bytes)) + " bytes";
}

ClapTextEncoder::~ClapTextEncoder() = default;
ClapTextEncoder::ClapTextEncoder(ClapTextEncoder&&) noexcept = default;
ClapTextEncoder& ClapTextEncoder::operator=(ClapTextEncoder&&) noexcept = default;

int64_t ClapTextEncoder::embedding_dim() const { return impl_->tower->config().projection_dim; }
int64_t ClapTextEncoder::max_length() const { return impl_->max_length; }
std::string ClapTextEncoder::fingerprint() const { return impl_->fingerprint; }
ClapTextTower& ClapTextEncoder::tower() { return impl_->tower; }

void ClapTextEncoder::set_batch_size(int64_t batch_size) {
  if (batch_size <= 0) throw std::invalid_argument("CLAP text encoder: batch size must be positive, got " + std::to_string(batch_size));
  impl_->batch_size = batch_size;
}

std::vector<int64_t> ClapTextEncoder::tokenize(const std::string& text) const {
  return impl_->tokenize(text, impl_->max_length);
}

torch::Tensor ClapTextEncoder::encode(const std::vector<std::string>& texts) {
  // Equal texts (prompt sets repeat themselves) are tokenised and encoded once.
  std::unordered_map<std::string, int64_t> unique_index;
  std::vector<std::vector<int64_t>> unique_ids;
  std::vector<int64_t> row_of(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto [it, inserted] = unique_index.emplace(texts[i], static_cast<int64_t>(unique_ids.size()));
    if (inserted) unique_ids.push_back(tokenize(texts[i]));
    row_of[i] = it->second;
  }
  const torch::Tensor unique_embeddings = encode_ids(unique_ids);  // [U, D]
  if (unique_ids.size() == texts.size()) return unique_embeddings;
  return unique_embeddings.index_select(0, torch::tensor(row_of, torch::kInt64));  // [N, D]
}

torch::Tensor ClapTextEncoder::encode_ids(const std::vector<std::vector<int64_t>>& ids) {
  Impl& m = *impl_;
  const int64_t n = static_cast<int64_t>(ids.size());
  for (int64_t i = 0; i < n; ++i) {
    const int64_t length = static_cast<int64_t>(ids[i].size());
    if (length == 0 || length > m.max_length) {
      throw std::invalid_argument("CLAP text encoder: text " + std::to_string(i) + " has " + std::to_string(length) +
                                  " tokens; 1 to " + std::to_string(m.max_length) + " are allowed");
    }
  }
  torch::Tensor out = torch::empty({n, embedding_dim()}, torch::kFloat32);  // [N, D]
  if (n == 0) return out;

  // Longest first, so each batch holds texts of similar length and little padding.
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return ids[a].size() > ids[b].size(); });

  torch::NoGradGuard no_grad;
  for (int64_t begin = 0; begin < n; begin += m.batch_size) {
    const int64_t count = std::min(m.batch_size, n - begin);
    const int64_t length = static_cast<int64_t>(ids[order[begin]].size());  // the batch's longest
    torch::Tensor batch_ids = torch::full({count, length}, m.pad_token_id, torch::kInt64);  // [b, L]
    torch::Tensor mask = torch::zeros({count, length}, torch::kInt64);                     // [b, L]
    auto ids_a = batch_ids.accessor<int64_t, 2>();
    auto mask_a = mask.accessor<int64_t, 2>();
    std::vector<int64_t> rows(static_cast<size_t>(count));
    for (int64_t r = 0; r < count; ++r) {
      const auto& text = ids[order[begin + r]];
      for (size_t t = 0; t < text.size(); ++t) {
        ids_a[r][static_cast<int64_t>(t)] = text[t];
        mask_a[r][static_cast<int64_t>(t)] = 1;
      }
      rows[r] = order[begin + r];
    }
    const torch::Tensor embeddings = m.tower(batch_ids.to(m.device), mask.to(m.device)).to(torch::kCPU, torch::kFloat32);  // [b, D]
    out.index_copy_(0, torch::tensor(rows, torch::kInt64), embeddings);
  }
  return out;
}

// --- tokenizers ---------------------------------------------------------------------------------

namespace {
namespace clap_text {

TokenizerHandle make_tokenizer(const ClapModelFiles& files) {
  TokenizerHandle handle;
  int64_t vocab_size = 0;
  if (files.family == ClapFamily::kHuggingFace) {
    const auto tokenizer = preprocessing::RobertaTokenizer::from_files(files.vocab, files.merges);
    handle.pad_token_id = tokenizer.pad_token_id();
    vocab_size = tokenizer.vocab_size();
    handle.encode = [tokenizer](const std::string& text, int64_t max_length) {
      return tokenizer.encode(text, static_cast<int>(max_length));
    };
  } else {
    const auto tokenizer = preprocessing::WordPieceTokenizer::from_file(files.vocab);  // uncased, as bert-base-uncased
    handle.pad_token_id = tokenizer.pad_token_id();
    vocab_size = tokenizer.vocab_size();
    handle.encode = [tokenizer](const std::string& text, int64_t max_length) {
      return tokenizer.encode(text, static_cast<int>(max_length));
    };
  }
  handle.vocab_size = vocab_size;
  return handle;
}

}  // namespace clap_text
}  // namespace

}  // namespace avgzsl::encoders
