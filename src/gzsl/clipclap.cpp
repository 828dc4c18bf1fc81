#include "avgzsl/gzsl/clipclap.h"

#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace avgzsl::gzsl {

void to_json(nlohmann::json& j, const ClipClapOptions& o) {
  j = {{"input_dim", o.input_dim},
       {"text_dim", o.text_dim},
       {"hidden_dim", o.hidden_dim},
       {"embedding_dim", o.embedding_dim},
       {"encoder_dropout", o.encoder_dropout},
       {"video_proj_dropout", o.video_proj_dropout},
       {"class_proj_dropout", o.class_proj_dropout}};
}

void from_json(const nlohmann::json& j, ClipClapOptions& o) {
  j.at("input_dim").get_to(o.input_dim);
  j.at("text_dim").get_to(o.text_dim);
  j.at("hidden_dim").get_to(o.hidden_dim);
  j.at("embedding_dim").get_to(o.embedding_dim);
  j.at("encoder_dropout").get_to(o.encoder_dropout);
  j.at("video_proj_dropout").get_to(o.video_proj_dropout);
  j.at("class_proj_dropout").get_to(o.class_proj_dropout);
}

ClipClapImpl::ClipClapImpl(const ClipClapOptions& o) : options_(o) {
  using nn::EmbeddingNetOptions;
  // Registration order fixes the order of random initialisation; it follows the reference.
  O_enc = register_module("O_enc", nn::EmbeddingNet(EmbeddingNetOptions(o.input_dim, o.hidden_dim).dropout(o.encoder_dropout)));
  W_enc = register_module("W_enc", nn::EmbeddingNet(EmbeddingNetOptions(o.text_dim, o.hidden_dim).dropout(o.encoder_dropout)));
  O_proj = register_module("O_proj", nn::EmbeddingNet(EmbeddingNetOptions(o.hidden_dim, o.embedding_dim)
                                                          .hidden_features(o.hidden_dim)
                                                          .dropout(o.video_proj_dropout)));
  D_o = register_module("D_o", nn::EmbeddingNet(EmbeddingNetOptions(o.embedding_dim, o.hidden_dim)
                                                    .hidden_features(o.hidden_dim)
                                                    .dropout(o.video_proj_dropout)));
  W_proj = register_module("W_proj", nn::EmbeddingNet(EmbeddingNetOptions(o.hidden_dim, o.embedding_dim).dropout(o.class_proj_dropout)));
  D_w = register_module("D_w", nn::EmbeddingNet(EmbeddingNetOptions(o.embedding_dim, o.hidden_dim).dropout(o.class_proj_dropout)));
}

ClipClapOutputs ClipClapImpl::forward(const torch::Tensor& x, const torch::Tensor& t) {
  TORCH_CHECK(x.dim() == 2 && x.size(1) == options_.input_dim, "Expected inputs [B, ", options_.input_dim, "], but got ", x.sizes());
  TORCH_CHECK(t.dim() == 2 && t.size(1) == options_.text_dim, "Expected class texts [B, ", options_.text_dim, "], but got ", t.sizes());
  ClipClapOutputs out;
  const torch::Tensor o = O_enc->forward(x);   // [B, hidden]
  out.w = W_enc->forward(t);                   // [B, hidden]
  out.theta_o = O_proj->forward(o);            // [B, embedding]
  out.rho_o = D_o->forward(out.theta_o);       // [B, hidden]
  out.theta_w = W_proj->forward(out.w);        // [B, embedding]
  out.rho_w = D_w->forward(out.theta_w);       // [B, hidden]
  return out;
}

torch::Tensor ClipClapImpl::embed_videos(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 2 && x.size(1) == options_.input_dim, "Expected inputs [N, ", options_.input_dim, "], but got ", x.sizes());
  return O_proj->forward(O_enc->forward(x));
}

torch::Tensor ClipClapImpl::embed_classes(const torch::Tensor& t) {
  TORCH_CHECK(t.dim() == 2 && t.size(1) == options_.text_dim, "Expected class texts [C, ", options_.text_dim, "], but got ", t.sizes());
  return W_proj->forward(W_enc->forward(t));
}

std::vector<std::pair<std::string, torch::Tensor>> ClipClapImpl::state_dict() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : named_parameters(/*recurse=*/true)) out.emplace_back(p.key(), p.value());
  for (const auto& b : named_buffers(/*recurse=*/true)) out.emplace_back(b.key(), b.value());
  return out;
}

void ClipClapImpl::load_state_dict(const std::vector<std::pair<std::string, torch::Tensor>>& state,
                                   const std::string& source) {
  std::map<std::string, torch::Tensor> own;
  for (auto& [name, t] : state_dict()) own.emplace(name, t);
  std::map<std::string, const torch::Tensor*> given;
  for (const auto& [name, t] : state) {
    if (!own.count(name)) throw std::runtime_error(source + ": unexpected tensor '" + name + "' for this model");
    given.emplace(name, &t);
  }
  for (const auto& [name, target] : own) {
    const auto it = given.find(name);
    if (it == given.end()) throw std::runtime_error(source + ": missing tensor '" + name + "'");
    const torch::Tensor& src = *it->second;
    if (src.sizes() != target.sizes()) {
      throw std::runtime_error(source + ": tensor '" + name + "' has shape " + c10::str(src.sizes()) + ", expected " +
                               c10::str(target.sizes()));
    }
    if (src.is_floating_point()) {
      const int64_t bad = src.numel() - torch::isfinite(src).sum().item<int64_t>();
      if (bad > 0) {
        throw std::runtime_error(source + ": tensor '" + name + "' holds " + std::to_string(bad) +
                                 " NaN or infinite values (a diverged or corrupt checkpoint)");
      }
    }
    torch::NoGradGuard no_grad;
    target.copy_(src.to(target.scalar_type()));
  }
}

}  // namespace avgzsl::gzsl
