// Tiny random CLAP models written the way users get real ones, for the pipeline and CLI tests:
// a Hugging Face folder (config.json, model.safetensors, RoBERTa vocab.json + merges.txt) and a
// WavCaps folder (checkpoint with WavCaps' tensor names, BERT vocab.txt + config.json).
#pragma once

#include <cstdint>
#include <filesystem>

namespace avgzsl::encoders {
struct HtsatConfig;
}

namespace avgzsl::testing {

// A Hugging Face CLAP folder with random weights: the given audio tower (any size, e.g. HTSAT
// base for benchmarks), a 2x16 RoBERTa text tower and a byte-level vocabulary.
void write_random_hf_clap_dir(const std::filesystem::path& dir, const encoders::HtsatConfig& audio, uint64_t seed = 0);

// HTSAT with embed 4 (stages 4/8/16/32), RoBERTa 2x16, 48 kHz front end; embeddings of 12.
void write_tiny_hf_clap_dir(const std::filesystem::path& dir, uint64_t seed = 0);
// The same sizes in WavCaps' layout (32 kHz front end, BERT 2x16); the checkpoint is written as
// HTSAT_BERT_tiny.safetensors (LibTorch has no torch.save writer), which the loader accepts too.
void write_tiny_wavcaps_dir(const std::filesystem::path& dir, uint64_t seed = 0);

}  // namespace avgzsl::testing
