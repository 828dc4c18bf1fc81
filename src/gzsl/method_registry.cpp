#include "avgzsl/gzsl/method_registry.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "avgzsl/gzsl/avca.h"
#include "avgzsl/gzsl/avgzslnet.h"
#include "avgzsl/gzsl/bilinear_compatibility.h"
#include "avgzsl/gzsl/cjme.h"
#include "avgzsl/gzsl/clipclap.h"
#include "avgzsl/gzsl/hyper_multiple.h"

namespace avgzsl::gzsl {

namespace {

std::string lowercase(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// METHOD §5. ClipClap's hyper-parameters are the train command's own options (--hidden-dim,
// --embedding-dim, --dropout, --losses), so it has no --set options.
MethodSpec clipclap_spec() {
  MethodSpec spec;
  spec.name = "clipclap";
  spec.summary = "ClipClap-GZSL (Kurzendörfer et al., CVPRW 2024): x = [v | a] as one input, t = [t_clip | t_clap]";
  spec.defaults = [](const std::string& family) {
    MethodDefaults d;
    const bool large = family != "ucf";
    d.epochs = large ? 15 : 20;
    d.lr = large ? 1e-4 : 7e-5;
    d.batch_size = 64;
    d.batches_per_epoch = 300;
    d.weight_decay = 1e-5;
    return d;
  };
  spec.make = [](const MethodDims& dims, const nlohmann::json& options) -> std::shared_ptr<Method> {
    nlohmann::json full = ClipClapOptions{};
    full.update(options);
    full["input_dim"] = dims.input();
    full["text_dim"] = dims.text;
    return std::make_shared<ClipClapImpl>(full.get<ClipClapOptions>(), dims);
  };
  return spec;
}

std::string known_names() {
  std::string out;
  for (const auto& spec : all_methods()) out += (out.empty() ? "" : ", ") + spec.name;
  return out;
}

const char* json_kind(const nlohmann::json& v) {
  if (v.is_boolean()) return "a boolean";
  if (v.is_number_integer()) return "an integer";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  return "a JSON value";
}

}  // namespace

std::string dataset_family(const std::string& dataset_name) {
  const std::string name = lowercase(dataset_name);
  if (name.find("activitynet") != std::string::npos) return "activitynet";
  if (name.find("vggsound") != std::string::npos) return "vggsound";
  return "ucf";
}

const std::vector<MethodSpec>& all_methods() {
  // The paper's table order: ClipClap, then the audio-visual baselines, then the bilinear ones.
  static const std::vector<MethodSpec> methods = {clipclap_spec(), cjme_spec(), avgzslnet_spec(), avca_spec(),
                                                  hyper_multiple_spec(), ale_spec(), sje_spec(), devise_spec()};
  return methods;
}

const MethodSpec& method_spec(const std::string& name) {
  for (const auto& spec : all_methods()) {
    if (spec.name == name) return spec;
  }
  throw std::invalid_argument("unknown method '" + name + "' (expected one of " + known_names() + ")");
}

nlohmann::json merge_method_options(const MethodSpec& spec, const nlohmann::json& defaults, const nlohmann::json& overrides) {
  nlohmann::json merged = defaults.is_null() ? nlohmann::json::object() : defaults;
  if (overrides.is_null() || overrides.empty()) return merged;
  if (!overrides.is_object()) throw std::invalid_argument("method options must be a JSON object");
  std::string accepted;
  for (const auto& [key, value] : merged.items()) accepted += (accepted.empty() ? "" : ", ") + key;
  for (const auto& [key, value] : overrides.items()) {
    if (!merged.contains(key)) {
      throw std::invalid_argument("method " + spec.name + " has no option '" + key + "' (" +
                                  (accepted.empty() ? std::string("it has none") : "its options: " + accepted) + ")");
    }
    const nlohmann::json& current = merged.at(key);
    const bool same_kind = (current.is_boolean() && value.is_boolean()) || (current.is_string() && value.is_string()) ||
                           (current.is_number_integer() && value.is_number_integer()) ||
                           (current.is_number_float() && value.is_number());
    if (!same_kind) {
      throw std::invalid_argument("method " + spec.name + " option '" + key + "' must be " + json_kind(current) +
                                  ", got " + value.dump());
    }
    merged[key] = current.is_number_float() ? nlohmann::json(value.get<double>()) : value;
  }
  return merged;
}

}  // namespace avgzsl::gzsl
