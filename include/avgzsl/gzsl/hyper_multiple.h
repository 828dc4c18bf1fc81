// Hyper-multiple: AVCA with the hyperbolic alignment loss of multiple adaptive curvatures, from
// "Hyperbolic Audio-visual Zero-shot Learning" (Hong, Hayder, Han, Fang, Harandi, Petersson;
// ICCV 2023), as github.com/JHome1/Hyper-AVZSL implements it (Hyper-AVZSL-online/
// src/model_improvements.py, class Hyper_AVCA with --hyper_framework Hyper-multiple).
//
// The model is AVCA (gzsl/avca.h) plus one module, registered after pos_emb1D as there:
//
//   fusenet1 : [phi_v | phi_a] [B, 2T] -> [B, num_curvature]   Linear(2T, num_curvature)
//
// Training adds loss_align = 1e-3 * mean over k of (A(v_k, a_k) + A(v_k^neg, a_k^neg)), where
// c = curvature * sigmoid(fusenet1([phi_v | phi_a])) gives each video its own K curvatures,
// x_k = logmap0(project(x, c[:, k]), c[:, k]) (nn/poincare_ball.h), and A(x, y) is the MSE between
// the cosine-similarity matrices of the rows of x and of y. Evaluation is AVCA's, unchanged:
// Euclidean distances between theta_v and theta_w. docs/methods/hyper_multiple.md has the details.
#pragma once

#include "avgzsl/gzsl/avca.h"

namespace avgzsl::gzsl {

struct HyperMultipleOptions {
  AvcaOptions avca;
  double curvature = 0.01;    // --curvature: the scale of sigmoid's output, so every c lies in (0, curvature)
  int64_t num_curvature = 2;  // --num_curvature: K, adaptive curvatures per video (1 = Hyper-single)
};
void to_json(nlohmann::json& j, const HyperMultipleOptions& o);
// AVCA's keys plus "curvature" and "num_curvature"; throws std::invalid_argument.
HyperMultipleOptions hyper_multiple_options_from_json(const nlohmann::json& j);

class HyperMultiple : public Avca {
 public:
  HyperMultiple(const MethodDims& dims, const HyperMultipleOptions& options);

  std::string method_name() const override { return "hyper-multiple"; }
  nlohmann::json options_json() const override;
  // AVCA's terms plus "loss_align" (already scaled by 1e-3), added last as in Hyper_AVCA.backward.
  MethodLoss loss(const TrainingBatch& batch) override;
  // AVCA's list plus fusenet1 (Hyper_AVCA's optimizer_gen for Hyper-single/-multiple).
  std::vector<torch::Tensor> trainable_parameters() override;

  // The curvatures of a batch: curvature * sigmoid(fusenet1([phi_v | phi_a])), [B, num_curvature].
  torch::Tensor curvatures(const torch::Tensor& phi_v, const torch::Tensor& phi_a);
  // loss_align for a forward pass (1e-3 included).
  torch::Tensor alignment_loss(const AvcaForward& f);

  torch::nn::Linear fusenet1{nullptr};

 private:
  HyperMultipleOptions hyper_options_;
};

// Hyper-AVZSL's run scripts (run_scripts/<dataset>-GZSL/hyper_avca.sh, cls_features lines) with
// --hyper_framework Hyper-multiple: AVCA's settings per dataset plus curvature and num_curvature.
MethodDefaults hyper_multiple_defaults(const std::string& family);
// The registry entry: name "hyper-multiple", both modalities, full class text t.
MethodSpec hyper_multiple_spec();

}  // namespace avgzsl::gzsl
