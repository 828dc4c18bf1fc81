#include "avgzsl/encoders/pretrained_weights.h"
#include "avgzsl/util/text.h"

#include <torch/torch.h>

#include <map>
#include <optional>
#include <set>
#include <stdexcept>

#include "avgzsl/io/safetensors.h"
#include "avgzsl/io/torch_archive.h"

namespace avgzsl::encoders {
namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const fs::path& path, const std::string& problem) {
  throw std::runtime_error(path.string() + ": " + problem);
}

std::string shape_text(at::IntArrayRef shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

bool is_supported_float(torch::ScalarType t) {
  return t == torch::kFloat32 || t == torch::kFloat16 || t == torch::kBFloat16;
}

}  // namespace

struct PretrainedWeights::Impl {
  fs::path path;
  std::optional<io::SafetensorsFile> safetensors;
  std::map<std::string, torch::Tensor> archive_tensors;  // torch.save archives are read whole
};

PretrainedWeights::PretrainedWeights(const fs::path& path) : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  if (!fs::is_regular_file(path)) fail(path, "no such weights file");
  if (path.extension() == ".safetensors") {
    impl_->safetensors.emplace(path);
    return;
  }
  const io::TorchArchive archive(path);
  // Released checkpoints wrap the state_dict: LAION CLAP {"state_dict": ...}, WavCaps {"model": ...}.
  for (auto& [name, tensor] : archive.state_dict({"state_dict", "model"})) {
    impl_->archive_tensors.emplace(std::move(name), std::move(tensor));
  }
  if (impl_->archive_tensors.empty()) fail(path, "the state_dict holds no tensors");
}

PretrainedWeights::~PretrainedWeights() = default;
PretrainedWeights::PretrainedWeights(PretrainedWeights&&) noexcept = default;
PretrainedWeights& PretrainedWeights::operator=(PretrainedWeights&&) noexcept = default;

const fs::path& PretrainedWeights::path() const { return impl_->path; }

std::vector<std::string> PretrainedWeights::names() const {
  if (impl_->safetensors) return impl_->safetensors->names();
  std::vector<std::string> out;
  for (const auto& [name, tensor] : impl_->archive_tensors) out.push_back(name);
  return out;
}

bool PretrainedWeights::contains(const std::string& name) const {
  return impl_->safetensors ? impl_->safetensors->contains(name) : impl_->archive_tensors.count(name) != 0;
}

torch::Tensor PretrainedWeights::float_tensor(const std::string& name) const {
  if (!contains(name)) fail(impl_->path, "missing tensor '" + name + "'");
  const torch::Tensor raw =
      impl_->safetensors ? impl_->safetensors->tensor(name) : impl_->archive_tensors.at(name);
  if (!is_supported_float(raw.scalar_type())) {
    fail(impl_->path, "tensor '" + name + "' has dtype " + std::string(c10::toString(raw.scalar_type())) +
                          ", expected float32, float16 or bfloat16");
  }
  torch::Tensor value = raw.to(torch::kFloat32);
  // A NaN or infinite weight makes every output NaN downstream: say where it is instead.
  const int64_t bad = value.numel() - torch::isfinite(value).sum().item<int64_t>();
  if (bad > 0) {
    fail(impl_->path, "tensor '" + name + "' holds " + std::to_string(bad) + " NaN or infinite values of " +
                          std::to_string(value.numel()) + " (a corrupt or diverged checkpoint)");
  }
  return value;
}

std::vector<int64_t> PretrainedWeights::shape(const std::string& name) const {
  if (!contains(name)) fail(impl_->path, "missing tensor '" + name + "'");
  if (impl_->safetensors) return impl_->safetensors->entry(name).shape;
  return impl_->archive_tensors.at(name).sizes().vec();
}

void PretrainedWeights::load_mapped(torch::nn::Module& module, const SourceOf& source_of,
                                    const IsIgnorable& is_ignorable) const {
  std::set<std::string> used;
  std::map<std::string, torch::Tensor> cache;  // a fused tensor is read once for its parts
  torch::NoGradGuard no_grad;
  auto copy = [&](const std::string& name, torch::Tensor& target) {
    const std::optional<Source> source = source_of(name);
    if (!source) return;  // computed by the module
    const std::string& key = source->name;
    used.insert(key);
    if (!contains(key)) fail(impl_->path, "missing tensor '" + key + "' (for " + name + ")");
    torch::Tensor whole;
    if (source->parts == 1) {
      whole = float_tensor(key);
    } else {
      auto it = cache.find(key);
      if (it == cache.end()) it = cache.emplace(key, float_tensor(key)).first;
      whole = it->second;
    }
    torch::Tensor value = whole;
    std::string what = "tensor '" + key + "'";
    if (source->parts > 1) {
      if (whole.dim() == 0 || whole.size(0) % source->parts != 0) {
        fail(impl_->path, what + " has shape " + shape_text(whole.sizes()) + ", which does not split into " +
                              std::to_string(source->parts) + " equal parts along dim 0");
      }
      const int64_t rows = whole.size(0) / source->parts;
      value = whole.narrow(0, source->part * rows, rows);
      what += " (part " + std::to_string(source->part + 1) + " of " + std::to_string(source->parts) + ", for " + name + ")";
      if (value.sizes() != target.sizes()) {
        fail(impl_->path, "tensor '" + key + "' has shape " + shape_text(whole.sizes()) + ", the configuration needs " +
                              std::to_string(source->parts) + " x " + shape_text(target.sizes()) + " (" + name + ")");
      }
    } else if (value.sizes() != target.sizes()) {
      fail(impl_->path, what + " has shape " + shape_text(value.sizes()) + ", the configuration needs " +
                            shape_text(target.sizes()));
    }
    target.copy_(value);
  };
  for (auto& item : module.named_parameters(/*recurse=*/true)) copy(item.key(), item.value());
  for (auto& item : module.named_buffers(/*recurse=*/true)) copy(item.key(), item.value());
  for (const std::string& name : names()) {
    if (used.count(name) || is_ignorable(name)) continue;
    fail(impl_->path, "unexpected tensor '" + name + "' (not part of the configured model)");
  }
}

void PretrainedWeights::load_into(torch::nn::Module& module, const std::string& prefix,
                                  const std::vector<std::string>& ignorable_suffixes) const {
  std::set<std::string> expected;
  torch::NoGradGuard no_grad;
  auto copy = [&](const std::string& name, torch::Tensor& target) {
    const std::string key = prefix + name;
    expected.insert(key);
    if (!contains(key)) fail(impl_->path, "missing tensor '" + key + "'");
    const torch::Tensor source = float_tensor(key);
    if (source.sizes() != target.sizes()) {
      fail(impl_->path, "tensor '" + key + "' has shape " + shape_text(source.sizes()) + ", the configuration needs " +
                            shape_text(target.sizes()));
    }
    target.copy_(source);
  };
  for (auto& item : module.named_parameters(/*recurse=*/true)) copy(item.key(), item.value());
  for (auto& item : module.named_buffers(/*recurse=*/true)) copy(item.key(), item.value());
  for (const std::string& name : names()) {
    if (name.rfind(prefix, 0) != 0 || expected.count(name)) continue;
    bool ignorable = false;
    for (const std::string& suffix : ignorable_suffixes) ignorable = ignorable || util::ends_with(name, suffix);
    if (!ignorable) fail(impl_->path, "unexpected tensor '" + name + "' (not part of the configured model)");
  }
}

}  // namespace avgzsl::encoders
