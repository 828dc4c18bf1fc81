#include "avgzsl/gzsl/avca.h"

#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include "avgzsl/nn/dropout.h"

#include <cmath>
#include <stdexcept>

#include "avgzsl/gzsl/avca_gzsl_defaults.h"

namespace avgzsl::gzsl {

namespace {

// One Linear-BatchNorm-ReLU-Dropout block; `momentum` < 0 keeps PyTorch's default 0.1.
void avca_append_block(torch::nn::Sequential& seq, int64_t in, int64_t out, double dropout, double momentum) {
  seq->push_back(torch::nn::Linear(in, out));
  torch::nn::BatchNorm1dOptions bn(out);
  if (momentum >= 0) bn.momentum(momentum);
  seq->push_back(torch::nn::BatchNorm1d(bn));
  seq->push_back(torch::nn::ReLU());
  seq->push_back(nn::Dropout(dropout));
}

torch::Tensor avca_triplet(const torch::Tensor& anchor, const torch::Tensor& positive, const torch::Tensor& negative) {
  // nn.TripletMarginLoss(margin=1.0): p 2, eps 1e-6, no swap, mean over the batch.
  namespace F = torch::nn::functional;
  return F::triplet_margin_loss(anchor, positive, negative, F::TripletMarginLossFuncOptions().margin(kAvcaTripletMargin));
}

template <typename T>
T avca_required(const nlohmann::json& j, const char* key) {
  if (!j.contains(key)) throw std::invalid_argument(std::string("AVCA options: missing key '") + key + "'");
  return j.at(key).get<T>();
}

}  // namespace

void to_json(nlohmann::json& j, const AvcaOptions& o) {
  j = {{"embeddings_hidden_size", o.embeddings_hidden_size},
       {"decoder_hidden_size", o.decoder_hidden_size},
       {"embedding_dropout", o.embedding_dropout},
       {"decoder_dropout", o.decoder_dropout},
       {"additional_dropout", o.additional_dropout},
       {"depth_transformer", o.depth_transformer},
       {"additional_triplets_loss", o.additional_triplets_loss},
       {"first_additional_triplet", o.first_additional_triplet},
       {"second_additional_triplet", o.second_additional_triplet},
       {"reg_loss", o.reg_loss},
       {"momentum", o.momentum}};
}

AvcaOptions avca_options_from_json(const nlohmann::json& j) {
  AvcaOptions o;
  o.embeddings_hidden_size = avca_required<int64_t>(j, "embeddings_hidden_size");
  o.decoder_hidden_size = avca_required<int64_t>(j, "decoder_hidden_size");
  o.embedding_dropout = avca_required<double>(j, "embedding_dropout");
  o.decoder_dropout = avca_required<double>(j, "decoder_dropout");
  o.additional_dropout = avca_required<double>(j, "additional_dropout");
  o.depth_transformer = avca_required<int64_t>(j, "depth_transformer");
  o.additional_triplets_loss = avca_required<bool>(j, "additional_triplets_loss");
  o.first_additional_triplet = avca_required<int64_t>(j, "first_additional_triplet");
  o.second_additional_triplet = avca_required<int64_t>(j, "second_additional_triplet");
  o.reg_loss = avca_required<bool>(j, "reg_loss");
  o.momentum = avca_required<double>(j, "momentum");
  if (o.embeddings_hidden_size < 0 || o.decoder_hidden_size < 0 || o.depth_transformer < 1) {
    throw std::invalid_argument("AVCA options: expected hidden sizes >= 0 and depth_transformer >= 1, got " + j.dump());
  }
  for (double p : {o.embedding_dropout, o.decoder_dropout, o.additional_dropout, o.momentum}) {
    if (!(p >= 0 && p <= 1)) throw std::invalid_argument("AVCA options: dropouts and momentum must lie in [0, 1], got " + j.dump());
  }
  return o;
}

// ---- building blocks ----

AvcaEmbeddingNetImpl::AvcaEmbeddingNetImpl(int64_t in, int64_t hidden, int64_t out, double dropout, double momentum) {
  // get_model_params turns a hidden size of 0 into None, which EmbeddingNet reads as "one block".
  if (hidden > 0) {
    avca_append_block(fc_, in, hidden, dropout, /*momentum=*/-1);
    avca_append_block(fc_, hidden, out, dropout, momentum);
  } else {
    avca_append_block(fc_, in, out, dropout, /*momentum=*/-1);
  }
  register_module("fc", fc_);
}

torch::Tensor AvcaEmbeddingNetImpl::forward(const torch::Tensor& x) { return fc_->forward(x); }

AvcaAttentionImpl::AvcaAttentionImpl(int64_t dim, int64_t heads, int64_t dim_head, double dropout)
    : heads_(heads), scale_(std::pow(static_cast<double>(dim_head), -0.5)) {
  const int64_t inner = heads * dim_head;
  to_qkv_ = register_module("to_qkv", torch::nn::Linear(torch::nn::LinearOptions(dim, inner * 3).bias(false)));
  // With AVCA's 3 heads project_out is always true: to_out maps the 300-wide heads back to dim.
  const bool project_out = !(heads == 1 && dim_head == dim);
  to_out_ = torch::nn::Sequential();
  if (project_out) {
    to_out_->push_back(torch::nn::Linear(inner, dim));
    to_out_->push_back(nn::Dropout(dropout));
  }
  register_module("to_out", to_out_);
}

torch::Tensor AvcaAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t b = x.size(0), n = x.size(1);
  const auto qkv = to_qkv_->forward(x).chunk(3, /*dim=*/-1);  // 3 x [B, n, heads * dim_head]
  // rearrange 'b n (h d) -> b h n d'
  auto heads = [&](const torch::Tensor& t) { return t.reshape({b, n, heads_, -1}).permute({0, 2, 1, 3}); };
  const torch::Tensor q = heads(qkv[0]), k = heads(qkv[1]), v = heads(qkv[2]);
  const torch::Tensor attn = torch::softmax(torch::matmul(q, k.transpose(-1, -2)) * scale_, /*dim=*/-1);
  const torch::Tensor out = torch::matmul(attn, v).permute({0, 2, 1, 3}).reshape({b, n, -1});  // [B, n, inner]
  return to_out_->is_empty() ? out : to_out_->forward(out);
}

