// t-SNE against scikit-learn 1.2 on the same inputs, run live: each case writes its points,
// runs tests/fixtures/sklearn_tsne.py (sklearn.manifold.TSNE with the same settings, its P from
// _joint_probabilities, sklearn.manifold.trustworthiness of both embeddings) and compares.
// Points travel as raw little-endian float64 in C order, no header (np.fromfile + reshape).
// Without /usr/bin/python3 or sklearn the comparisons skip.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>

#include "avgzsl/data/synthetic.h"
#include "avgzsl/projection/tsne.h"
#include "temp_dir.h"

namespace avgzsl::tsne_test_helpers {

namespace fs = std::filesystem;
using projection::TsneOptions;

void write_raw(const fs::path& path, const torch::Tensor& t) {
  const auto c = t.to(torch::kFloat64).contiguous();
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(c.data_ptr<double>()), static_cast<std::streamsize>(c.numel() * sizeof(double)));
  if (!out) throw std::runtime_error(path.string() + ": cannot write");
}

torch::Tensor read_raw(const fs::path& path, int64_t rows, int64_t cols) {
  auto t = torch::empty({rows, cols}, torch::kFloat64);
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(t.data_ptr<double>()), static_cast<std::streamsize>(t.numel() * sizeof(double)));
  if (!in) throw std::runtime_error(path.string() + ": expected " + std::to_string(t.numel()) + " float64");
  return t;
}

// results.txt of sklearn_tsne.py: "name value" lines.
std::map<std::string, double> read_results(const fs::path& path) {
  std::map<std::string, double> values;
  std::ifstream in(path);
  std::string name, value;
  while (in >> name >> value) {
    try {
      values[name] = std::stod(value);
    } catch (const std::exception&) {  // sklearn_version
    }
  }
  return values;
}

// `n` points in `clusters` Gaussian clusters (unit spread, centres ~N(0, spread^2)) of `dims` dimensions.
torch::Tensor gaussian_clusters(int64_t n, int64_t dims, int64_t clusters, double spread, uint64_t seed) {
  torch::manual_seed(seed);
  const auto centres = torch::randn({clusters, dims}, torch::kFloat64) * spread;
  const auto labels = torch::arange(n) % clusters;
  return centres.index_select(0, labels) + torch::randn({n, dims}, torch::kFloat64);
}

struct Sklearn {
  bool ran = false;
  std::string why_not;
  torch::Tensor embedding, p;           // [N, 2]; [N, N] when asked for
  std::map<std::string, double> values;  // results.txt
};

// Runs sklearn_tsne.py on `x` with our embedding `ours` for its trustworthiness.
Sklearn run_sklearn(const testing::TempDir& dir, const torch::Tensor& x, const torch::Tensor& ours,
                    const std::string& method, bool write_p) {
  Sklearn s;
  if (!fs::exists("/usr/bin/python3")) {
    s.why_not = "/usr/bin/python3 is missing";
    return s;
  }
  write_raw(dir / "x.f64", x);
  write_raw(dir / "ours.f64", ours);
  const std::string command = "/usr/bin/python3 " + std::string(AVGZSL_FIXTURE_DIR) + "/sklearn_tsne.py " +
                              (dir / "x.f64").string() + " " + std::to_string(x.size(0)) + " " +
                              std::to_string(x.size(1)) + " " + dir.path().string() + " --method " + method +
                              " --angle 0.5 --perplexity 30 --ours " + (dir / "ours.f64").string() +
                              (write_p ? " --write-p" : "");
  const int status = std::system(command.c_str());
  if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
    s.why_not = "scikit-learn is not importable by /usr/bin/python3";
    return s;
  }
  if (status != 0) throw std::runtime_error("failed: " + command);
  s.ran = true;
  s.embedding = read_raw(dir / "sklearn_embedding.f64", x.size(0), 2);
  if (write_p) s.p = read_raw(dir / "p.f64", x.size(0), x.size(0));
  s.values = read_results(dir / "results.txt");
  return s;
}

