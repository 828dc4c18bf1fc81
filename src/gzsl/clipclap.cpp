#include "avgzsl/gzsl/clipclap.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "avgzsl/gzsl/clipclap_loss.h"
#include "avgzsl/util/option_error.h"

namespace avgzsl::gzsl {

void to_json(nlohmann::json& j, const ClipClapOptions& o) {
  j = {{"input_dim", o.input_dim},
       {"text_dim", o.text_dim},
       {"hidden_dim", o.hidden_dim},
       {"embedding_dim", o.embedding_dim},
       {"encoder_dropout", o.encoder_dropout},
       {"video_proj_dropout", o.video_proj_dropout},
       {"class_proj_dropout", o.class_proj_dropout},
       {"losses", to_string(o.losses)}};
}

void from_json(const nlohmann::json& j, ClipClapOptions& o) {
  j.at("input_dim").get_to(o.input_dim);
  j.at("text_dim").get_to(o.text_dim);
  j.at("hidden_dim").get_to(o.hidden_dim);
  j.at("embedding_dim").get_to(o.embedding_dim);
  j.at("encoder_dropout").get_to(o.encoder_dropout);
  j.at("video_proj_dropout").get_to(o.video_proj_dropout);
  j.at("class_proj_dropout").get_to(o.class_proj_dropout);
  if (j.contains("losses")) o.losses = parse_losses(j.at("losses").get<std::string>());
}

ClipClapImpl::ClipClapImpl(const ClipClapOptions& o, const MethodDims& dims)
    : options_(o), dims_(dims.input() > 0 ? dims : MethodDims{o.input_dim, 0, o.text_dim}) {
  TORCH_CHECK(dims_.input() == o.input_dim && dims_.text == o.text_dim, "Expected dims matching input_dim ", o.input_dim,
              " and text_dim ", o.text_dim);
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
  const torch::Tensor o = O_enc->forward(x);   // [B, hidden]
  return forward_encoded(o, W_enc->forward(t));
}

ClipClapOutputs ClipClapImpl::forward_encoded(const torch::Tensor& o, const torch::Tensor& w) {
  ClipClapOutputs out;
  out.w = w;                                   // [B, hidden]
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

nlohmann::json ClipClapImpl::options_json() const { return options_; }

namespace {

// W_enc(t) for a batch whose texts are rows of the class texts: W_enc's first Linear (the largest
// product of the text side) over the K classes once, then the batch's rows of it through the
// rest (BatchNorm over the B rows, as before). Same values up to float rounding.
torch::Tensor encode_text_rows(nn::EmbeddingNet& W_enc, const torch::Tensor& class_linear, const torch::Tensor& rows) {
  return W_enc->after_first_linear(class_linear.index_select(0, rows));
}

}  // namespace

MethodLoss ClipClapImpl::loss(const TrainingBatch& batch) {
  ClipClapOutputs out;
  torch::Tensor class_embeddings;
  if (batch.text_rows.defined()) {
    // The reference encodes the B batch texts and, for the cross-entropy, the K class texts:
    // K + B rows through W_enc's first Linear. Here K, shared; module calls in the reference's
    // order, so that BatchNorm statistics and dropout draws follow it.
    const torch::Tensor class_linear = W_enc->first_linear(batch.class_text);   // [K, hidden]
    const torch::Tensor o = O_enc->forward(batch.inputs);
    out = forward_encoded(o, encode_text_rows(W_enc, class_linear, batch.text_rows));
    if (options_.losses.cross_entropy) class_embeddings = W_proj->forward(W_enc->after_first_linear(class_linear));
  } else {
    out = forward(batch.inputs, batch.text);
  }
  LossTerms terms = clipclap_loss(*this, out, batch.class_text, batch.target, options_.losses, class_embeddings);
  return {terms.total,
          {{"ce", terms.cross_entropy}, {"reg", terms.regression}, {"rec", terms.reconstruction}}};
}

void ClipClapImpl::after_step(const TrainingBatch& batch) {
  // The reference's train_step calls get_embeddings in training mode after every step (O_enc,
  // W_enc, O_proj, W_proj); that moves the BatchNorm running statistics and draws dropout masks.
  // Repeat it so that our models match the reference's.
  torch::NoGradGuard no_grad;
  const torch::Tensor o = O_enc->forward(batch.inputs);
  const torch::Tensor w = batch.text_rows.defined()
                              ? encode_text_rows(W_enc, W_enc->first_linear(batch.class_text), batch.text_rows)
                              : W_enc->forward(batch.text);
  O_proj->forward(o);
  W_proj->forward(w);
}

torch::Tensor ClipClapImpl::distances(const torch::Tensor& inputs, const torch::Tensor& class_text) {
  return torch::cdist(embed_videos(inputs), embed_classes(class_text));
}

std::optional<JointEmbeddings> ClipClapImpl::joint_embeddings(const torch::Tensor& inputs, const torch::Tensor& class_text) {
  return JointEmbeddings{embed_videos(inputs), embed_classes(class_text)};
}

LossSwitches parse_losses(const std::string& text) {
  LossSwitches s{false, false, false};
  std::stringstream in(text);
  std::string item;
  bool any = false;
  while (std::getline(in, item, ',')) {
    item.erase(std::remove_if(item.begin(), item.end(), [](unsigned char c) { return std::isspace(c); }), item.end());
    if (item == "ce") s.cross_entropy = true;
    else if (item == "reg") s.regression = true;
    else if (item == "rec") s.reconstruction = true;
    else throw std::invalid_argument("unknown loss '" + item + "' in --losses (expected a subset of ce,reg,rec)");
    any = true;
  }
  if (!any) throw util::OptionError("losses", "the loss list", " must name at least one of ce, reg, rec");
  return s;
}

std::string to_string(const LossSwitches& losses) {
  std::string out;
  auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (!out.empty()) out += ",";
    out += name;
  };
  add(losses.cross_entropy, "ce");
  add(losses.regression, "reg");
  add(losses.reconstruction, "rec");
  return out;
}

}  // namespace avgzsl::gzsl