AvcaFeedForwardImpl::AvcaFeedForwardImpl(int64_t dim, int64_t hidden, double dropout) {
  net_->push_back(torch::nn::Linear(dim, hidden));
  net_->push_back(torch::nn::GELU());
  net_->push_back(nn::Dropout(dropout));
  net_->push_back(torch::nn::Linear(hidden, dim));
  net_->push_back(nn::Dropout(dropout));
  register_module("net", net_);
}

torch::Tensor AvcaFeedForwardImpl::forward(const torch::Tensor& x) { return net_->forward(x); }

AvcaTransformerImpl::AvcaTransformerImpl(int64_t dim, int64_t depth, int64_t heads, int64_t dim_head, int64_t mlp_dim,
                                         double dropout) {
  for (int64_t i = 0; i < depth; ++i) {
    auto attn = std::make_shared<AvcaPreNormImpl<AvcaAttention>>(dim, AvcaAttention(dim, heads, dim_head, dropout));
    auto ff = std::make_shared<AvcaPreNormImpl<AvcaFeedForward>>(dim, AvcaFeedForward(dim, mlp_dim, dropout));
    torch::nn::ModuleList layer;
    layer->push_back(attn);
    layer->push_back(ff);
    layers_->push_back(layer);
    attention_.push_back(attn);
    feed_forward_.push_back(ff);
  }
  register_module("layers", layers_);
}

torch::Tensor AvcaTransformerImpl::forward(torch::Tensor x) {
  for (size_t i = 0; i < attention_.size(); ++i) {
    x = attention_[i]->forward(x) + x;
    x = feed_forward_[i]->forward(x) + x;
  }
  return x;
}

// ---- the model ----