// Every comparison of the exact method on one input (see the assertions' comments).
void compare_exact_with_sklearn(const torch::Tensor& x, const std::string& what) {
  testing::TempDir dir;
  const auto ours = projection::tsne(x);
  ASSERT_FALSE(ours.barnes_hut);
  const auto sk = run_sklearn(dir, x, ours.embedding, "exact", /*write_p=*/true);
  if (!sk.ran) GTEST_SKIP() << sk.why_not;

  // P: the same binary search on the same float32-rounded squared distances.
  const auto p = projection::joint_probabilities(x, 30);
  const double p_error = ((p - sk.p).abs() / sk.p.abs().clamp_min(1e-300)).max().item<double>();
  EXPECT_LT(p_error, 1e-8) << what << ": largest relative difference from sklearn's P";

  // Our kl_divergence() of sklearn's final embedding against the kl_divergence_ it reports:
  // sklearn computes kl_divergence_ at its last gradient evaluation, one update (and float32
  // parameters) before the embedding it returns, so the two differ by that last step (4e-5
  // relative measured on the clusters).
  const double sklearn_kl = projection::kl_divergence(p, sk.embedding);
  EXPECT_NEAR(sklearn_kl, sk.values.at("kl_divergence"), 1e-3 * sk.values.at("kl_divergence")) << what;
  EXPECT_NEAR(ours.kl_divergence, projection::kl_divergence(p, ours.embedding), 1e-12) << what;

  // Quality: our KL within 5% of sklearn's, both exact with the same P; trustworthiness within 0.02.
  EXPECT_LE(ours.kl_divergence, 1.05 * sklearn_kl) << what;
  EXPECT_NEAR(sk.values.at("trustworthiness_ours"), sk.values.at("trustworthiness_sklearn"), 0.02) << what;

  // Our trustworthiness() is sklearn's, on three pairs of arrays.
  EXPECT_NEAR(projection::trustworthiness(x, ours.embedding), sk.values.at("trustworthiness_ours"), 1e-9) << what;
  EXPECT_NEAR(projection::trustworthiness(x, sk.embedding), sk.values.at("trustworthiness_sklearn"), 1e-9) << what;
  EXPECT_NEAR(projection::trustworthiness(ours.embedding, x), sk.values.at("trustworthiness_ours_swapped"), 1e-9)
      << what;
  std::printf("[ %s ] P max relative difference %.1e; KL ours %.5f sklearn %.5f (reported %.5f); trustworthiness "
              "ours %.5f sklearn %.5f\n",
              what.c_str(), p_error, ours.kl_divergence, sklearn_kl, sk.values.at("kl_divergence"),
              sk.values.at("trustworthiness_ours"), sk.values.at("trustworthiness_sklearn"));
}

}  // namespace avgzsl::tsne_test_helpers

