#include "avgzsl/gzsl/hyper_multiple.h"

#include <stdexcept>

#include "avgzsl/nn/poincare_ball.h"

namespace avgzsl::gzsl {

namespace {

constexpr double kHyperAlignWeight = 1e-3;  // loss_align = 1e-3 * l_align (Hyper_AVCA.backward)

// Sim_matrix(x, x): cosine similarities of the rows, x / ||x|| without an epsilon as there.
torch::Tensor hyper_similarity(const torch::Tensor& x) {
  const torch::Tensor n = x / x.norm(2, /*dim=*/1, /*keepdim=*/true);
  return torch::mm(n, n.t());
}

// Alignment_loss: MSE between the two similarity matrices.
torch::Tensor hyper_alignment(const torch::Tensor& x, const torch::Tensor& y) {
  return torch::mse_loss(hyper_similarity(x), hyper_similarity(y));
}

// The tangent vector at 0 of x moved onto the ball of curvature c [B, 1].
torch::Tensor hyper_tangent(const torch::Tensor& x, const torch::Tensor& c) {
  return nn::poincare::logmap0(nn::poincare::project(x, c), c);
}

}  // namespace

void to_json(nlohmann::json& j, const HyperMultipleOptions& o) {
  j = o.avca;
  j["curvature"] = o.curvature;
  j["num_curvature"] = o.num_curvature;
}

HyperMultipleOptions hyper_multiple_options_from_json(const nlohmann::json& j) {
  HyperMultipleOptions o;
  o.avca = avca_options_from_json(j);
  for (const char* key : {"curvature", "num_curvature"}) {
    if (!j.contains(key)) throw std::invalid_argument(std::string("Hyper-multiple options: missing key '") + key + "'");
  }
  o.curvature = j.at("curvature").get<double>();
  o.num_curvature = j.at("num_curvature").get<int64_t>();
  // The original divides by num_curvature and builds Linear(600, num_curvature): 0 (its argparse
  // default) cannot run; a curvature <= 0 is no hyperbolic ball.
  if (o.num_curvature < 1 || !(o.curvature > 0)) {
    throw std::invalid_argument("Hyper-multiple options: expected num_curvature >= 1 and curvature > 0, got " + j.dump());
  }
  return o;
}

HyperMultiple::HyperMultiple(const MethodDims& dims, const HyperMultipleOptions& o) : Avca(dims, o.avca), hyper_options_(o) {
  // Hyper_AVCA registers fusenet1 after pos_emb1D; 600 = 2 x the word-embedding width.
  fusenet1 = register_module("fusenet1", torch::nn::Linear(2 * dims.text, o.num_curvature));
}

nlohmann::json HyperMultiple::options_json() const { return hyper_options_; }

torch::Tensor HyperMultiple::curvatures(const torch::Tensor& phi_v, const torch::Tensor& phi_a) {
  return hyper_options_.curvature * torch::sigmoid(fusenet1->forward(torch::cat({phi_v, phi_a}, /*dim=*/1)));
}

torch::Tensor HyperMultiple::alignment_loss(const AvcaForward& f) {
  const torch::Tensor c = curvatures(f.phi_v, f.phi_a);              // [B, K]
  const torch::Tensor c_neg = curvatures(f.phi_v_neg, f.phi_a_neg);  // [B, K]
  torch::Tensor l_align;
  for (int64_t k = 0; k < hyper_options_.num_curvature; ++k) {
    const torch::Tensor ck = c.narrow(1, k, 1), ck_neg = c_neg.narrow(1, k, 1);  // [B, 1]: one ball per video
    const torch::Tensor term = hyper_alignment(hyper_tangent(f.phi_v, ck), hyper_tangent(f.phi_a, ck)) +
                               hyper_alignment(hyper_tangent(f.phi_v_neg, ck_neg), hyper_tangent(f.phi_a_neg, ck_neg));
    l_align = l_align.defined() ? l_align + term : term;
  }
  return kHyperAlignWeight * (l_align / static_cast<double>(hyper_options_.num_curvature));
}

MethodLoss HyperMultiple::loss(const TrainingBatch& batch) {
  const AvcaForward f = forward_pass(batch);
  MethodLoss out = avca_losses(f);
  const torch::Tensor loss_align = alignment_loss(f);
  out.terms.push_back({"loss_align", loss_align});
  out.total = out.total + loss_align;
  return out;
}

std::vector<torch::Tensor> HyperMultiple::trainable_parameters() {
  std::vector<torch::Tensor> out = Avca::trainable_parameters();
  for (const auto& p : fusenet1->parameters()) out.push_back(p);
  return out;
}

MethodDefaults hyper_multiple_defaults(const std::string& family) {
  // hyper_avca.sh's cls lines repeat avca.sh's settings for every dataset.
  MethodDefaults d = avca_defaults(family);
  HyperMultipleOptions o;
  o.avca = avca_options_from_json(d.options);
  d.options = o;  // curvature 0.01 (every run script), num_curvature 2 (docs/methods/hyper_multiple.md)
  return d;
}

MethodSpec hyper_multiple_spec() {
  MethodSpec s;
  s.name = "hyper-multiple";
  s.summary = "Hyper-multiple (Hong et al., ICCV 2023): AVCA plus hyperbolic audio-visual alignment with multiple adaptive "
              "curvatures; visual and audio, full class text t";
  s.needs_visual_and_audio = true;
  s.defaults = hyper_multiple_defaults;
  s.make = [](const MethodDims& dims, const nlohmann::json& options) -> std::shared_ptr<Method> {
    return std::make_shared<HyperMultiple>(dims, hyper_multiple_options_from_json(options));
  };
  return s;
}

}  // namespace avgzsl::gzsl