Avca::Avca(const MethodDims& dims, const AvcaOptions& o) : dims_(dims), options_(o) {
  if (dims.visual <= 0 || dims.audio <= 0 || dims.text <= 0) {
    throw std::invalid_argument("AVCA needs visual and audio features and class text (one branch per modality), got visual " +
                                std::to_string(dims.visual) + ", audio " + std::to_string(dims.audio) + ", text " +
                                std::to_string(dims.text));
  }
  const int64_t t = dims.text;  // every 300 of the original (its word2vec width)
  // Registration order is AVCA.__init__'s: it fixes the order of random initialisation.
  A_enc = register_module("A_enc", AvcaEmbeddingNet(dims.audio, o.embeddings_hidden_size, t, o.embedding_dropout, o.momentum));
  V_enc = register_module("V_enc", AvcaEmbeddingNet(dims.visual, o.embeddings_hidden_size, t, o.embedding_dropout, o.momentum));
  cross_attention = register_module(
      "cross_attention", AvcaTransformer(t, o.depth_transformer, kAvcaHeads, kAvcaDimHead, kAvcaMlpDim, o.embedding_dropout));
  W_proj = register_module("W_proj", AvcaEmbeddingNet(t, 0, kAvcaEmbeddingDim, o.additional_dropout, o.momentum));
  D = register_module("D", AvcaEmbeddingNet(kAvcaEmbeddingDim, 0, t, o.additional_dropout, o.momentum));
  A_proj = register_module("A_proj", AvcaEmbeddingNet(t, o.decoder_hidden_size, kAvcaEmbeddingDim, o.decoder_dropout, o.momentum));
  V_proj = register_module("V_proj", AvcaEmbeddingNet(t, o.decoder_hidden_size, kAvcaEmbeddingDim, o.decoder_dropout, o.momentum));
  A_rec = register_module("A_rec", AvcaEmbeddingNet(kAvcaEmbeddingDim, 0, t, o.additional_dropout, o.momentum));
  V_rec = register_module("V_rec", AvcaEmbeddingNet(kAvcaEmbeddingDim, 0, t, o.additional_dropout, o.momentum));
  pos_emb1D = register_parameter("pos_emb1D", torch::randn({2, t}));
}

nlohmann::json Avca::options_json() const { return options_; }

std::pair<torch::Tensor, torch::Tensor> Avca::split_inputs(const torch::Tensor& x, const char* what) const {
  TORCH_CHECK(x.dim() == 2 && x.size(1) == dims_.input(), "Expected ", what, " [N, ", dims_.input(), "] (visual ",
              dims_.visual, " + audio ", dims_.audio, "), but got ", x.sizes());
  return {x.narrow(1, dims_.visual, dims_.audio), x.narrow(1, 0, dims_.visual)};
}

void Avca::check_text(const torch::Tensor& t, const char* what) const {
  TORCH_CHECK(t.dim() == 2 && t.size(1) == dims_.text, "Expected ", what, " [N, ", dims_.text, "], but got ", t.sizes());
}

torch::Tensor Avca::attention_input(const torch::Tensor& phi_a, const torch::Tensor& phi_v) const {
  return torch::stack({phi_a + pos_emb1D[0], phi_v + pos_emb1D[1]}, /*dim=*/1);
}