namespace avgzsl {
namespace {

using namespace tsne_test_helpers;

TEST(Tsne, GaussianClustersMatchSklearnExact) {
  compare_exact_with_sklearn(gaussian_clusters(360, 20, 6, /*spread=*/4, /*seed=*/1), "6 Gaussian clusters, 360 x 20");
}

// The synthetic-ucf test bed's test-unseen videos, CLIP-like visual features of 512 dimensions.
TEST(Tsne, SyntheticVisualFeaturesMatchSklearnExact) {
  const auto dataset = data::make_synthetic_dataset({});
  const auto& visual = dataset.video_split("stage_2_test_unseen").visual;
  ASSERT_GE(visual.size(0), 200);
  compare_exact_with_sklearn(visual, "synthetic-ucf test-unseen visual, " + std::to_string(visual.size(0)) + " x " +
                                         std::to_string(visual.size(1)));
}

// Barnes-Hut on both sides (theta = angle = 0.5), compared by the exact KL under the exact P and
// by trustworthiness; 1,000 points keep sklearn's single-threaded Barnes-Hut near 10 s.
TEST(Tsne, BarnesHutMatchesSklearnBarnesHut) {
  const auto x = gaussian_clusters(1000, 64, 10, /*spread=*/2, /*seed=*/2);
  TsneOptions options;
  options.exact_limit = 500;
  const auto ours = projection::tsne(x, options);
  ASSERT_TRUE(ours.barnes_hut);
  testing::TempDir dir;
  const auto sk = run_sklearn(dir, x, ours.embedding, "barnes_hut", /*write_p=*/false);
  if (!sk.ran) GTEST_SKIP() << sk.why_not;
  const auto p = projection::joint_probabilities(x, 30);
  const double our_kl = projection::kl_divergence(p, ours.embedding);
  const double sklearn_kl = projection::kl_divergence(p, sk.embedding);
  EXPECT_LE(our_kl, 1.05 * sklearn_kl);
  EXPECT_NEAR(sk.values.at("trustworthiness_ours"), sk.values.at("trustworthiness_sklearn"), 0.02);
  EXPECT_NEAR(projection::trustworthiness(x, ours.embedding), sk.values.at("trustworthiness_ours"), 1e-9);
  // Both Barnes-Hut estimates are of the sparse P's KL: close, not equal (different trees and runs).
  EXPECT_NEAR(ours.kl_divergence, sk.values.at("kl_divergence"), 0.05 * sk.values.at("kl_divergence"));
  std::printf("[ Barnes-Hut 1000 x 64 ] exact KL ours %.5f sklearn %.5f; estimate ours %.5f sklearn %.5f; "
              "trustworthiness ours %.5f sklearn %.5f\n",
              our_kl, sklearn_kl, ours.kl_divergence, sk.values.at("kl_divergence"),
              sk.values.at("trustworthiness_ours"), sk.values.at("trustworthiness_sklearn"));
}

TEST(Tsne, SameSeedSameResult) {
  const auto x = gaussian_clusters(120, 8, 3, 4, 3);
  for (const int64_t exact_limit : {int64_t{1000}, int64_t{10}}) {
    TsneOptions options;
    options.exact_limit = exact_limit;
    options.iterations = 300;
    options.seed = 7;
    const auto a = projection::tsne(x, options);
    const auto b = projection::tsne(x, options);
    EXPECT_TRUE(torch::equal(a.embedding, b.embedding)) << "exact_limit " << exact_limit;
    EXPECT_EQ(a.kl_divergence, b.kl_divergence);
  }
}

// Every sum over points is made in point order after the parallel part, so the thread count
// does not change the result either (the header promises only the same threads).
TEST(Tsne, SameResultWithOneOrTwoThreads) {
  const auto x = gaussian_clusters(150, 8, 3, 4, 8);
  const int threads = at::get_num_threads();
  for (const int64_t exact_limit : {int64_t{1000}, int64_t{10}}) {
    TsneOptions options;
    options.exact_limit = exact_limit;
    options.iterations = 300;
    at::set_num_threads(1);
    const auto one = projection::tsne(x, options);
    at::set_num_threads(2);
    const auto two = projection::tsne(x, options);
    EXPECT_TRUE(torch::equal(one.embedding, two.embedding)) << "exact_limit " << exact_limit;
  }
  at::set_num_threads(threads);
}

TEST(Tsne, ReportsProgressAndTheMethodUsed) {
  const auto x = gaussian_clusters(60, 5, 3, 4, 4);
  TsneOptions options;
  options.perplexity = 10;
  options.iterations = 300;
  int calls = 0, last = 0;
  options.on_iteration = [&](int done, int total) {
    ++calls;
    last = done;
    EXPECT_EQ(total, 300);
  };
  const auto result = projection::tsne(x, options);
  EXPECT_EQ(last, 300);
  EXPECT_EQ(calls, 6);
  EXPECT_EQ(result.embedding.sizes(), (std::vector<int64_t>{60, 2}));
  EXPECT_EQ(result.embedding.scalar_type(), torch::kFloat64);
  EXPECT_TRUE(torch::isfinite(result.embedding).all().item<bool>());
}

TEST(Tsne, RejectsBadInput) {
  const auto x = gaussian_clusters(20, 3, 2, 4, 5);
  auto with_nan = x.clone();
  with_nan[3][1] = std::nan("");
  TsneOptions small;
  small.perplexity = 5;
  EXPECT_THROW(projection::tsne(with_nan, small), std::invalid_argument);
  EXPECT_THROW(projection::tsne(x.slice(0, 0, 1), small), std::invalid_argument);  // one point
  TsneOptions too_perplexed;
  too_perplexed.perplexity = 20;  // sklearn: perplexity must be below N
  EXPECT_THROW(projection::tsne(x, too_perplexed), std::invalid_argument);
  EXPECT_THROW(projection::tsne(x.flatten(), small), std::invalid_argument);           // rank 1
  EXPECT_THROW(projection::tsne(x.unsqueeze(0), small), std::invalid_argument);        // rank 3
  EXPECT_THROW(projection::tsne(torch::Tensor(), small), std::invalid_argument);
  EXPECT_THROW(projection::joint_probabilities(x, 20), std::invalid_argument);
  EXPECT_THROW(projection::trustworthiness(x, x.slice(1, 0, 2), 10), std::invalid_argument);  // k >= N / 2
  EXPECT_THROW(projection::trustworthiness(x, x.slice(0, 0, 10)), std::invalid_argument);     // N differs
  EXPECT_THROW(projection::kl_divergence(torch::zeros({3, 3}), x.slice(1, 0, 2)), std::invalid_argument);
}

TEST(Tsne, JointProbabilitiesAreSymmetricAndSumToOne) {
  const auto p = projection::joint_probabilities(gaussian_clusters(50, 4, 2, 4, 6), 10);
  EXPECT_NEAR(p.sum().item<double>(), 1.0, 1e-9);
  EXPECT_TRUE(torch::allclose(p, p.t()));
  EXPECT_EQ(p.diagonal().abs().sum().item<double>(), 0.0);
}

}  // namespace
}  // namespace avgzsl
