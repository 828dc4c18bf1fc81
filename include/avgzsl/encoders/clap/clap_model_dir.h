// Where the files of a CLAP model are, for the two families avgzsl loads.
//
// - Hugging Face (`laion/clap-htsat-unfused`, `laion/clap-htsat-fused`, `laion/larger_clap_*`):
//   a folder with `config.json` (model_type "clap"), `model.safetensors` or `pytorch_model.bin`,
//   the RoBERTa tokenizer as `vocab.json` + `merges.txt`, and optionally
//   `preprocessor_config.json` (ClapFeatureExtractor settings).
// - WavCaps HTSAT-BERT (the paper's audio encoder): a folder with the released `torch.save`
//   checkpoint (`HTSAT_BERT_zero_shot.pt`, or any single `*.pt`/`*.pth`/`*.ckpt`, or a
//   `.safetensors` copy with the same tensor names) and BERT's WordPiece
//   `vocab.txt` (bert-base-uncased's); optionally BERT's `config.json` (model_type "bert") for a
//   text tower other than bert-base. The checkpoint path itself may be given instead of the folder.
#pragma once

#include <filesystem>
#include <string>

namespace avgzsl::encoders {

enum class ClapFamily { kHuggingFace, kWavCaps };

struct ClapModelFiles {
  ClapFamily family = ClapFamily::kHuggingFace;
  std::filesystem::path dir;
  std::filesystem::path weights;              // model.safetensors | pytorch_model.bin | the .pt checkpoint
  std::filesystem::path config;               // HF: config.json; WavCaps: BERT's config.json or empty
  std::filesystem::path preprocessor_config;  // HF only, empty when absent
  std::filesystem::path vocab;                // HF: vocab.json; WavCaps: vocab.txt
  std::filesystem::path merges;               // HF: merges.txt; WavCaps: empty
};

// Finds the files; throws std::runtime_error naming the folder and what is missing or ambiguous.
ClapModelFiles locate_clap_model(const std::filesystem::path& dir_or_checkpoint);

std::string to_string(ClapFamily family);

}  // namespace avgzsl::encoders
