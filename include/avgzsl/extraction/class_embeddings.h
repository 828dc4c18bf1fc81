// `avgzsl embed-classes` and `avgzsl merge` as library calls: class-text embeddings of any class
// names by prompt ensembling (METHOD §2), and the join of an extract job's shards.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "avgzsl/extraction/feature_store.h"

namespace avgzsl::extraction {

struct EmbedClassesOptions {
  std::vector<std::string> names;       // as the text encoders should read them
  std::filesystem::path clip;           // Hugging Face CLIP folder (the visual half); may be empty
  std::filesystem::path clap;           // CLAP folder or WavCaps checkpoint (the audio half); may be empty
  std::string templates = "ucf";        // built-in set or file
  std::string audio_templates;          // CLAP prompts; empty: the audio prompts of `templates`
  // .safetensors (tensors "clip" [C, E] and/or "clap" [C, E'], names and template sources in the
  // metadata) or .npy (the reference's {name: vector} dict; one encoder only). Written atomically.
  std::filesystem::path out;
};

// One written half of the class vector.
struct EmbeddedHalf {
  std::string key;  // "clip" or "clap"
  int64_t classes = 0, dim = 0;
  size_t templates = 0;
  std::string template_source;
};

// Throws std::invalid_argument for options that cannot work (no encoder, an unknown output
// extension, two encoders into one .npy), std::runtime_error for unreadable models.
std::vector<EmbeddedHalf> embed_classes(const EmbedClassesOptions& options);

// Joins the feature stores of every shard of one extract job (the --out folders of K/N for
// K = 1..N) into a native dataset at `out`, with the split plan of `splits` (empty: automatic).
AssemblyReport merge_shards(const std::vector<std::filesystem::path>& stores, const std::filesystem::path& splits,
                            const std::filesystem::path& out, bool replace_existing);

}  // namespace avgzsl::extraction
