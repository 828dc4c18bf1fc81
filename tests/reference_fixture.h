// One reader for the safetensors fixtures that tests/fixtures/make_*_fixtures.py write: the values
// PyTorch computed, looked up by name and compared with what the port computes.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "avgzsl/io/safetensors.h"
#include "test_support.h"

namespace avgzsl::testing {

class ReferenceFixture {
 public:
  // `file_name` under testing::fixture_dir().
  explicit ReferenceFixture(const std::string& file_name)
      : file_(std::make_unique<io::SafetensorsFile>(fixture_dir() / file_name)) {}

  torch::Tensor get(const std::string& name) const { return file_->tensor(name); }
  bool contains(const std::string& name) const { return file_->contains(name); }
  std::vector<std::string> names() const { return file_->names(); }

  // Every tensor named "<prefix><name>", as (name, tensor).
  std::vector<std::pair<std::string, torch::Tensor>> with_prefix(const std::string& prefix) const {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (const auto& name : file_->names()) {
      if (name.rfind(prefix, 0) == 0) out.emplace_back(name.substr(prefix.size()), file_->tensor(name));
    }
    return out;
  }

  // `got` equals the fixture's `name` within atol `atol`, rtol 1e-4, compared in the fixture's
  // dtype; a failure reports the largest difference.
  void expect_close(const torch::Tensor& got, const std::string& name, double atol = 1e-5) const {
    ASSERT_TRUE(got.defined()) << name;
    const torch::Tensor want = get(name);
    ASSERT_EQ(got.sizes(), want.sizes()) << name;
    const torch::Tensor g = got.detach().to(want.scalar_type());
    EXPECT_TRUE(torch::allclose(g, want, 1e-4, atol))
        << name << " max diff " << (g.to(torch::kDouble) - want.to(torch::kDouble)).abs().max().item<double>();
  }

 private:
  std::unique_ptr<io::SafetensorsFile> file_;
};

}  // namespace avgzsl::testing
