// The verbs of the avgzsl command line; each file cli/<verb>_command.cpp registers one.
#pragma once

#include <CLI/CLI.hpp>

namespace avgzsl::cli {

void add_synth_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_evaluate_command(CLI::App& app);
void add_ablate_command(CLI::App& app);
void add_import_clipclap_command(CLI::App& app);
void add_export_command(CLI::App& app);
void add_import_checkpoint_command(CLI::App& app);
void add_extract_command(CLI::App& app);
void add_merge_command(CLI::App& app);
void add_embed_classes_command(CLI::App& app);

}  // namespace avgzsl::cli
