#include "avgzsl/gzsl/method.h"

#include <map>
#include <stdexcept>

namespace avgzsl::gzsl {

void to_json(nlohmann::json& j, const MethodDims& d) {
  j = {{"visual_dim", d.visual}, {"audio_dim", d.audio}, {"text_dim", d.text}};
}

void from_json(const nlohmann::json& j, MethodDims& d) {
  j.at("visual_dim").get_to(d.visual);
  j.at("audio_dim").get_to(d.audio);
  j.at("text_dim").get_to(d.text);
}

void Method::after_step(const TrainingBatch&) {}

std::optional<JointEmbeddings> Method::joint_embeddings(const torch::Tensor&, const torch::Tensor&) { return std::nullopt; }

std::vector<torch::Tensor> Method::trainable_parameters() { return parameters(/*recurse=*/true); }

std::vector<std::pair<std::string, torch::Tensor>> Method::state_dict() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : named_parameters(/*recurse=*/true)) out.emplace_back(p.key(), p.value());
  for (const auto& b : named_buffers(/*recurse=*/true)) out.emplace_back(b.key(), b.value());
  return out;
}

void Method::load_state_dict(const std::vector<std::pair<std::string, torch::Tensor>>& state, const std::string& source) {
  std::map<std::string, torch::Tensor> own;
  for (auto& [name, t] : state_dict()) own.emplace(name, t);
  std::map<std::string, const torch::Tensor*> given;
  for (const auto& [name, t] : state) {
    if (!own.count(name)) {
      throw std::runtime_error(source + ": unexpected tensor '" + name + "' for a " + method_name() + " model");
    }
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
