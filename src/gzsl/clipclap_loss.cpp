#include "avgzsl/gzsl/clipclap_loss.h"

#include <torch/nn/functional/loss.h>

namespace avgzsl::gzsl {

namespace F = torch::nn::functional;

LossTerms clipclap_loss(ClipClapImpl& model, const ClipClapOutputs& out, const torch::Tensor& class_text,
                        const torch::Tensor& target_index, const LossSwitches& switches,
                        const torch::Tensor& class_embeddings_given) {
  const auto zero = torch::zeros({}, out.theta_o.options());
  LossTerms terms;
  if (switches.cross_entropy) {
    const torch::Tensor class_embeddings =
        class_embeddings_given.defined() ? class_embeddings_given : model.embed_classes(class_text);   // [K, embedding]
    const torch::Tensor scores = out.theta_o.matmul(class_embeddings.t());     // [B, K]
    terms.cross_entropy = F::cross_entropy(scores, target_index);
  } else {
    terms.cross_entropy = zero;
  }
  terms.regression = switches.regression ? F::mse_loss(out.theta_o, out.theta_w) : zero;
  terms.reconstruction = switches.reconstruction ? F::mse_loss(out.rho_o, out.w) + F::mse_loss(out.rho_w, out.w) : zero;
  // Same summation order as the reference (rec + reg + ce) so that float sums agree.
  terms.total = terms.reconstruction + terms.regression + terms.cross_entropy;
  return terms;
}

}  // namespace avgzsl::gzsl
