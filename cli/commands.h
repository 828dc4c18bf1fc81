// The verbs of the avgzsl command line; each file cli/<verb>_command.cpp registers one.
#pragma once

#include <CLI/CLI.hpp>
#include <torch/types.h>

#include <string>

namespace avgzsl::cli {

void add_synth_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_evaluate_command(CLI::App& app);
void add_ablate_command(CLI::App& app);
void add_benchmark_command(CLI::App& app);
void add_import_clipclap_command(CLI::App& app);
void add_export_command(CLI::App& app);
void add_import_checkpoint_command(CLI::App& app);
void add_extract_command(CLI::App& app);
void add_merge_command(CLI::App& app);
void add_embed_classes_command(CLI::App& app);
void add_predict_command(CLI::App& app);
void add_inspect_command(CLI::App& app);
void add_tsne_command(CLI::App& app);
void add_report_command(CLI::App& app);

// "cpu" or "cuda[:N]"; throws std::invalid_argument when malformed or when CUDA is unavailable.
torch::Device parse_device(const std::string& text);

}  // namespace avgzsl::cli