AvcaForward Avca::forward_pass(const TrainingBatch& batch) {
  const auto [audio, video] = split_inputs(batch.inputs, "inputs");
  const auto [negative_audio, negative_video] = split_inputs(batch.negative_inputs, "negative_inputs");
  check_text(batch.text, "text");
  check_text(batch.negative_text, "negative_text");
  // The call order of AVCA.forward: in train mode each call moves a BatchNorm's running statistics,
  // so D runs six times and A_proj/V_proj three times, exactly as there.
  AvcaForward f;
  f.phi_a = A_enc->forward(audio);
  f.phi_v = V_enc->forward(video);
  f.phi_a_neg = A_enc->forward(negative_audio);
  f.phi_v_neg = V_enc->forward(negative_video);
  f.w = batch.text;
  f.theta_w = W_proj->forward(batch.text);
  f.theta_w_neg = W_proj->forward(batch.negative_text);
  f.rho_w = D->forward(f.theta_w);
  f.rho_w_neg = D->forward(f.theta_w_neg);  // unused by the loss; kept for D's statistics
  const torch::Tensor attn = cross_attention->forward(attention_input(f.phi_a, f.phi_v));              // [B, 2, T]
  const torch::Tensor attn_neg = cross_attention->forward(attention_input(f.phi_a_neg, f.phi_v_neg));  // [B, 2, T]
  const torch::Tensor audio_fe = f.phi_a + attn.select(1, 0);
  const torch::Tensor video_fe = f.phi_v + attn.select(1, 1);
  const torch::Tensor audio_fe_neg = f.phi_a_neg + attn_neg.select(1, 0);
  const torch::Tensor video_fe_neg = f.phi_v_neg + attn_neg.select(1, 1);
  f.theta_v = V_proj->forward(video_fe);
  f.theta_v_neg = V_proj->forward(video_fe_neg);
  f.theta_a = A_proj->forward(audio_fe);
  f.theta_a_neg = A_proj->forward(audio_fe_neg);
  f.phi_v_rec = V_rec->forward(f.theta_v);
  f.phi_a_rec = A_rec->forward(f.theta_a);
  // se_em_hat1/2 of the original: never used by a loss, but they run A_proj/V_proj once more.
  A_proj->forward(f.phi_a_rec);
  V_proj->forward(f.phi_v_rec);
  f.rho_a = D->forward(f.theta_a);
  f.rho_a_neg = D->forward(f.theta_a_neg);
  f.rho_v = D->forward(f.theta_v);
  f.rho_v_neg = D->forward(f.theta_v_neg);
  return f;
}

MethodLoss Avca::avca_losses(const AvcaForward& f) const {
  const auto mse = [](const torch::Tensor& a, const torch::Tensor& b) { return torch::mse_loss(a, b); };
  MethodLoss out;
  const torch::Tensor l_rec = mse(f.w, f.rho_v) + mse(f.w, f.rho_a) + mse(f.w, f.rho_w);
  const torch::Tensor l_ct = avca_triplet(f.rho_w, f.rho_a, f.rho_a_neg) + avca_triplet(f.rho_w, f.rho_v, f.rho_v_neg);
  const torch::Tensor l_w = avca_triplet(f.theta_w, f.theta_a, f.theta_a_neg) + avca_triplet(f.theta_a, f.theta_w, f.theta_w_neg) +
                            avca_triplet(f.theta_w, f.theta_v, f.theta_v_neg) + avca_triplet(f.theta_v, f.theta_w, f.theta_w_neg);
  out.terms = {{"l_rec", l_rec}, {"l_ct", l_ct}, {"l_w", l_w}};
  out.total = l_rec + l_ct + l_w;
  if (options_.additional_triplets_loss) {
    const torch::Tensor first = static_cast<double>(options_.first_additional_triplet) *
                                (avca_triplet(f.theta_a, f.theta_w, f.theta_a_neg) + avca_triplet(f.theta_v, f.theta_w, f.theta_v_neg));
    const torch::Tensor second = static_cast<double>(options_.second_additional_triplet) *
                                 (avca_triplet(f.theta_w, f.theta_a, f.theta_w_neg) + avca_triplet(f.theta_w, f.theta_v, f.theta_w_neg));
    const torch::Tensor l_t = first + second;
    out.terms.push_back({"l_t", l_t});
    out.total = out.total + l_t;
  }
  if (options_.reg_loss) {
    const torch::Tensor l_r = mse(f.phi_v_rec, f.phi_v) + mse(f.phi_a_rec, f.phi_a) + mse(f.theta_v, f.theta_w) +
                              mse(f.theta_a, f.theta_w);
    out.terms.push_back({"l_r", l_r});
    out.total = out.total + l_r;
  }
  return out;
}

