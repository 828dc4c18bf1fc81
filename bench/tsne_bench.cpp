// Our side of bench/tsne_vs_sklearn.sh (and the measurement behind TsneOptions::exact_limit):
//   avgzsl_tsne_bench run IN ROWS COLS OUT [--exact-limit N] [--perplexity P] [--threads T]
//     t-SNE of IN (raw little-endian float64 [ROWS, COLS]), embedding to OUT ([ROWS, 2] float64);
//     prints "seconds S barnes_hut B kl K threads T" (K: exact KL, or Barnes-Hut's estimate; T:
//     LibTorch's intra-op threads, which default to the physical cores).
//   avgzsl_tsne_bench quality IN ROWS COLS EMBEDDING [--exact-kl] [--perplexity P]
//     prints "trustworthiness T" (k = 5) and, with --exact-kl, "exact_kl K": KL(P || Q) with the
//     exact P of joint_probabilities() and the exact Q, the same for any embedding given.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>

#include <ATen/Parallel.h>

#include "avgzsl/projection/tsne.h"

namespace {

torch::Tensor read_raw(const std::string& path, int64_t rows, int64_t cols) {
  auto t = torch::empty({rows, cols}, torch::kFloat64);
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(t.data_ptr<double>()), static_cast<std::streamsize>(t.numel() * sizeof(double)));
  if (!in) throw std::runtime_error(path + ": expected " + std::to_string(rows) + " x " + std::to_string(cols) + " float64");
  return t;
}

void write_raw(const std::string& path, const torch::Tensor& t) {
  const auto c = t.to(torch::kFloat64).contiguous();
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(c.data_ptr<double>()), static_cast<std::streamsize>(c.numel() * sizeof(double)));
  if (!out) throw std::runtime_error(path + ": cannot write");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 6) {
      std::cerr << "usage: avgzsl_tsne_bench run|quality IN ROWS COLS OUT|EMBEDDING [--exact-limit N] [--exact-kl] "
                   "[--perplexity P] [--threads T]\n";
      return 2;
    }
    const std::string mode = argv[1];
    const auto x = read_raw(argv[2], std::stoll(argv[3]), std::stoll(argv[4]));
    avgzsl::projection::TsneOptions options;
    bool exact_kl = false;
    for (int a = 6; a < argc; ++a) {
      const std::string flag = argv[a];
      if (flag == "--exact-limit" && a + 1 < argc) {
        options.exact_limit = std::stoll(argv[++a]);
      } else if (flag == "--perplexity" && a + 1 < argc) {
        options.perplexity = std::stod(argv[++a]);
      } else if (flag == "--threads" && a + 1 < argc) {
        at::set_num_threads(std::stoi(argv[++a]));
      } else if (flag == "--exact-kl") {
        exact_kl = true;
      } else {
        throw std::invalid_argument("unknown option " + flag);
      }
    }
    if (mode == "run") {
      const auto start = std::chrono::steady_clock::now();
      const auto result = avgzsl::projection::tsne(x, options);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      write_raw(argv[5], result.embedding);
      std::printf("seconds %.3f barnes_hut %d kl %.6f threads %d\n", seconds, result.barnes_hut ? 1 : 0,
                  result.kl_divergence, at::get_num_threads());
    } else if (mode == "quality") {
      const auto embedding = read_raw(argv[5], x.size(0), 2);
      std::printf("trustworthiness %.6f\n", avgzsl::projection::trustworthiness(x, embedding, 5));
      if (exact_kl) {
        const auto p = avgzsl::projection::joint_probabilities(x, options.perplexity);
        std::printf("exact_kl %.6f\n", avgzsl::projection::kl_divergence(p, embedding));
      }
    } else {
      throw std::invalid_argument("unknown mode " + mode + " (run or quality)");
    }
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