MethodLoss Avca::loss(const TrainingBatch& batch) { return avca_losses(forward_pass(batch)); }

AvcaEmbeddings Avca::embeddings(const torch::Tensor& x, const torch::Tensor& class_text) {
  const auto [audio, video] = split_inputs(x, "inputs");
  check_text(class_text, "class texts");
  AvcaEmbeddings e;
  torch::Tensor phi_a = A_enc->forward(audio);
  torch::Tensor phi_v = V_enc->forward(video);
  e.theta_w = W_proj->forward(class_text);
  const torch::Tensor attn = cross_attention->forward(attention_input(phi_a, phi_v));
  e.theta_v = V_proj->forward(phi_v + attn.select(1, 1));
  e.theta_a = A_proj->forward(phi_a + attn.select(1, 0));
  return e;
}

void Avca::after_step(const TrainingBatch& batch) {
  torch::NoGradGuard no_grad;  // the original builds a graph it never uses; the statistics are what counts
  embeddings(batch.inputs, batch.text);
}

torch::Tensor Avca::distances(const torch::Tensor& inputs, const torch::Tensor& class_text) {
  const AvcaEmbeddings e = embeddings(inputs, class_text);
  return torch::cdist(e.theta_v, e.theta_w);  // theta_a is computed by get_embeddings but never used
}

std::optional<JointEmbeddings> Avca::joint_embeddings(const torch::Tensor& inputs, const torch::Tensor& class_text) {
  const AvcaEmbeddings e = embeddings(inputs, class_text);
  return JointEmbeddings{e.theta_v, e.theta_w};
}

std::vector<torch::Tensor> Avca::trainable_parameters() {
  std::vector<torch::Tensor> out;
  for (const torch::nn::Module* m : std::initializer_list<const torch::nn::Module*>{
           A_proj.get(), V_proj.get(), A_rec.get(), V_rec.get(), V_enc.get(), A_enc.get(), cross_attention.get(), D.get(),
           W_proj.get()}) {
    for (const auto& p : m->parameters()) out.push_back(p);
  }
  return out;
}

// ---- registry entry ----

namespace {

AvcaOptions avca_run_script_options(const std::string& family) {
  // The cls_features lines of run_scripts/<dataset>-GZSL/avca.sh; all share hidden sizes 512,
  // depth 1, both additional triplet pairs, reg_loss and --momentum 0.99.
  AvcaOptions o;
  if (family == "ucf") {
    o.embedding_dropout = 0.2, o.decoder_dropout = 0.3, o.additional_dropout = 0.5;
  } else if (family == "activitynet") {
    o.embedding_dropout = 0.2, o.decoder_dropout = 0.2, o.additional_dropout = 0.1;
  } else if (family == "vggsound") {
    o.embedding_dropout = 0.0, o.decoder_dropout = 0.0, o.additional_dropout = 0.0;
  } else {
    throw std::invalid_argument("AVCA: unknown dataset family '" + family + "' (expected ucf, activitynet or vggsound)");
  }
  return o;
}

}  // namespace

MethodDefaults avca_defaults(const std::string& family) {
  // avca.sh's cls lines: the shared training settings (avca_run_script_options refuses an unknown
  // family first, naming AVCA).
  MethodDefaults d = avca_gzsl_run_script_defaults("AVCA", family, avca_run_script_options(family));
  d.weight_decay = 1e-5;  // optimizer_gen = Adam(..., weight_decay=1e-5)
  return d;
}

MethodSpec avca_spec() {
  MethodSpec s;
  s.name = "avca";
  s.summary = "AVCA (Mercea et al., CVPR 2022): cross-modal attention over visual and audio, full class text t";
  s.needs_visual_and_audio = true;
  s.defaults = avca_defaults;
  s.make = [](const MethodDims& dims, const nlohmann::json& options) -> std::shared_ptr<Method> {
    return std::make_shared<Avca>(dims, avca_options_from_json(options));
  };
  return s;
}

}  // namespace avgzsl::gzsl
